package local

import "sync"

// keyLocks serialises work on one volume, snapshot or image base.
type keyLocks struct {
	mu    sync.Mutex
	locks map[string]*keyLock
}

type keyLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes key's lock and returns its release.
func (k *keyLocks) lock(key string) func() {
	release, _ := k.acquire(key, false)
	return release
}

// tryLock takes key's lock only if it is free.
func (k *keyLocks) tryLock(key string) (func(), bool) { return k.acquire(key, true) }

func (k *keyLocks) acquire(key string, try bool) (func(), bool) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyLock{}
		k.locks[key] = l
	}
	l.refs++
	k.mu.Unlock()
	unref := func() {
		k.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
	if try {
		if !l.mu.TryLock() {
			unref()
			return func() {}, false
		}
	} else {
		l.mu.Lock()
	}
	return func() { l.mu.Unlock(); unref() }, true
}
