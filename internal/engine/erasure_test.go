package engine_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// readsWork fails the test unless every read path of the tenant answers:
// unfiltered list, and search in each mode.
func readsWork(t *testing.T, ctx context.Context, e *engine.Engine) {
	t.Helper()
	if _, err := e.List(ctx, engram.ListRequest{}); err != nil {
		t.Errorf("list: %v", err)
	}
	for _, mode := range []string{engram.SearchHybrid, engram.SearchBM25, engram.SearchVector} {
		if _, err := e.Search(ctx, engram.SearchRequest{Query: "flight erasure first", Mode: mode}); err != nil {
			t.Errorf("search %s: %v", mode, err)
		}
	}
}

// TestEraseDuringAdd injects the interleaving the concurrent load test
// found: a write fetches alice's key, alice is erased, another write
// creates her a fresh key (the same version number, 1), and only then does
// the first write commit. Its transaction used to find "version 1 of
// alice's key" and commit text sealed under the destroyed key: acknowledged,
// and unreadable forever, and every list and search of the tenant failed.
func TestEraseDuringAdd(t *testing.T) {
	e, _ := testserver.NewEngine(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	nt, ctx := owner(t, e)
	alice := engram.Scope{UserID: "alice"}
	if _, err := e.Add(ctx, engram.AddRequest{Scope: alice, Content: "first"}); err != nil {
		t.Fatal(err)
	}
	// Loaded indexes, so that the write's index updates are exercised too.
	readsWork(t, ctx, e)

	var fired atomic.Bool
	var later []engram.AddResult
	engine.SetWriteHook(e, func() {
		if !fired.CompareAndSwap(false, true) {
			return
		}
		if _, err := e.ForgetUser(ctx, "alice"); err != nil {
			t.Errorf("forget: %v", err)
		}
		var err error
		if later, err = e.Add(ctx, engram.AddRequest{Scope: alice, Content: "added after the erasure"}); err != nil {
			t.Errorf("add after the erasure: %v", err)
		}
	})
	res, err := e.Add(ctx, engram.AddRequest{Scope: alice, Content: "in flight"})
	if !fired.Load() {
		t.Fatal("the hook never ran")
	}
	engine.SetWriteHook(e, nil)
	switch {
	case err != nil && engram.ErrorCode(err) != engram.CodeConflict:
		t.Fatalf("the write that lost the race failed with %v, want a conflict or a success", err)
	case err == nil:
		// Acknowledged, so it must read back.
		m, err := e.Get(ctx, res[0].ID)
		if err != nil {
			t.Fatalf("the acknowledged write does not read back: %v", err)
		}
		if m.Content != "in flight" {
			t.Fatalf("read back %q", m.Content)
		}
	}
	if len(later) == 1 {
		if _, err := e.Get(ctx, later[0].ID); err != nil {
			t.Errorf("the write after the erasure does not read back: %v", err)
		}
	}
	readsWork(t, ctx, e)
	engine.DropVectorIndex(e, nt.Tenant.ID)
	engine.DropKeywordIndex(e, nt.Tenant.ID)
	readsWork(t, ctx, e)
}
