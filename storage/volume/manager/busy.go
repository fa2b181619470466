package manager

import (
	"context"
	"sync"
	"time"
)

// busy is the set of volumes and snapshots an operation is running on in
// this manager, so that the periodic reconcile never runs an operation
// next to the consumer's (or the consumer next to it).
type busy struct {
	mu  sync.Mutex
	ids map[string]bool
}

// try marks key busy, or reports false if it is already.
func (b *busy) try(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ids == nil {
		b.ids = map[string]bool{}
	}
	if b.ids[key] {
		return false
	}
	b.ids[key] = true
	return true
}

// wait marks key busy once it is free, or fails when ctx ends.
func (b *busy) wait(ctx context.Context, key string) error {
	for !b.try(key) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// done marks key free.
func (b *busy) done(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.ids, key)
}
