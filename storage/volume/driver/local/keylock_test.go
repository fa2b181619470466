package local

import "testing"

func TestKeyLocks(t *testing.T) {
	var k keyLocks
	release := k.lock("a")
	if _, ok := k.tryLock("a"); ok {
		t.Fatal("tryLock took a held lock")
	}
	rb, ok := k.tryLock("b")
	if !ok {
		t.Fatal("tryLock did not take a free lock")
	}
	rb()
	release()
	ra, ok := k.tryLock("a")
	if !ok {
		t.Fatal("tryLock did not take a released lock")
	}
	ra()
	if len(k.locks) != 0 {
		t.Fatalf("%d lock entries left after every release", len(k.locks))
	}
}
