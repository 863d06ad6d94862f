package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestDeletionREST walks deletion with a grace period through the API:
// an account asks, is read-only, cancels, asks again and is erased by
// the sweep; an end user's deletion is scheduled with ?grace=, refuses
// writes, exports, is cancelled, and DELETE without grace still erases
// at once.
func TestDeletionREST(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	owner := nt.Key.Secret
	member, _ := inviteAndSignIn(t, s, owner, "m@example.com", "member", memberPassword)
	write := `{"messages":[{"role":"user","content":"I prefer green tea"}]}`

	resp, body := req(t, s, member.AccessToken, "POST", "/v1/memories", write)
	wantStatus(t, resp, body, http.StatusCreated, "")
	resp, body = req(t, s, member.AccessToken, "DELETE", "/v1/me", "")
	wantStatus(t, resp, body, http.StatusAccepted, "")
	d := decode[engram.Deletion](t, body)
	if d.State != engram.DeletionPending || d.Kind != engram.DeletionAccount ||
		!d.ScheduledFor.Equal(s.Clock.Now().Add(168*time.Hour).UTC().Truncate(time.Microsecond)) {
		t.Fatalf("deletion %s", body)
	}
	resp, body = req(t, s, member.AccessToken, "DELETE", "/v1/me", "")
	wantStatus(t, resp, body, http.StatusConflict, engram.CodeDeletionPending)
	resp, body = req(t, s, member.AccessToken, "POST", "/v1/memories", write)
	wantStatus(t, resp, body, http.StatusConflict, engram.CodeDeletionPending)
	resp, body = req(t, s, member.AccessToken, "PATCH", "/v1/me", `{"name":"x"}`)
	wantStatus(t, resp, body, http.StatusConflict, engram.CodeDeletionPending)
	resp, body = req(t, s, member.AccessToken, "GET", "/v1/memories", "")
	wantStatus(t, resp, body, http.StatusOK, "")
	resp, body = req(t, s, member.AccessToken, "GET", "/v1/me/export", "")
	wantStatus(t, resp, body, http.StatusOK, "")
	resp, body = req(t, s, member.AccessToken, "GET", "/v1/me", "")
	wantStatus(t, resp, body, http.StatusOK, "")
	if me := decode[engram.Me](t, body); me.DeletionScheduledFor == nil || !me.DeletionScheduledFor.Equal(d.ScheduledFor) {
		t.Fatalf("me while pending: %s", body)
	}
	resp, body = req(t, s, owner, "GET", "/v1/deletions", "")
	wantStatus(t, resp, body, http.StatusOK, "")
	if l := decode[struct{ Results []engram.Deletion }](t, body); len(l.Results) != 1 || l.Results[0].ID != d.ID {
		t.Fatalf("pending deletions %s", body)
	}
	resp, body = req(t, s, member.AccessToken, "POST", "/v1/me/deletion/cancel", "")
	wantStatus(t, resp, body, http.StatusNoContent, "")
	resp, body = req(t, s, member.AccessToken, "POST", "/v1/memories", `{"messages":[{"role":"user","content":"I also like coffee"}]}`)
	wantStatus(t, resp, body, http.StatusCreated, "")
	resp, body = req(t, s, member.AccessToken, "GET", "/v1/me", "")
	if wantStatus(t, resp, body, http.StatusOK, ""); decode[engram.Me](t, body).DeletionScheduledFor != nil {
		t.Fatalf("me after cancel: %s", body)
	}

	// The operator-made owner is the only owner, and a key besides.
	resp, body = req(t, s, owner, "DELETE", "/v1/me", "")
	wantStatus(t, resp, body, http.StatusForbidden, engram.CodeForbidden)

	// Again, to the end of the grace.
	resp, body = req(t, s, member.AccessToken, "DELETE", "/v1/me", "")
	wantStatus(t, resp, body, http.StatusAccepted, "")
	s.Clock.Advance(168 * time.Hour)
	if err := s.Engine.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	resp, body = req(t, s, member.AccessToken, "GET", "/v1/me", "")
	wantStatus(t, resp, body, http.StatusUnauthorized, engram.CodeUnauthenticated)
	resp, body = req(t, s, owner, "GET", "/v1/audit?action=account.deletion.complete", "")
	wantStatus(t, resp, body, http.StatusOK, "")
	var page struct{ Results []engram.AuditRecord }
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page.Results) != 1 {
		t.Fatalf("completion entries %s", body)
	}
	if r := page.Results[0]; r.Detail == nil || r.Detail.Counts["memories"] != 2 || r.Detail.Counts["accounts"] != 1 {
		t.Fatalf("compliance record %s", body)
	}

	// An end user.
	resp, body = req(t, s, owner, "POST", "/v1/memories", `{"messages":[{"role":"user","content":"likes jazz"}],"user_id":"u1"}`)
	wantStatus(t, resp, body, http.StatusCreated, "")
	resp, body = req(t, s, owner, "DELETE", "/v1/users/u1?grace=1s", "")
	wantStatus(t, resp, body, http.StatusBadRequest, engram.CodeInvalid)
	resp, body = req(t, s, owner, "DELETE", "/v1/users/u1?grace=soon", "")
	wantStatus(t, resp, body, http.StatusBadRequest, engram.CodeInvalid)
	resp, body = req(t, s, owner, "DELETE", "/v1/users/u1?grace=24h", "")
	wantStatus(t, resp, body, http.StatusAccepted, "")
	if d := decode[engram.Deletion](t, body); d.Kind != engram.DeletionUser || d.Subject != "u1" {
		t.Fatalf("user deletion %s", body)
	}
	resp, body = req(t, s, owner, "POST", "/v1/memories", `{"messages":[{"role":"user","content":"more"}],"user_id":"u1"}`)
	wantStatus(t, resp, body, http.StatusConflict, engram.CodeDeletionPending)
	resp, body = req(t, s, owner, "GET", "/v1/users/u1/export?format=json", "")
	wantStatus(t, resp, body, http.StatusOK, "")
	resp, body = req(t, s, owner, "POST", "/v1/users/u1/deletion/cancel", "")
	wantStatus(t, resp, body, http.StatusNoContent, "")
	resp, body = req(t, s, owner, "POST", "/v1/users/u1/deletion/cancel", "")
	wantStatus(t, resp, body, http.StatusNotFound, engram.CodeNotFound)
	// Without grace: erased at once, as before.
	resp, body = req(t, s, owner, "DELETE", "/v1/users/u1", "")
	wantStatus(t, resp, body, http.StatusOK, "")
	if er := decode[engram.Erasure](t, body); er.Memories != 1 || er.UserID != "u1" {
		t.Fatalf("erasure %s", body)
	}

	// The Go client (engram.DeletionService over REST).
	c := s.Client(owner)
	cd, err := c.ScheduleUserDeletion(ctx, "u2", 2*time.Hour)
	if err != nil || cd.Kind != engram.DeletionUser || cd.Subject != "u2" {
		t.Fatalf("client schedule: %+v %v", cd, err)
	}
	if ds, err := c.ListDeletions(ctx); err != nil || len(ds) != 1 || ds[0].ID != cd.ID {
		t.Fatalf("client list: %+v %v", ds, err)
	}
	if err := c.CancelUserDeletion(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteMe(ctx); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Fatalf("client DeleteMe with a key: %v", err)
	}
}
