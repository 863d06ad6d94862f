package mem0api_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestExpirationDate: mem0's expiration_date is kept on add and update,
// answered as mem0 sends it (a date stays a date), hides the memory once
// passed, and a malformed one is 400 invalid.
func TestExpirationDate(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t)
	key := tenantKey(t, s, "acme")
	day := s.Clock.Now().UTC().AddDate(0, 0, 3).Format(time.DateOnly)
	code, body := call(t, s, key, http.MethodPost, "/v3/memories/add/", map[string]any{"messages": "gym pass valid this week", "user_id": "alice", "expiration_date": day})
	var added struct{ Results []struct{ ID string } }
	want(t, code, body, http.StatusOK, &added)
	if len(added.Results) != 1 {
		t.Fatalf("add: %s", body)
	}
	id := added.Results[0].ID
	var m struct {
		ExpirationDate *string `json:"expiration_date"`
	}
	code, body = call(t, s, key, http.MethodGet, "/v1/memories/"+id+"/", nil)
	want(t, code, body, http.StatusOK, &m)
	if m.ExpirationDate == nil || *m.ExpirationDate != day {
		t.Fatalf("get: %s (want expiration_date %s)", body, day)
	}
	// Update moves it; once passed the memory is gone.
	soon := s.Clock.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	code, body = call(t, s, key, http.MethodPut, "/v1/memories/"+id+"/", map[string]any{"expiration_date": soon})
	want(t, code, body, http.StatusOK, &m)
	if m.ExpirationDate == nil || *m.ExpirationDate != soon {
		t.Fatalf("update: %s (want %s)", body, soon)
	}
	s.Clock.Advance(2 * time.Minute)
	code, body = call(t, s, key, http.MethodGet, "/v1/memories/"+id+"/", nil)
	wantProblem(t, code, body, http.StatusNotFound, engram.CodeNotFound)

	for _, bad := range []string{"next week", "2026-02-30"} {
		code, body = call(t, s, key, http.MethodPost, "/v3/memories/add/", map[string]any{"messages": "x", "user_id": "alice", "expiration_date": bad})
		wantProblem(t, code, body, http.StatusBadRequest, engram.CodeInvalid)
	}
}
