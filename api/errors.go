package api

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind classifies a domain error; the dialect decides how each kind looks on
// the wire.
type Kind int

// The kinds of error a handler may return.
const (
	KindInternal Kind = iota
	KindBadRequest
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindMethodNotAllowed
	KindNotAcceptable
	KindConflict
	KindTooLarge
	KindUnsupportedMediaType
	KindQuotaExceeded
	KindNotImplemented
	KindUnavailable
)

// Error is a typed domain error. Type optionally names the error the way
// Neutron does ("NetworkNotFound") or Placement does
// ("placement.inventory.inuse"); Err is the cause, logged but never shown.
// RequestID, when set, is shown by dialects whose bodies carry it
// (Placement).
type Error struct {
	Kind      Kind
	Message   string
	Type      string
	Err       error
	RequestID string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func newError(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is a 400 error.
func BadRequest(format string, args ...any) *Error { return newError(KindBadRequest, format, args...) }

// Unauthorized is a 401 error.
func Unauthorized(format string, args ...any) *Error {
	return newError(KindUnauthorized, format, args...)
}

// Forbidden is a 403 error.
func Forbidden(format string, args ...any) *Error { return newError(KindForbidden, format, args...) }

// NotFound is a 404 error.
func NotFound(format string, args ...any) *Error { return newError(KindNotFound, format, args...) }

// Conflict is a 409 error.
func Conflict(format string, args ...any) *Error { return newError(KindConflict, format, args...) }

// TooLarge is a 413 error for an oversized request.
func TooLarge(format string, args ...any) *Error { return newError(KindTooLarge, format, args...) }

// QuotaExceeded is an over-quota error; its status depends on the dialect.
func QuotaExceeded(format string, args ...any) *Error {
	return newError(KindQuotaExceeded, format, args...)
}

// NotAcceptable is a 406 error (for example an unsupported microversion).
func NotAcceptable(format string, args ...any) *Error {
	return newError(KindNotAcceptable, format, args...)
}

// NotImplemented is a 501 error.
func NotImplemented(format string, args ...any) *Error {
	return newError(KindNotImplemented, format, args...)
}

// Unavailable is a 503 error.
func Unavailable(format string, args ...any) *Error {
	return newError(KindUnavailable, format, args...)
}

// Internal wraps an unexpected error as a 500 whose cause is logged, not shown.
func Internal(err error) *Error {
	return &Error{Kind: KindInternal, Message: "An unexpected error prevented the server from fulfilling your request.", Err: err}
}

// WithType sets the Neutron-style error type name and returns the error.
func (e *Error) WithType(t string) *Error { e.Type = t; return e }

// asError turns any error into an *Error; unknown errors become internal.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// Status is the HTTP status of a kind in the given dialect.
func (d Dialect) Status(k Kind) int {
	switch k {
	case KindBadRequest:
		return http.StatusBadRequest
	case KindUnauthorized:
		return http.StatusUnauthorized
	case KindForbidden:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case KindNotAcceptable:
		return http.StatusNotAcceptable
	case KindConflict:
		return http.StatusConflict
	case KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindUnsupportedMediaType:
		return http.StatusUnsupportedMediaType
	case KindQuotaExceeded:
		switch d {
		case DialectNova, DialectKeystone:
			return http.StatusForbidden
		case DialectNeutron:
			return http.StatusConflict
		default:
			return http.StatusRequestEntityTooLarge
		}
	case KindNotImplemented:
		return http.StatusNotImplemented
	case KindUnavailable:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
