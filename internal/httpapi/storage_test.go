package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/diskspace"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestBelowFreeSpaceFloor: with the disk below the free-space floor (an
// injected reading), new content answers 507 insufficient_storage while
// reads, search, deletion, erasure and the audit entries of all of them
// keep working, and /healthz says "degraded" (still 200). Once space is
// back, writes work again. Before the floor existed a full disk answered
// 500 to everything while /healthz said ok.
func TestBelowFreeSpaceFloor(t *testing.T) {
	var free atomic.Uint64
	free.Store(10 << 30)
	guard := &diskspace.Guard{Floor: diskspace.Floor{Bytes: 1 << 30}, Interval: -1,
		Free: func(string) (diskspace.Space, error) {
			return diskspace.Space{Avail: free.Load(), Total: 100 << 30}, nil
		}}
	s := testserver.StartWith(t, testserver.Options{Storage: guard})
	c := s.Tenant(t, "acme")
	ctx := context.Background()

	kept, err := c.Add(ctx, client.AddRequest{Content: "the blue notebook is in the drawer", UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	doomed, err := c.Add(ctx, client.AddRequest{Content: "the red notebook is on the shelf", UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Add(ctx, client.AddRequest{Content: "bob's note", UserID: "bob"}); err != nil {
		t.Fatal(err)
	}
	if h, err := c.Health(ctx); err != nil || h["status"] != "ok" || h["storage"] != "ok" {
		t.Fatalf("healthz above the floor: %v %v", h, err)
	}

	free.Store(512 << 20) // below the 1 GiB floor
	full := func(what string, err error) {
		t.Helper()
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusInsufficientStorage || ce.Code != "insufficient_storage" {
			t.Fatalf("%s below the floor: %v", what, err)
		}
	}
	_, err = c.Add(ctx, client.AddRequest{Content: "a new note", UserID: "alice"})
	full("add", err)
	_, err = c.Update(ctx, kept[0].ID, "changed text", nil)
	full("update", err)

	if m, err := c.Get(ctx, kept[0].ID); err != nil || m.Content != "the blue notebook is in the drawer" {
		t.Fatalf("get below the floor: %+v %v", m, err)
	}
	if hits, err := c.Search(ctx, client.SearchRequest{Query: "notebook", UserID: "alice"}); err != nil || len(hits) != 2 {
		t.Fatalf("search below the floor: %d hits, %v", len(hits), err)
	}
	if err := c.Delete(ctx, doomed[0].ID); err != nil {
		t.Fatalf("delete below the floor: %v", err)
	}
	if _, err := c.ForgetUser(ctx, "bob"); err != nil {
		t.Fatalf("erasure below the floor: %v", err)
	}
	h, err := c.Health(ctx)
	if err != nil || h["status"] != "degraded" || h["storage"] != "low" {
		t.Fatalf("healthz below the floor: %v %v", h, err)
	}

	// Every refusal and every read was recorded.
	page, err := c.Audit(ctx, engram.AuditQuery{Outcome: engram.OutcomeFailure, Limit: 100})
	if err != nil {
		t.Fatalf("audit below the floor: %v", err)
	}
	refused := 0
	for _, e := range page.Entries {
		if e.Reason == "insufficient_storage" {
			refused++
		}
	}
	if refused != 2 {
		t.Fatalf("%d refusals in the audit trail, want 2", refused)
	}

	free.Store(2 << 30)
	if _, err := c.Add(ctx, client.AddRequest{Content: "a new note", UserID: "alice"}); err != nil {
		t.Fatalf("add with room again: %v", err)
	}
}
