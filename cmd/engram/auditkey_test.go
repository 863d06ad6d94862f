package main_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

// TestAuditKeyRotateCLI rotates the checkpoint signing key with the real
// binary while a server runs on the same data directory: old checkpoints
// and bundles keep verifying under the retired key only, the server's next
// segment is signed by the new key only, each chain gets a hand-over that
// opens under both and names the pre-rotation tree, the retired seed is
// gone from the database file and its log while its public key is listed,
// the rotation is in the system chain, and a KEK rotation afterwards
// leaves everything verifiable.
func TestAuditKeyRotateCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServerWith(t, data, nil, "--audit-seal-entries", "1", "--audit-seal-interval", "100ms")
	raw, _ := os.ReadFile(filepath.Join(data, "admin.key"))
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + strings.TrimSpace(string(raw))}
	for i := 0; i < 3; i++ {
		mustEngram(t, env, "add", "note "+strconv.Itoa(i), "--user", "carol")
	}
	db, err := sql.Open("sqlite", filepath.Join(data, "engram.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const tenant = `(SELECT id FROM tenants WHERE name = 'default')`
	var tenantID string
	if err := db.QueryRow(`SELECT id FROM tenants WHERE name = 'default'`).Scan(&tenantID); err != nil {
		t.Fatal(err)
	}
	origin := checkpoint.Origin(tenantID)
	latest := func() (last int, cp []byte) {
		t.Helper()
		err := db.QueryRow(`SELECT last_seq, checkpoint FROM audit_segments WHERE tenant_id = `+tenant+
			` ORDER BY first_seq DESC LIMIT 1`).Scan(&last, &cp)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		return last, cp
	}
	// waitSealed polls (bounded) until the server sealed past seq.
	waitSealed := func(seq int) []byte {
		t.Helper()
		for range 300 {
			if last, cp := latest(); last > seq {
				return cp
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("the server sealed nothing past %d", seq)
		return nil
	}
	oldCP := waitSealed(0)
	vk1 := strings.TrimSpace(mustEngram(t, nil, "audit", "key", "--data", data))
	if _, err := checkpoint.Open(oldCP, origin, vk1); err != nil {
		t.Fatalf("pre-rotation checkpoint: %v", err)
	}
	var oldSeed []byte
	if err := db.QueryRow(`SELECT wrapped FROM wrapped_keys WHERE tenant_id = '' AND purpose = 'audit-checkpoint' AND version = 1`).Scan(&oldSeed); err != nil {
		t.Fatal(err)
	}
	dbBytes := func() []byte {
		t.Helper()
		var all []byte
		for _, f := range []string{"engram.db", "engram.db-wal"} {
			b, err := os.ReadFile(filepath.Join(data, f))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	if !bytes.Contains(dbBytes(), oldSeed) {
		t.Fatal("control: the wrapped seed is not found in the raw database")
	}
	bundle := filepath.Join(t.TempDir(), "segment.json")
	mustEngram(t, nil, "audit", "prove", "--data", data, "--tenant", "default", "--segment", "1", "--out", bundle)
	keptFile := filepath.Join(t.TempDir(), "kept.checkpoint")
	if err := os.WriteFile(keptFile, oldCP, 0o600); err != nil {
		t.Fatal(err)
	}

	// Rotate while the server runs.
	var rot struct {
		From      int    `json:"from_version"`
		To        int    `json:"to_version"`
		Key       string `json:"verifier_key"`
		Handovers int    `json:"handovers"`
	}
	out := mustEngram(t, nil, "audit", "key", "rotate", "--data", data)
	if err := json.Unmarshal([]byte(out), &rot); err != nil || rot.From != 1 || rot.To != 2 || rot.Handovers < 1 || rot.Key == vk1 {
		t.Fatalf("rotate: %v %s", err, out)
	}
	vk2 := rot.Key
	if got := strings.TrimSpace(mustEngram(t, nil, "audit", "key", "--data", data)); got != vk2 {
		t.Fatalf("current key after rotation %q, want %q", got, vk2)
	}
	all := mustEngram(t, nil, "audit", "key", "--all", "--data", data)
	if all != "1\tretired\t"+vk1+"\n2\tcurrent\t"+vk2+"\n" {
		t.Fatalf("audit key --all:\n%s", all)
	}

	// Checkpoints and bundles from before: the old key only.
	if _, err := checkpoint.Open(oldCP, origin, vk1); err != nil {
		t.Fatalf("old checkpoint under the old key: %v", err)
	}
	if _, err := checkpoint.Open(oldCP, origin, vk2); !errors.Is(err, checkpoint.ErrSignature) {
		t.Fatalf("old checkpoint under the new key: %v", err)
	}
	if out := mustEngram(t, nil, "audit", "check-bundle", bundle, "--key", vk1); !strings.Contains(out, "intact") {
		t.Fatalf("old bundle, old key: %q", out)
	}
	if out := mustEngram(t, nil, "audit", "check-bundle", bundle, "--key", vk2, "--key", vk1); !strings.Contains(out, "intact") {
		t.Fatalf("old bundle, both keys: %q", out)
	}
	if _, errOut, err := engram(t, nil, "audit", "check-bundle", bundle, "--key", vk2); err == nil || !strings.Contains(errOut, "FAILED") {
		t.Fatalf("old bundle under the new key only: %v %q", err, errOut)
	}

	// The hand-over names the pre-rotation tree (the newest one then) and
	// opens under both keys.
	var handover []byte
	var lastBefore int
	if err := db.QueryRow(`SELECT wrapped FROM wrapped_keys WHERE tenant_id = ` + tenant + ` AND purpose = 'audit-checkpoint-handover' AND version = 2`).Scan(&handover); err != nil {
		t.Fatal(err)
	}
	hcp, next, err := checkpoint.OpenHandover(handover, origin, vk1)
	if err != nil || next != vk2 {
		t.Fatalf("hand-over under the old key: %v %q", err, next)
	}
	if _, err := checkpoint.Open(handover, origin, vk2); err != nil {
		t.Fatalf("hand-over under the new key: %v", err)
	}
	var before []byte
	if err := db.QueryRow(`SELECT checkpoint, last_seq FROM audit_segments WHERE tenant_id = `+tenant+` AND tree_size = ?`, hcp.Size).Scan(&before, &lastBefore); err != nil {
		t.Fatalf("no segment of the hand-over's size %d: %v", hcp.Size, err)
	}
	bcp, err := checkpoint.Open(before, origin, vk1)
	if err != nil || bcp.Size != hcp.Size || !bytes.Equal(bcp.Hash, hcp.Hash) {
		t.Fatalf("hand-over tree %d differs from the pre-rotation checkpoint: %v", hcp.Size, err)
	}

	// The running server signs its next segment with the new key.
	mustEngram(t, env, "add", "after rotation", "--user", "carol")
	newCP := waitSealed(lastBefore)
	if _, err := checkpoint.Open(newCP, origin, vk2); err != nil {
		t.Fatalf("post-rotation checkpoint under the new key: %v", err)
	}
	if _, err := checkpoint.Open(newCP, origin, vk1); !errors.Is(err, checkpoint.ErrSignature) {
		t.Fatalf("post-rotation checkpoint under the old key: %v", err)
	}
	s.stop(t)

	// The retired seed is gone from the file and its log; its public key
	// is still listed (above) and stored.
	if bytes.Contains(dbBytes(), oldSeed) {
		t.Fatal("the retired checkpoint seed is still in the database file or its WAL")
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM wrapped_keys WHERE tenant_id = '' AND purpose = 'audit-checkpoint'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("checkpoint seeds stored: %d %v", n, err)
	}
	if err := db.QueryRow(`SELECT count(*) FROM audit_entries WHERE tenant_id = '' AND action = 'audit.key.rotate' AND target_id = '2' AND outcome = 'success'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rotation entries in the system chain: %d %v", n, err)
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify after rotation: %q", out)
	}
	mustEngram(t, nil, "audit", "verify", "--data", data, "--checkpoint", keptFile)

	// A KEK rotation rewraps every version: keys list, verification,
	// sealing and the old bundle all still work.
	mustEngram(t, nil, "kek", "rotate", "--data", data)
	if got := mustEngram(t, nil, "audit", "key", "--all", "--data", data); got != all {
		t.Fatalf("audit key --all after kek rotate:\n%s", got)
	}
	mustEngram(t, nil, "audit", "seal", "--data", data)
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify after kek rotate: %q", out)
	}
	mustEngram(t, nil, "audit", "verify", "--data", data, "--checkpoint", keptFile)
	if out := mustEngram(t, nil, "audit", "check-bundle", bundle, "--key", vk1); !strings.Contains(out, "intact") {
		t.Fatalf("old bundle after kek rotate: %q", out)
	}
	// A second rotation still works under the new KEK.
	out = mustEngram(t, nil, "audit", "key", "rotate", "--data", data)
	if err := json.Unmarshal([]byte(out), &rot); err != nil || rot.From != 2 || rot.To != 3 {
		t.Fatalf("second rotate: %v %s", err, out)
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify after a second rotation: %q", out)
	}
}
