package bus

import (
	"context"
	"errors"
	"fmt"
)

// Error codes carried by Error across the bus; callers map them to their
// own typed errors and HTTP statuses.
const (
	// CodeNotFound means the addressed resource does not exist.
	CodeNotFound = "not_found"
	// CodeConflict means the request conflicts with the resource's state.
	CodeConflict = "conflict"
	// CodeBadRequest means the request was malformed or invalid.
	CodeBadRequest = "bad_request"
	// CodeQuotaExceeded means the request would exceed a quota.
	CodeQuotaExceeded = "quota_exceeded"
	// CodeUnavailable means no service answered on the subject.
	CodeUnavailable = "unavailable"
	// CodeTimeout means the handler ran out of time.
	CodeTimeout = "timeout"
	// CodeInternal means the handler failed for any other reason.
	CodeInternal = "internal"
)

// Error is a structured error that crosses the bus in a reply envelope so a
// remote failure keeps its code; recover it with errors.As.
type Error struct {
	// Code is one of the Code* constants.
	Code string `json:"code"`
	// Message is a human-readable explanation, safe to show to the caller.
	Message string `json:"message"`
}

// Error returns "code: message".
func (e *Error) Error() string {
	return e.Code + ": " + e.Message
}

// Unwrap makes a remote CodeTimeout match context.DeadlineExceeded, so
// callers test for a missed deadline the same way whichever side noticed it.
func (e *Error) Unwrap() error {
	if e.Code == CodeTimeout {
		return context.DeadlineExceeded
	}
	return nil
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or "" if
// there is none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// HasCode reports whether err's chain holds an *Error with the given code.
func HasCode(err error, code string) bool {
	return err != nil && ErrorCode(err) == code
}
