package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestWithDeadlineDetachesACancelledConnection: a request that arrives
// with its context already done (its connection's context was cancelled
// by an earlier read error) runs with a live context under the deadline,
// and its connection is closed after the answer.
func TestWithDeadlineDetachesACancelledConnection(t *testing.T) {
	for _, d := range []time.Duration{0, time.Minute} {
		var seen error
		var hasDeadline bool
		h := withDeadline(d, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seen = r.Context().Err()
			_, hasDeadline = r.Context().Deadline()
		}))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/memories", nil).WithContext(ctx))
		if seen != nil {
			t.Fatalf("d=%v: the handler got a done context: %v", d, seen)
		}
		if hasDeadline != (d > 0) {
			t.Fatalf("d=%v: deadline set %v", d, hasDeadline)
		}
		if rec.Header().Get("Connection") != "close" {
			t.Fatalf("d=%v: the connection is kept: %q", d, rec.Header().Get("Connection"))
		}
		// A live request keeps its context and its connection.
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/memories", nil))
		if rec.Header().Get("Connection") != "" {
			t.Fatalf("d=%v: a live request's connection is closed", d)
		}
	}
}
