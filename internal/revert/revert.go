// Package revert owns undo stacks for multi-step work: each step that changes
// the world registers how to undo itself, and on failure the undos run in
// reverse order. It knows nothing about what the steps do.
package revert

import (
	"context"
	"errors"
)

// Stack is an undo stack. The zero value is not usable; call New.
type Stack struct {
	undos []func(context.Context) error
	done  bool
}

// New returns an empty undo stack.
func New() *Stack { return &Stack{} }

// Add registers the undo of a step that has just succeeded.
func (s *Stack) Add(undo func(context.Context) error) { s.undos = append(s.undos, undo) }

// Clone returns a new stack holding the same undos, for keeping the undo of
// successful start-up work as the shutdown sequence.
func (s *Stack) Clone() *Stack {
	return &Stack{undos: append([]func(context.Context) error(nil), s.undos...)}
}

// Success marks the work as complete so that Fail does nothing.
func (s *Stack) Success() { s.done = true }

// Fail runs the registered undos in reverse order unless Success was called,
// and returns their joined errors. It is meant to be deferred.
func (s *Stack) Fail(ctx context.Context) error {
	if s.done {
		return nil
	}
	s.done = true
	var errs []error
	for i := len(s.undos) - 1; i >= 0; i-- {
		if err := s.undos[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
