package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/store"
)

type oneKey []byte

func (k oneKey) AuditKeys(context.Context, string, int) ([]byte, []byte, error) { return k, k, nil }

// TestAuditDetailMigration: a chain written before migration 00017 (the
// schema taken back down to 00016, its entries without a detail column)
// verifies after the upgrade, and then grows with a compliance record
// whose detail round-trips and keeps the chain verifying.
func TestAuditDetailMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "engram.db")
	key := oneKey(bytes.Repeat([]byte{3}, 32))
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, raw, dir, goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 16); err != nil {
		t.Fatal(err)
	}
	// Entries as a build before 00017 wrote them: no detail column.
	var prev []byte
	for seq := uint64(1); seq <= 3; seq++ {
		e := &engram.AuditEntry{Seq: seq, Time: time.Unix(1700000000+int64(seq), 0).UTC(), TenantID: "t", Actor: "ps_x",
			Action: engram.AuditMemoryCreate, TargetType: engram.TargetMemory, TargetID: "m", Outcome: engram.OutcomeSuccess}
		mac := audit.Link(key, prev, e)
		if _, err := raw.Exec(`INSERT INTO audit_entries (tenant_id, seq, at, actor, key_id, action, target_type, target_id, outcome,
			reason, ip, request_id, transport, key_version, mac, count) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,0)`,
			e.TenantID, seq, e.Time.UnixMicro(), e.Actor, "", string(e.Action), e.TargetType, e.TargetID, string(e.Outcome),
			"", "", "", "", 1, mac); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`INSERT INTO audit_heads (tenant_id, seq, mac, key_version, head_mac) VALUES (?,?,?,?,?)
			ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, head_mac = excluded.head_mac`,
			"t", seq, mac, 1, audit.HeadMAC(key, "t", seq, mac)); err != nil {
			t.Fatal(err)
		}
		prev = mac
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path) // migrates to 00017 again
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	verify := func(want uint64) {
		t.Helper()
		rep, err := (&audit.Verifier{Store: db, Keys: key}).Verify(ctx, "t")
		if err != nil || rep.Problem != nil || rep.Entries != want {
			t.Fatalf("verify: %+v %v", rep, err)
		}
	}
	verify(3)
	at := time.Date(2026, 1, 1, 0, 0, 0, 123456000, time.UTC)
	d := &engram.AuditDetail{Counts: map[string]uint64{"memories": 2}, RequestedAt: at, ScheduledFor: at.Add(time.Hour)}
	if err := db.Write(ctx, func(tx store.Tx) error {
		_, err := audit.Append(ctx, tx, key, &engram.AuditEntry{Time: at.Add(time.Hour), TenantID: "t", Action: engram.AuditUserDeletionComplete,
			TargetType: engram.TargetUser, TargetID: "ps_y", Outcome: engram.OutcomeSuccess, Detail: d})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	verify(4)
	var got []store.AuditRecord
	if err := db.Read(ctx, func(tx store.Tx) (err error) {
		got, err = tx.AuditRange(ctx, "t", 0, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got[0].Entry.Detail != nil || got[3].Entry.Detail == nil || got[3].Entry.Detail.Counts["memories"] != 2 ||
		!got[3].Entry.Detail.ScheduledFor.Equal(d.ScheduledFor) {
		t.Fatalf("entries %+v", got)
	}
}
