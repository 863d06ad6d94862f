package engine_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
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
	engine.SetWriteHook(e, func(stage string) {
		if stage != "key" || !fired.CompareAndSwap(false, true) {
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

// plantUnreadable damages the tenant's records behind the engine's back,
// as the race above used to: alice's subject key is destroyed with her
// memories left behind, and one of bob's memories gets carol's sealed
// content (it no longer authenticates where it is).
func plantUnreadable(t *testing.T, dir, bobID, carolID string) {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "engram.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DELETE FROM wrapped_keys WHERE purpose = 'subject' AND owner = 'u:alice'`, nil},
		{`UPDATE memories SET content = (SELECT content FROM memories WHERE id = ?) WHERE id = ?`, []any{carolID, bobID}},
	} {
		if res, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatal(err)
		} else if n, _ := res.RowsAffected(); n == 0 {
			t.Fatalf("%s changed nothing", q.sql)
		}
	}
}

// TestUnreadableRecordsAreSkipped: records that no longer open (their key
// destroyed, or their envelope damaged) must not take down the tenant's
// reads. After a restart (fresh key cache, indexes loaded from the store)
// GET of the others, list, history and every search mode still answer;
// GET of a broken one is 404 unreadable; the broken ones are counted;
// and their owner can delete them.
func TestUnreadableRecordsAreSkipped(t *testing.T) {
	dir := t.TempDir()
	emb := engine.WithEmbedder(embedtest.New(16), 1<<20)
	e := testserver.OpenEngine(t, dir, nil, emb)
	_, ctx := owner(t, e)
	add := func(user, text string) string {
		t.Helper()
		res, err := e.Add(ctx, engram.AddRequest{Scope: engram.Scope{UserID: user}, Content: text, Metadata: map[string]any{"n": 1}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].ID
	}
	alice := add("alice", "alice likes green tea")
	add("alice", "alice walks her dog")
	bobBad := add("bob", "bob likes black tea")
	bobGood := add("bob", "bob plays chess")
	carol := add("carol", "carol drinks tea at noon")
	plantUnreadable(t, dir, bobBad, carol)

	// A restart: a fresh key cache, and indexes loaded from the store.
	// The principal in ctx is the same tenant's owner.
	e = testserver.OpenEngine(t, dir, nil, emb)
	for _, id := range []string{alice, bobBad} {
		if _, err := e.Get(ctx, id); engram.ErrorCode(err) != engram.CodeUnreadable {
			t.Errorf("GET of a broken memory: %v, want %s", err, engram.CodeUnreadable)
		}
	}
	for _, id := range []string{bobGood, carol} {
		if _, err := e.Get(ctx, id); err != nil {
			t.Errorf("GET of an intact memory: %v", err)
		}
	}
	list, err := e.List(ctx, engram.ListRequest{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if got := ids(list.Memories); !sameSet(got, []string{bobGood, carol}) {
		t.Errorf("list returned %v, want the two intact memories %v", got, []string{bobGood, carol})
	}
	for _, mode := range []string{engram.SearchHybrid, engram.SearchBM25, engram.SearchVector} {
		hits, err := e.Search(ctx, engram.SearchRequest{Query: "tea", Mode: mode})
		if err != nil {
			t.Errorf("search %s: %v", mode, err)
			continue
		}
		for _, h := range hits {
			if h.ID == alice || h.ID == bobBad {
				t.Errorf("search %s returned a broken memory", mode)
			}
		}
		if mode != engram.SearchVector && len(hits) == 0 {
			t.Errorf("search %s found nothing", mode)
		}
	}
	if _, err := e.History(ctx, bobBad); err != nil {
		t.Errorf("history of a broken memory: %v", err)
	}
	if _, err := e.Update(ctx, bobBad, engram.UpdateRequest{Content: "bob likes tea"}); engram.ErrorCode(err) != engram.CodeUnreadable {
		t.Errorf("update of a broken memory: %v, want %s", err, engram.CodeUnreadable)
	}
	if n := e.Unreadable(); n == 0 {
		t.Error("the unreadable records were not counted")
	}
	// Their owner can delete them; adds for alice work again (a new key).
	for _, id := range []string{alice, bobBad} {
		if err := e.Delete(ctx, id); err != nil {
			t.Errorf("delete of a broken memory: %v", err)
		}
	}
	if _, err := e.Add(ctx, engram.AddRequest{Scope: engram.Scope{UserID: "alice"}, Content: "alice is back"}); err != nil {
		t.Errorf("add for alice: %v", err)
	}
}

func ids(ms []engram.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

// TestEraseAfterCommitBeforeIndex: a write commits, its user is erased
// and a search reloads the vector index, and only then does the write put
// its vector into the in-memory index. That vector (which can be inverted
// back to text) must not outlive the user's key in the index.
func TestEraseAfterCommitBeforeIndex(t *testing.T) {
	e, _ := testserver.NewEngine(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	nt, ctx := owner(t, e)
	if _, err := e.Add(ctx, engram.AddRequest{Scope: engram.Scope{UserID: "bob"}, Content: "bob plays chess"}); err != nil {
		t.Fatal(err)
	}
	readsWork(t, ctx, e) // the index is loaded
	var fired atomic.Bool
	engine.SetWriteHook(e, func(stage string) {
		if stage != "committed" || !fired.CompareAndSwap(false, true) {
			return
		}
		if _, err := e.ForgetUser(ctx, "alice"); err != nil {
			t.Errorf("forget: %v", err)
		}
		readsWork(t, ctx, e) // reloads the index without alice
	})
	res, err := e.Add(ctx, engram.AddRequest{Scope: engram.Scope{UserID: "alice"}, Content: "alice likes green tea"})
	engine.SetWriteHook(e, nil)
	if err != nil || !fired.Load() {
		t.Fatalf("add: %v (hook ran: %v)", err, fired.Load())
	}
	if engine.VectorIndexHas(e, nt.Tenant.ID, res[0].ID) {
		t.Fatal("the erased user's vector is in the in-memory index")
	}
	hits, err := e.Search(ctx, engram.SearchRequest{Query: "chess", Mode: engram.SearchVector})
	if err != nil || len(hits) != 1 {
		t.Fatalf("search after the erasure: %d hits, %v", len(hits), err)
	}
}

// TestEraseRacingWriters is the load test's shape, bounded: writers add
// for one user while erasures of that user run. Whatever the
// interleaving, an acknowledged memory reads back or was erased, never
// "unreadable", and repair finds nothing to remove.
func TestEraseRacingWriters(t *testing.T) {
	e, _ := testserver.NewEngine(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	_, ctx := owner(t, e)
	alice := engram.Scope{UserID: "alice"}
	acked := make(chan string, 64)
	concurrently(t, 7, 5, func(w, i int) error {
		if w == 6 { // the eraser
			_, err := e.ForgetUser(ctx, "alice")
			if engram.ErrorCode(err) == engram.CodeNotFound {
				err = nil
			}
			return err
		}
		res, err := e.Add(ctx, engram.AddRequest{Scope: alice, Content: fmt.Sprintf("note %d of writer %d", i, w)})
		if engram.ErrorCode(err) == engram.CodeConflict {
			return nil // lost the race cleanly: nothing stored
		}
		if err == nil {
			acked <- res[0].ID
		}
		return err
	})
	close(acked)
	for id := range acked {
		if _, err := e.Get(ctx, id); err != nil && engram.ErrorCode(err) != engram.CodeNotFound {
			t.Errorf("acknowledged memory %s: %v", id, err)
		}
	}
	readsWork(t, ctx, e)
	if n := e.Unreadable(); n != 0 {
		t.Errorf("%d unreadable records met", n)
	}
	reps, err := e.Repair(context.Background(), "t", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps[0].Memories) != 0 || reps[0].History != 0 {
		t.Errorf("repair would remove %v and %d history entries", reps[0].Memories, reps[0].History)
	}
}

// TestRepairRefusesBrokenHierarchy: when the tenant's own key does not
// open (a wrong KEK, a damaged row, a KMS that refuses), every record looks
// unreadable and none is: repair must judge nothing and remove nothing.
func TestRepairRefusesBrokenHierarchy(t *testing.T) {
	dir := t.TempDir()
	e := testserver.OpenEngine(t, dir, nil)
	_, ctx := owner(t, e)
	if _, err := e.Add(ctx, engram.AddRequest{Scope: engram.Scope{UserID: "bob"}, Content: "bob plays chess"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "engram.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE wrapped_keys SET wrapped = zeroblob(100) WHERE purpose = 'tenant'`); err != nil {
		t.Fatal(err)
	}
	e = testserver.OpenEngine(t, dir, nil) // a restart: nothing cached
	if _, err := e.Repair(context.Background(), "", false); err == nil {
		t.Fatal("repair ran over a tenant whose key does not open")
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM memories`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("memories left: %d, %v", n, err)
	}
	// Reads fail (a key problem, 500), rather than skipping the record.
	if _, err := e.List(ctx, engram.ListRequest{}); err == nil {
		t.Fatal("list skipped records of a tenant whose key does not open")
	}
	if e.Unreadable() != 0 {
		t.Fatal("a broken tenant key was counted as unreadable records")
	}
}
