package engine_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestRebuiltChainCaughtBySegments: an attacker who holds the audit key
// (and so can rebuild the HMAC chain and the head after rewriting an
// entry) is still caught by the signed checkpoints, and verification names
// the rewritten entry, not just the checkpoint.
func TestRebuiltChainCaughtBySegments(t *testing.T) {
	e, dir := testserver.NewEngine(t)
	ctx := context.Background()
	nt, err := e.CreateTenant(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	pctx := engram.WithPrincipal(ctx, p)
	for i := 0; i < 6; i++ {
		if _, err := e.Add(pctx, engram.AddRequest{Messages: []engram.Message{{Role: "user", Content: "x"}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.SealAudit(ctx, checkpoint.Policy{MaxEntries: 4, MaxAge: time.Nanosecond}); err != nil {
		t.Fatal(err)
	}
	verify := func() *audit.Problem {
		t.Helper()
		reps, err := e.VerifyAuditTrail(ctx, "t", false)
		if err != nil {
			t.Fatal(err)
		}
		return reps[0].Problem
	}
	if p := verify(); p != nil {
		t.Fatalf("intact trail: %v", p)
	}

	// The attacker's tools: the database file and the audit key.
	db, err := sql.Open("sqlite", filepath.Join(dir, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	mac, _, err := keys.New(st, k, nil).AuditKeys(ctx, nt.Tenant.ID, audit.KeyVersion)
	if err != nil {
		t.Fatal(err)
	}
	const bad = 3
	if _, err := db.Exec(`UPDATE audit_entries SET outcome = 'failure' WHERE tenant_id = ? AND seq = ?`, nt.Tenant.ID, bad); err != nil {
		t.Fatal(err)
	}
	// Rebuild every MAC from the rewritten entry on, and the head.
	var recs []store.AuditRecord
	if err := st.Read(ctx, func(tx store.Tx) (err error) {
		recs, err = tx.AuditRange(ctx, nt.Tenant.ID, 0, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var prev []byte
	for _, r := range recs {
		m := audit.Link(mac, prev, &r.Entry)
		if _, err := db.Exec(`UPDATE audit_entries SET mac = ? WHERE tenant_id = ? AND seq = ?`, m, nt.Tenant.ID, r.Entry.Seq); err != nil {
			t.Fatal(err)
		}
		prev = m
	}
	last := recs[len(recs)-1].Entry.Seq
	if _, err := db.Exec(`UPDATE audit_heads SET mac = ?, head_mac = ? WHERE tenant_id = ?`, prev,
		audit.HeadMAC(mac, nt.Tenant.ID, last, prev), nt.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	p1 := verify()
	if p1 == nil || p1.Seq != bad || !strings.Contains(p1.Detail, "rewritten") {
		t.Fatalf("rebuilt chain: %+v", p1)
	}
	// With the stored leaf hashes rewritten as well, the segment is still
	// caught, named by its first entry.
	if _, err := db.Exec(`DELETE FROM audit_nodes WHERE tenant_id = ? AND level = 0`, nt.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	p2 := verify()
	if p2 == nil || p2.Seq != 1 || p2.Kind != audit.KindCheckpoint {
		t.Fatalf("rebuilt chain and nodes: %+v", p2)
	}
}
