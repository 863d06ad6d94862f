package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

type fixedKeys []byte

func (k fixedKeys) AuditKeys(context.Context, string, int) ([]byte, []byte, error) { return k, k, nil }

var key = fixedKeys(bytes.Repeat([]byte{9}, 32))

const tenantA, tenantB = "tenant-a", "tenant-b"

// chain makes a database file holding a 5-entry chain for tenants A and B
// and returns the store, a raw SQL handle on the same file, and the store's
// path.
func chain(t *testing.T) (*sqlite.DB, *sql.DB) {
	t.Helper()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "engram.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, tn := range []string{tenantA, tenantB} {
		for i := 1; i <= 5; i++ {
			e := &engram.AuditEntry{Time: time.Unix(1700000000+int64(i), 0), TenantID: tn, Actor: "ps_x", Action: engram.AuditMemoryRead,
				TargetType: engram.TargetMemory, TargetID: fmt.Sprintf("m%d", i), Outcome: engram.OutcomeSuccess, IP: "192.0.2.7", RequestID: fmt.Sprintf("r%d", i)}
			if err := st.Write(ctx, func(tx store.Tx) error { _, err := audit.Append(ctx, tx, key, e); return err }); err != nil {
				t.Fatal(err)
			}
		}
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return st, raw
}

func verify(t *testing.T, st store.Store, tenant string, cps ...audit.Checkpoint) *audit.Report {
	t.Helper()
	rep, err := (&audit.Verifier{Store: st, Keys: key, Checkpoints: cps}).Verify(t.Context(), tenant)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func exec(t *testing.T, db *sql.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestTamper changes the database file with raw SQL, as an attacker with
// write access to it would, and expects each change found at the right
// first bad sequence number.
func TestTamper(t *testing.T) {
	a := "'" + tenantA + "'"
	for _, tc := range []struct {
		name  string
		sql   []string
		seq   uint64
		kind  string
		other bool // tenant B's chain must stay intact
	}{
		{"edit outcome", []string{`UPDATE audit_entries SET outcome = 'denied' WHERE tenant_id = ` + a + ` AND seq = 3`}, 3, audit.KindMismatch, true},
		{"edit time", []string{`UPDATE audit_entries SET at = at + 1 WHERE tenant_id = ` + a + ` AND seq = 2`}, 2, audit.KindMismatch, true},
		{"edit ip", []string{`UPDATE audit_entries SET ip = '203.0.113.9' WHERE tenant_id = ` + a + ` AND seq = 5`}, 5, audit.KindMismatch, true},
		{"edit count", []string{`UPDATE audit_entries SET count = 1 WHERE tenant_id = ` + a + ` AND seq = 4`}, 4, audit.KindMismatch, true},
		{"edit mac", []string{`UPDATE audit_entries SET mac = zeroblob(32) WHERE tenant_id = ` + a + ` AND seq = 1`}, 1, audit.KindMismatch, true},
		{"delete row", []string{`DELETE FROM audit_entries WHERE tenant_id = ` + a + ` AND seq = 3`}, 3, audit.KindMissing, true},
		{"delete first row", []string{`DELETE FROM audit_entries WHERE tenant_id = ` + a + ` AND seq = 1`}, 1, audit.KindMissing, true},
		{"insert forged row at the end", []string{
			`INSERT INTO audit_entries SELECT tenant_id, 6, at, actor, key_id, action, target_type, 'forged', outcome, reason, ip, request_id, transport, key_version, mac, count, detail FROM audit_entries WHERE tenant_id = ` + a + ` AND seq = 5`,
		}, 6, audit.KindMismatch, true},
		{"insert forged row in the middle", []string{
			`UPDATE audit_entries SET seq = seq + 100 WHERE tenant_id = ` + a + ` AND seq >= 3`,
			`UPDATE audit_entries SET seq = seq - 99 WHERE tenant_id = ` + a + ` AND seq >= 100`,
			`INSERT INTO audit_entries SELECT tenant_id, 3, at, actor, key_id, 'memory.delete', target_type, target_id, outcome, reason, ip, request_id, transport, key_version, mac, count, detail FROM audit_entries WHERE tenant_id = ` + a + ` AND seq = 2`,
		}, 3, audit.KindMismatch, true},
		{"swap two rows", []string{
			`UPDATE audit_entries SET seq = 100 WHERE tenant_id = ` + a + ` AND seq = 2`,
			`UPDATE audit_entries SET seq = 2 WHERE tenant_id = ` + a + ` AND seq = 4`,
			`UPDATE audit_entries SET seq = 4 WHERE tenant_id = ` + a + ` AND seq = 100`,
		}, 2, audit.KindMismatch, true},
		{"move a row from another tenant", []string{
			`DELETE FROM audit_entries WHERE tenant_id = ` + a + ` AND seq = 4`,
			`INSERT INTO audit_entries SELECT ` + a + `, seq, at, actor, key_id, action, target_type, target_id, outcome, reason, ip, request_id, transport, key_version, mac, count, detail FROM audit_entries WHERE tenant_id = '` + tenantB + `' AND seq = 4`,
		}, 4, audit.KindMismatch, true},
		{"truncate the tail", []string{`DELETE FROM audit_entries WHERE tenant_id = ` + a + ` AND seq >= 4`}, 4, audit.KindTruncated, true},
		{"truncate everything", []string{`DELETE FROM audit_entries WHERE tenant_id = ` + a}, 1, audit.KindTruncated, true},
		{"truncate and lower the head", []string{
			`DELETE FROM audit_entries WHERE tenant_id = ` + a + ` AND seq >= 4`,
			`UPDATE audit_heads SET seq = 3, mac = (SELECT mac FROM audit_entries WHERE tenant_id = ` + a + ` AND seq = 3) WHERE tenant_id = ` + a,
		}, 0, audit.KindCheckpoint, true},
		{"delete the head", []string{`DELETE FROM audit_heads WHERE tenant_id = ` + a}, 0, audit.KindCheckpoint, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, raw := chain(t)
			if rep := verify(t, st, tenantA); rep.Problem != nil || rep.Entries != 5 {
				t.Fatalf("before tampering: %+v %v", rep, rep.Problem)
			}
			exec(t, raw, tc.sql...)
			rep := verify(t, st, tenantA)
			if rep.Problem == nil {
				t.Fatalf("tampering not detected: %+v", rep)
			}
			if rep.Problem.Seq != tc.seq || rep.Problem.Kind != tc.kind {
				t.Fatalf("problem = %v; want first bad seq %d, kind %s", rep.Problem, tc.seq, tc.kind)
			}
			if tc.other {
				if rep := verify(t, st, tenantB); rep.Problem != nil {
					t.Fatalf("tenant B's chain reported damaged: %v", rep.Problem)
				}
			}
		})
	}
}

// savedHead is a checkpoint kept outside the database (what a signed
// checkpoint or a sink's copy of the MACs provides).
type savedHead struct{ h *audit.Head }

func (s savedHead) Name() string { return "saved" }
func (s savedHead) Latest(_ context.Context, tenantID string) (*audit.Head, error) {
	if s.h == nil || s.h.TenantID != tenantID {
		return nil, nil
	}
	return s.h, nil
}

// TestRollbackNeedsOutsideCheckpoint: an attacker who kept an old copy of
// the head record can roll the chain back past the stored head; a
// checkpoint held elsewhere still finds the truncation.
func TestRollbackNeedsOutsideCheckpoint(t *testing.T) {
	st, raw := chain(t)
	ctx := t.Context()
	var oldSeq int
	var oldMAC, oldHeadMAC []byte
	// A head as it was after entry 3, recomputed here (the attacker's
	// backup of the database at that time).
	if err := raw.QueryRow(`SELECT seq, mac FROM audit_entries WHERE tenant_id = ? AND seq = 3`, tenantA).Scan(&oldSeq, &oldMAC); err != nil {
		t.Fatal(err)
	}
	oldHeadMAC = audit.HeadMAC(key, tenantA, 3, oldMAC)
	outside, err := audit.StoredHead{Store: st, Keys: key}.Latest(ctx, tenantA)
	if err != nil || outside == nil || outside.Seq != 5 {
		t.Fatalf("head: %+v %v", outside, err)
	}
	exec(t, raw, `DELETE FROM audit_entries WHERE tenant_id = '`+tenantA+`' AND seq >= 4`)
	if _, err := raw.Exec(`UPDATE audit_heads SET seq = ?, mac = ?, head_mac = ? WHERE tenant_id = ?`, oldSeq, oldMAC, oldHeadMAC, tenantA); err != nil {
		t.Fatal(err)
	}
	if rep := verify(t, st, tenantA); rep.Problem != nil {
		t.Fatalf("a consistent rollback passes the stored head alone, yet: %v", rep.Problem)
	}
	rep := verify(t, st, tenantA, savedHead{outside})
	if rep.Problem == nil || rep.Problem.Seq != 4 || rep.Problem.Kind != audit.KindTruncated {
		t.Fatalf("with an outside checkpoint: %v; want truncated at 4", rep.Problem)
	}
}

// TestCheckpointRejectsRewrite: an outside checkpoint whose MAC differs
// from the chain's at its seq means the chain was rebuilt.
func TestCheckpointRejectsRewrite(t *testing.T) {
	st, _ := chain(t)
	rep := verify(t, st, tenantA, savedHead{&audit.Head{TenantID: tenantA, Seq: 2, MAC: bytes.Repeat([]byte{1}, 32)}})
	if rep.Problem == nil || rep.Problem.Seq != 2 || rep.Problem.Kind != audit.KindCheckpoint {
		t.Fatalf("problem %v; want checkpoint at 2", rep.Problem)
	}
}

// TestTamperDetail: a deletion's compliance record (an entry with a
// Detail) chains after entries without one; the chain verifies, and
// editing or dropping the stored detail breaks it at that entry.
func TestTamperDetail(t *testing.T) {
	a := "'" + tenantA + "'"
	for _, tc := range []struct{ name, sql string }{
		{"edit a count", `UPDATE audit_entries SET detail = replace(detail, '"memories":3', '"memories":2') WHERE tenant_id = ` + a + ` AND seq = 6`},
		{"drop the detail", `UPDATE audit_entries SET detail = '' WHERE tenant_id = ` + a + ` AND seq = 6`},
		{"move the schedule", `UPDATE audit_entries SET detail = replace(detail, '2026-01-08', '2026-01-09') WHERE tenant_id = ` + a + ` AND seq = 6`},
		{"add a detail to an old entry", `UPDATE audit_entries SET detail = (SELECT detail FROM audit_entries WHERE tenant_id = ` + a + ` AND seq = 6) WHERE tenant_id = ` + a + ` AND seq = 2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, raw := chain(t)
			ctx := t.Context()
			requested := time.Date(2026, 1, 1, 10, 0, 0, 123456000, time.UTC)
			e := &engram.AuditEntry{Time: requested.Add(7 * 24 * time.Hour), TenantID: tenantA, Action: engram.AuditUserDeletionComplete,
				TargetType: engram.TargetUser, TargetID: "ps_00000000000000000000000000000000", Outcome: engram.OutcomeSuccess, Transport: "system",
				Detail: &engram.AuditDetail{Counts: map[string]uint64{"memories": 3, "history": 4, "keys": 1},
					RequestedAt: requested, ScheduledFor: requested.Add(7 * 24 * time.Hour)}}
			if err := st.Write(ctx, func(tx store.Tx) error { _, err := audit.Append(ctx, tx, key, e); return err }); err != nil {
				t.Fatal(err)
			}
			if rep := verify(t, st, tenantA); rep.Problem != nil || rep.Entries != 6 {
				t.Fatalf("before tampering: %+v %v", rep, rep.Problem)
			}
			var stored string
			if err := raw.QueryRow(`SELECT detail FROM audit_entries WHERE tenant_id = ? AND seq = 6`, tenantA).Scan(&stored); err != nil ||
				!strings.Contains(stored, `"memories":3`) || !strings.Contains(stored, "2026-01-08") {
				t.Fatalf("stored detail %q %v", stored, err)
			}
			exec(t, raw, tc.sql)
			rep := verify(t, st, tenantA)
			if rep.Problem == nil || rep.Problem.Kind != audit.KindMismatch {
				t.Fatalf("tampering not detected: %+v %v", rep, rep.Problem)
			}
		})
	}
}
