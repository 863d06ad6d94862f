package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/engram-memory/engram"
)

// withDeadline gives every request a context deadline d after its handler
// starts. The server's WriteTimeout must exceed d by a margin (serve adds
// 10 s): a request still working at its deadline fails (the store does not
// commit once the context is done) and its 503 is still delivered, instead
// of committing after the connection was dropped and leaving the client
// unable to tell whether it happened.
func withDeadline(d time.Duration, next http.Handler) http.Handler {
	if d <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// errTimedOut is what a client sees when its request outlasted the
// request timeout, or it went away: nothing after the deadline committed.
var errTimedOut = &engram.Error{Code: engram.CodeUnavailable,
	Message: "the request did not finish in time and was not carried out; try again"}

// timedOut maps an internal error caused by the request's context ending
// to errTimedOut.
func timedOut(err error) error {
	if engram.ErrorCode(err) == engram.CodeInternal &&
		(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return errTimedOut
	}
	return err
}
