package engine_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// kwSnapEngine opens a keyword-only engine on dir that snapshots keyword
// indexes of any size and loads them inside the search.
func kwSnapEngine(t *testing.T, dir string) *engine.Engine {
	t.Helper()
	e := testserver.OpenEngine(t, dir, nil)
	engine.SetKeywordSnapshotMin(e, 1)
	engine.SetKeywordAsyncMin(e, 0)
	return e
}

// kwResults runs keyword searches in several scopes and returns ids and
// scores, in order.
func kwResults(t *testing.T, e *engine.Engine, ctx context.Context) []string {
	t.Helper()
	var out []string
	for _, scope := range []engram.Scope{{}, {UserID: "u0"}, {UserID: "u2"}} {
		for _, q := range []string{"coffee paris", "dog guitar birthday", "note 7", "marathon museum beach", "zebra"} {
			zero := 0.0
			hits, err := e.Search(ctx, engram.SearchRequest{Query: q, Scope: scope, Mode: engram.SearchBM25, Limit: 30, Threshold: &zero})
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range hits {
				out = append(out, fmt.Sprintf("%v %s %s %.9f", scope, q, h.ID, h.Score))
			}
		}
	}
	return out
}

func kwAdd(t *testing.T, e *engine.Engine, ctx context.Context, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if _, err := e.Add(ctx, engram.AddRequest{Content: kwText(i), Scope: engram.Scope{UserID: fmt.Sprint("u", i%3)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// kwSnapshotted seeds a tenant, loads its keyword index (which writes its
// snapshot) and returns the rankings seen then.
func kwSnapshotted(t *testing.T, dir string) (string, []string) {
	t.Helper()
	a := kwSnapEngine(t, dir)
	nt, ctx := owner(t, a)
	kwAdd(t, a, ctx, 0, 60)
	want := kwResults(t, a, ctx)
	engine.WaitKeywordLoads(a)
	if err := engine.SaveIndexSnapshots(a, ctx); err != nil {
		t.Fatal(err)
	}
	return nt.Key.Secret, want
}

// kwExpect opens an engine on dir as the key's owner and checks its
// rankings and how many keyword indexes it loaded from a snapshot.
func kwExpect(t *testing.T, dir, secret string, want []string, loads int64, what string) (*engine.Engine, context.Context) {
	t.Helper()
	e := kwSnapEngine(t, dir)
	ctx := authAs(t, e, secret)
	if got := kwResults(t, e, ctx); !slices.Equal(got, want) {
		t.Fatalf("%s:\n%v\nwant\n%v", what, got, want)
	}
	if n := engine.KeywordSnapshotLoads(e); n != loads {
		t.Fatalf("%s: %d loads from a snapshot, want %d", what, n, loads)
	}
	return e, ctx
}

func authAs(t *testing.T, e *engine.Engine, secret string) context.Context {
	t.Helper()
	p, err := e.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return engram.WithPrincipal(context.Background(), p)
}

// TestKeywordSnapshotRoundTrip: after a restart the keyword index is loaded
// from its snapshot and ranks exactly as before; writes after the load are
// found; writes after the snapshot and before the load make the next
// engine rebuild from the store, with the same results as the store path.
func TestKeywordSnapshotRoundTrip(t *testing.T) {
	dir := t.TempDir()
	secret, want := kwSnapshotted(t, dir)
	files, _ := filepath.Glob(filepath.Join(dir, "engram.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("EGKS\x01")) {
			t.Fatalf("%s holds keyword snapshot plaintext", filepath.Base(f))
		}
	}

	b, ctx := kwExpect(t, dir, secret, want, 1, "from the snapshot")
	// A write after the load is visible.
	if _, err := b.Add(ctx, engram.AddRequest{Content: "a zebra crossing in paris", Scope: engram.Scope{UserID: "u0"}}); err != nil {
		t.Fatal(err)
	}
	after := kwResults(t, b, ctx)
	if !slices.ContainsFunc(after, func(s string) bool { return bytes.Contains([]byte(s), []byte(" zebra ")) }) {
		t.Fatal("a write after the snapshot load is not found")
	}

	// That write (not snapshotted: b stops without saving) makes the
	// snapshot older than the store: the next engine loads it and replays
	// the write from the change log, with b's results.
	kwExpect(t, dir, secret, after, 1, "replayed after a later write")
	// And the store path (no in-memory index) agrees.
	d := testserver.OpenEngine(t, dir, nil, engine.WithKeywordBudget(0))
	if got := kwResults(t, d, authAs(t, d, secret)); !slices.Equal(got, after) {
		t.Fatalf("store path:\n%v\nwant\n%v", got, after)
	}
}

func kwSnapDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, "engram.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestKeywordSnapshotCorrupted: an altered chunk does not open, and the
// index is rebuilt from the store with the same results.
func TestKeywordSnapshotCorrupted(t *testing.T) {
	dir := t.TempDir()
	secret, want := kwSnapshotted(t, dir)
	db := kwSnapDB(t, dir)
	res, err := db.Exec(`UPDATE index_snapshot_chunks SET body = substr(body, 1, length(body) - 1) WHERE kind = 'keywords' AND seq = 0`)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("%d chunks altered", n)
	}
	kwExpect(t, dir, secret, want, 0, "after corruption")
}

// TestKeywordSnapshotOtherTenant: another tenant's snapshot, copied over
// this tenant's (header and chunks, at this tenant's change count), does
// not open: the index is rebuilt from this tenant's memories.
func TestKeywordSnapshotOtherTenant(t *testing.T) {
	dir := t.TempDir()
	a := kwSnapEngine(t, dir)
	ntA, actx := owner(t, a)
	kwAdd(t, a, actx, 0, 40)
	ntB, err := a.CreateTenant(context.Background(), "t2")
	if err != nil {
		t.Fatal(err)
	}
	bctx := authAs(t, a, ntB.Key.Secret)
	kwAdd(t, a, bctx, 100, 40)
	kwResults(t, a, actx)
	want := kwResults(t, a, bctx)
	engine.WaitKeywordLoads(a)
	if err := engine.SaveIndexSnapshots(a, actx); err != nil {
		t.Fatal(err)
	}
	db := kwSnapDB(t, dir)
	for _, q := range []string{
		`DELETE FROM index_snapshot_chunks WHERE tenant_id = :b AND kind = 'keywords'`,
		`INSERT INTO index_snapshot_chunks (tenant_id, kind, snapshot_id, seq, subject, key_version, body)
		 SELECT :b, kind, snapshot_id, seq, subject, key_version, body FROM index_snapshot_chunks WHERE tenant_id = :a AND kind = 'keywords'`,
		`UPDATE index_snapshots SET snapshot_id = (SELECT snapshot_id FROM index_snapshots WHERE tenant_id = :a AND kind = 'keywords'),
		 chunks = (SELECT chunks FROM index_snapshots WHERE tenant_id = :a AND kind = 'keywords')
		 WHERE tenant_id = :b AND kind = 'keywords'`,
	} {
		res, err := db.Exec(q, sql.Named("a", ntA.Tenant.ID), sql.Named("b", ntB.Tenant.ID))
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			t.Fatalf("nothing changed by %s", q)
		}
	}
	kwExpect(t, dir, ntB.Key.Secret, want, 0, "with the other tenant's snapshot")
}

// TestKeywordSnapshotErasure: erasing a user deletes the tenant's keyword
// snapshot in the erasing transaction; the next engine rebuilds without
// the user's memories.
func TestKeywordSnapshotErasure(t *testing.T) {
	dir := t.TempDir()
	secret, _ := kwSnapshotted(t, dir)
	db := kwSnapDB(t, dir)
	count := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM index_snapshot_chunks WHERE kind = 'keywords'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count() == 0 {
		t.Fatal("no keyword snapshot written")
	}
	b := kwSnapEngine(t, dir)
	ctx := authAs(t, b, secret)
	if _, err := b.ForgetUser(ctx, "u0"); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d keyword snapshot chunks left after an erasure", n)
	}
	c := kwSnapEngine(t, dir)
	got := kwResults(t, c, authAs(t, c, secret))
	for _, s := range got {
		if bytes.Contains([]byte(s), []byte("{u0 ")) {
			t.Fatalf("erased user's memory found: %s", s)
		}
	}
	d := testserver.OpenEngine(t, dir, nil, engine.WithKeywordBudget(0))
	if want := kwResults(t, d, authAs(t, d, secret)); !slices.Equal(got, want) {
		t.Fatalf("after erasure:\n%v\nwant (store path)\n%v", got, want)
	}
}

// TestKeywordSnapshotLargeTenant: a tenant large enough to load in the
// background loads a current snapshot inside its first search, which is
// then served by the index; without a current snapshot the first search
// reads the store and the index loads in the background, as before.
func TestKeywordSnapshotLargeTenant(t *testing.T) {
	dir := t.TempDir()
	secret, want := kwSnapshotted(t, dir)
	tenantOf := func(_ *engine.Engine, ctx context.Context) string { return engram.PrincipalFrom(ctx).TenantID }

	b := kwSnapEngine(t, dir)
	engine.SetKeywordAsyncMin(b, 1)
	ctx := authAs(t, b, secret)
	if _, err := b.Search(ctx, engram.SearchRequest{Query: "coffee", Mode: engram.SearchBM25}); err != nil {
		t.Fatal(err)
	}
	// No wait for background loads: the first search loaded it.
	if n, m := engine.KeywordSnapshotLoads(b), engine.KeywordIndexed(b, tenantOf(b, ctx)); n != 1 || m != 60 {
		t.Fatalf("after the first search: %d loads from a snapshot, %d memories indexed; want 1, 60", n, m)
	}
	if got := kwResults(t, b, ctx); !slices.Equal(got, want) {
		t.Fatalf("from the snapshot:\n%v\nwant\n%v", got, want)
	}
	if _, err := b.Add(ctx, engram.AddRequest{Content: "a zebra crossing in paris", Scope: engram.Scope{UserID: "u0"}}); err != nil {
		t.Fatal(err)
	}
	after := kwResults(t, b, ctx)

	// The write made the snapshot older than the store (b stops without
	// saving): the next engine's first search loads it and replays the
	// write from the change log.
	c := kwSnapEngine(t, dir)
	engine.SetKeywordAsyncMin(c, 1)
	ctx = authAs(t, c, secret)
	if got := kwResults(t, c, ctx); !slices.Equal(got, after) {
		t.Fatalf("stale snapshot:\n%v\nwant\n%v", got, after)
	}
	engine.WaitKeywordLoads(c)
	if n, m := engine.KeywordSnapshotLoads(c), engine.KeywordIndexed(c, tenantOf(c, ctx)); n != 1 || m != 61 {
		t.Fatalf("older snapshot: %d loads from a snapshot, %d memories indexed; want 1, 61", n, m)
	}
}
