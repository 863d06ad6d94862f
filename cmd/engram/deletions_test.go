package main_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	root "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestDeletionsListCLI: the operator lists a tenant's pending deletions
// offline; serve refuses a grace period out of bounds before it starts.
func TestDeletionsListCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mustEngram(t, nil, "tenants", "create", "acme", "--data", data)
	e := testserver.OpenEngine(t, data, time.Now)
	nt, err := e.CreateTenant(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(context.Background(), nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.ScheduleUserDeletion(root.WithPrincipal(context.Background(), p), "alice", 48*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Results []root.Deletion }
	if err := json.Unmarshal([]byte(mustEngram(t, nil, "deletions", "list", "--tenant", "other", "--data", data)), &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 1 || out.Results[0].ID != d.ID || out.Results[0].Subject != "alice" || out.Results[0].Kind != root.DeletionUser {
		t.Fatalf("listed %+v", out)
	}
	if err := json.Unmarshal([]byte(mustEngram(t, nil, "deletions", "list", "--tenant", "acme", "--data", data)), &out); err != nil || len(out.Results) != 0 {
		t.Fatalf("acme: %+v %v", out, err)
	}
	for _, g := range []string{"0s", "30s", "8761h"} {
		if _, errOut, err := engram(t, nil, "serve", "--deletion-grace", g, "--data", data, "--addr", "127.0.0.1:0"); err == nil || !strings.Contains(errOut, "--deletion-grace") {
			t.Errorf("serve --deletion-grace %s: %v %q", g, err, errOut)
		}
	}
}
