package engram

import (
	"errors"
	"fmt"
	"time"
)

// Error codes clients can branch on. They are stable: renaming one breaks
// clients.
const (
	CodeInvalid         = "invalid"
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeConflict        = "conflict"
	CodeTooLarge        = "too_large"
	CodeRateLimited     = "rate_limited"
	CodeUnavailable     = "unavailable"
	CodeInternal        = "internal"
	// CodeOverloaded: the server already works on its maximum of requests
	// at once and refused this one without starting it (HTTP 503 with
	// Retry-After); retrying later is safe.
	CodeOverloaded = "overloaded"
	// CodeNotImplemented answers a mem0 endpoint Engram does not serve.
	CodeNotImplemented = "not_implemented"
	// CodeUnreadable: the record exists but can never be decrypted again
	// (its key was destroyed, or it is damaged). HTTP 404, like not_found:
	// the memory is gone for every reader.
	CodeUnreadable = "unreadable"

	// CodeInsufficientStorage: the server is out of disk space, or below
	// its free-space floor, and refuses to store more; reads still work.
	CodeInsufficientStorage = "insufficient_storage"
)

// Error is an error a client may see. Message is safe to show: it never
// holds content, secrets or internal details.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, CodeInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the client-safe message of err: the *Error's message,
// or "internal error" for anything else.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// RetryLater is an error the client should retry after a wait (HTTP 429
// or 503 with Retry-After). Its code and message are Err's.
type RetryLater struct {
	Err   *Error
	After time.Duration
}

func (r *RetryLater) Error() string { return r.Err.Error() }

// Unwrap lets ErrorCode and ErrorMessage find Err.
func (r *RetryLater) Unwrap() error { return r.Err }
