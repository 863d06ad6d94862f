package main_test

import (
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

// TestAuditSegmentsCLI runs the sealed trail end to end with the real
// binary: seal, export a bundle and check it offline (intact, tampered,
// wrong key), sweep an expired segment and still verify, then tamper with
// the database file by raw SQL: a forged checkpoint, and a rollback of the
// tail together with the head record, which only the signed checkpoint
// catches.
func TestAuditSegmentsCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, _ := os.ReadFile(filepath.Join(data, "admin.key"))
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + strings.TrimSpace(string(raw))}
	for i := 0; i < 4; i++ {
		mustEngram(t, env, "add", "note "+strconv.Itoa(i), "--user", "carol")
	}
	s.stop(t)

	if out := mustEngram(t, nil, "audit", "seal", "--data", data, "--entries", "3"); !strings.Contains(out, "sealed") {
		t.Fatalf("seal: %q", out)
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %q", out)
	}
	vk := strings.TrimSpace(mustEngram(t, nil, "audit", "key", "--data", data))
	if !strings.HasPrefix(vk, "engram-audit+") {
		t.Fatalf("verifier key %q", vk)
	}

	// Export and check offline: intact, then one entry changed, then the
	// wrong key.
	bundle := filepath.Join(t.TempDir(), "segment.json")
	mustEngram(t, nil, "audit", "prove", "--data", data, "--tenant", "default", "--segment", "1", "--out", bundle)
	if out := mustEngram(t, nil, "audit", "check-bundle", bundle, "--key", vk); !strings.Contains(out, "intact") {
		t.Fatalf("check-bundle: %q", out)
	}
	var doc map[string]any
	b, _ := os.ReadFile(bundle)
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	entries := doc["entries"].([]any)
	entries[1] = entries[0] // entry at seq 2 replaced by a copy of seq 1
	tampered := filepath.Join(t.TempDir(), "tampered.json")
	b, _ = json.Marshal(doc)
	if err := os.WriteFile(tampered, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := engram(t, nil, "audit", "check-bundle", tampered, "--key", vk); err == nil || !strings.Contains(errOut, "seq 2") {
		t.Fatalf("tampered bundle: %v %q", err, errOut)
	}
	_, otherVK, err := checkpoint.GenerateKey(rand.Reader, checkpoint.KeyName)
	if err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := engram(t, nil, "audit", "check-bundle", bundle, "--key", otherVK); err == nil || !strings.Contains(errOut, "FAILED") {
		t.Fatalf("bundle under another key: %v %q", err, errOut)
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	const tenant = `(SELECT id FROM tenants WHERE name = 'default')`

	// Retention: the first segment is made two days old; with one day of
	// retention the sweep drops it and leaves a tombstone; verify passes.
	mustEngram(t, nil, "audit", "retention", "--data", data, "--tenant", "default", "--days", "1")
	exec(`UPDATE audit_segments SET sealed_at = sealed_at - 172800000000 WHERE tenant_id = ` + tenant + ` AND first_seq = 1`)
	if out := mustEngram(t, nil, "audit", "sweep", "--data", data); !strings.Contains(out, "dropped 1 segment(s)") {
		t.Fatalf("sweep: %q", out)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_entries WHERE tenant_id = ` + tenant + ` AND seq <= 3`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("entries left in the dropped segment: %d %v", n, err)
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify after the sweep: %q", out)
	}

	// The attacker's backup: the head record as it is now.
	var k int
	if err := db.QueryRow(`SELECT seq FROM audit_heads WHERE tenant_id = ` + tenant).Scan(&k); err != nil {
		t.Fatal(err)
	}
	exec(`CREATE TABLE bak_head AS SELECT * FROM audit_heads WHERE tenant_id = ` + tenant)
	// And a copy of the whole database, signed checkpoints included.
	backup := filepath.Join(t.TempDir(), "engram.db")
	exec(`VACUUM INTO ?`, backup)

	s = startServer(t, data)
	env[0] = "ENGRAM_URL=" + s.url
	for i := 0; i < 3; i++ {
		mustEngram(t, env, "add", "later "+strconv.Itoa(i))
	}
	s.stop(t)
	mustEngram(t, nil, "audit", "seal", "--data", data)
	mustEngram(t, nil, "audit", "verify", "--data", data)
	// The customer keeps the newest checkpoint (GET /v1/audit/checkpoint).
	var keptCP []byte
	if err := db.QueryRow(`SELECT checkpoint FROM audit_segments WHERE tenant_id = ` + tenant +
		` ORDER BY first_seq DESC LIMIT 1`).Scan(&keptCP); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(t.TempDir(), "kept.checkpoint")
	if err := os.WriteFile(kept, keptCP, 0o600); err != nil {
		t.Fatal(err)
	}
	mustEngram(t, nil, "audit", "verify", "--data", data, "--checkpoint", kept)

	fails := func(want ...string) {
		t.Helper()
		_, errOut, err := engram(t, nil, "audit", "verify", "--data", data)
		if err == nil {
			t.Fatal("verify passed a tampered trail")
		}
		for _, w := range want {
			if !strings.Contains(errOut, w) {
				t.Fatalf("verify did not report %q: %q", w, errOut)
			}
		}
	}

	// A checkpoint re-signed with another key is rejected.
	var first int
	var orig []byte
	if err := db.QueryRow(`SELECT first_seq, checkpoint FROM audit_segments WHERE tenant_id = `+tenant+
		` ORDER BY first_seq DESC LIMIT 1`).Scan(&first, &orig); err != nil {
		t.Fatal(err)
	}
	otherSK, _, err := checkpoint.GenerateKey(rand.Reader, checkpoint.KeyName)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := checkpoint.NewSigner(otherSK)
	if err != nil {
		t.Fatal(err)
	}
	body := orig[:strings.Index(string(orig), "\n\n")+1]
	cp, err := checkpoint.ParseCheckpoint(body)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := checkpoint.Sign(cp, signer)
	if err != nil {
		t.Fatal(err)
	}
	exec(`UPDATE audit_segments SET checkpoint = ? WHERE tenant_id = `+tenant+` AND first_seq = ?`, forged, first)
	fails("tenant default", "checkpoint", "signature")
	exec(`UPDATE audit_segments SET checkpoint = ? WHERE tenant_id = `+tenant+` AND first_seq = ?`, orig, first)
	mustEngram(t, nil, "audit", "verify", "--data", data)

	// Roll back: delete the tail and restore the older, valid head record.
	// The chain and the head agree; the signed checkpoint does not.
	exec(`DELETE FROM audit_entries WHERE tenant_id = `+tenant+` AND seq > ?`, k)
	exec(`UPDATE audit_heads SET seq = (SELECT seq FROM bak_head), mac = (SELECT mac FROM bak_head),
		head_mac = (SELECT head_mac FROM bak_head) WHERE tenant_id = ` + tenant)
	fails("tenant default", "entry "+strconv.Itoa(k+1)+":", "truncated")

	// A rollback of the whole database to the copy is consistent: only
	// the checkpoint kept outside catches it.
	db.Close()
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(filepath.Join(data, "engram.db"+suffix))
	}
	b, err = os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "engram.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	mustEngram(t, nil, "audit", "verify", "--data", data)
	_, errOut, err := engram(t, nil, "audit", "verify", "--data", data, "--checkpoint", kept)
	if err == nil || !strings.Contains(errOut, "entry "+strconv.Itoa(k+1)+":") || !strings.Contains(errOut, "kept checkpoint") {
		t.Fatalf("rollback of the whole database against a kept checkpoint: %v %q", err, errOut)
	}
}
