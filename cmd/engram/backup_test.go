package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/backup"
)

// nodeEntries lists the system chain's node.* entries of a data
// directory's database as "action target reason".
func nodeEntries(t *testing.T, data string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(data, "engram.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT action, target_id, reason FROM audit_entries WHERE tenant_id = '' AND action LIKE 'node.%' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, id, r string
		if err := rows.Scan(&a, &id, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(a+" "+id+" "+r))
	}
	return out
}

// digestIn is the sha256:… digest a backup command printed.
func digestIn(t *testing.T, out string) string {
	t.Helper()
	i := strings.Index(out, "sha256:")
	if i < 0 || len(out) < i+7+32 {
		t.Fatalf("no digest in %q", out)
	}
	return out[i : i+7+32]
}

// statusOf is the status of a command that failed (0 when it ran clean).
func statusOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return ee.ExitCode()
}

// TestBackupUnderLoad takes a backup while a client writes through the
// API, and restores it into a new directory where serve starts and every
// write acknowledged before the backup began reads back under the original
// owner key; the file holds the marker's row but not its text, and a cut,
// altered or misplaced restore is refused.
func TestBackupUnderLoad(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServer(t, data)
	key := ownerKey(t, data)
	c := client.New(s.url, key)
	ctx := context.Background()
	nonce := make([]byte, 8)
	rand.Read(nonce)
	marker := "backup marker " + hex.EncodeToString(nonce)
	res, err := c.Add(ctx, client.AddRequest{Content: marker, UserID: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	markerID := res[0].ID

	var mu sync.Mutex
	acked := []string{markerID}
	stop := make(chan struct{})
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			res, err := c.Add(ctx, client.AddRequest{Content: fmt.Sprintf("load note %d", i), UserID: "carol"})
			if err != nil {
				t.Errorf("write during backup: %v", err)
				return
			}
			mu.Lock()
			acked = append(acked, res[0].ID)
			mu.Unlock()
			if i == 5 {
				close(ready)
			}
		}
	}()
	<-ready
	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	file := filepath.Join(dir, "node.backup")
	bout, _, err := engram(t, nil, "backup", "--data", data, "--to", file)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	digest := digestIn(t, bout)
	close(stop)
	<-done
	mu.Lock()
	total := len(acked)
	mu.Unlock()
	if total <= len(before) {
		t.Fatalf("no write went on during the backup (%d acknowledged)", total)
	}

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup mode %o", fi.Mode().Perm())
	}
	if !bytes.Contains(raw, []byte(markerID)) {
		t.Fatal("control: the marker's id is not in the backup")
	}
	if bytes.Contains(raw, []byte(marker)) || bytes.Contains(raw, []byte(hex.EncodeToString(nonce))) {
		t.Fatal("the backup holds the marker's plaintext")
	}
	kekRaw, _ := os.ReadFile(filepath.Join(data, "kek.key"))
	if len(kekRaw) == 0 || bytes.Contains(raw, bytes.TrimSpace(kekRaw)) {
		t.Fatal("the backup holds the KEK file")
	}
	if _, _, err := engram(t, nil, "backup", "--data", data, "--to", file); statusOf(t, err) != 1 {
		t.Fatalf("a backup overwrote %s: %v", file, err)
	}

	// Cut and altered files are refused before the target is touched.
	kek := filepath.Join(data, "kek.key")
	bad := map[string][]byte{"truncated": raw[:len(raw)-4096], "altered": bytes.Clone(raw)}
	bad["altered"][len(raw)/2] ^= 0x40
	for name, b := range bad {
		f := filepath.Join(dir, name+".backup")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, "restore-"+name)
		_, stderr, err := engram(t, nil, "restore", "--from", f, "--data", target, "--kek", kek)
		if statusOf(t, err) != 1 || !strings.Contains(stderr, "not a valid engram backup") {
			t.Fatalf("%s backup: %v\n%s", name, err, stderr)
		}
		if _, err := os.Stat(filepath.Join(target, "engram.db")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s backup left a database: %v", name, err)
		}
	}

	restored := filepath.Join(dir, "restored")
	if _, stderr, err := engram(t, nil, "restore", "--from", file, "--data", restored); statusOf(t, err) != 1 || !strings.Contains(stderr, "no KEK") {
		t.Fatalf("restore without a KEK: %v\n%s", err, stderr)
	}
	out, stderr, err := engram(t, nil, "restore", "--from", file, "--data", restored, "--kek", kek)
	if err != nil || !strings.Contains(out, "intact") || !strings.Contains(stderr, "no --checkpoint given") {
		t.Fatalf("restore: %v\n%s%s", err, out, stderr)
	}
	for _, f := range []string{"engram.db", "kek.key"} {
		if fi, err := os.Stat(filepath.Join(restored, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("restored %s: %v %v", f, fi, err)
		}
	}
	// The node's chain records the backup (after the copy, so the copy
	// does not), and the restored one records its restore, unchecked.
	if got := nodeEntries(t, data); len(got) != 1 || got[0] != "node.backup "+digest {
		t.Fatalf("node entries of the source: %q, want the backup %s", got, digest)
	}
	if got := nodeEntries(t, restored); len(got) != 1 || got[0] != "node.restore "+digest+" unchecked" {
		t.Fatalf("node entries of the restored node: %q", got)
	}
	mustEngram(t, nil, "audit", "verify", "--data", restored)
	s.stop(t)

	s2 := startServer(t, restored)
	c2 := client.New(s2.url, key)
	for _, id := range before {
		if _, err := c2.Get(ctx, id); err != nil {
			t.Fatalf("write %s acknowledged before the backup is missing: %v", id, err)
		}
	}
	if m, err := c2.Get(ctx, markerID); err != nil || m.Content != marker {
		t.Fatalf("marker after restore: %v %v", m, err)
	}
	// Not over a running server, even with --force.
	if _, stderr, err := engram(t, nil, "restore", "--from", file, "--data", restored, "--force"); statusOf(t, err) == 0 || !strings.Contains(stderr, "in use") {
		t.Fatalf("restore beside a server: %v\n%s", err, stderr)
	}
	s2.stop(t)
	if _, stderr, err := engram(t, nil, "restore", "--from", file, "--data", restored); statusOf(t, err) != 1 || !strings.Contains(stderr, "not empty") {
		t.Fatalf("restore into a non-empty directory: %v\n%s", err, stderr)
	}
	mustEngram(t, nil, "restore", "--from", file, "--data", restored, "--force")
}

// TestRestoreReportsRollback: a backup older than a checkpoint the tenant
// already fetched is refused with exit 3 (and installed, still reported,
// with --allow-rollback); a backup taken after it passes the same check.
func TestRestoreReportsRollback(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServerWith(t, data, nil, "--audit-seal-entries", "1", "--audit-seal-interval", "100ms")
	key := ownerKey(t, data)
	c := client.New(s.url, key)
	ctx := context.Background()
	if _, err := c.Add(ctx, client.AddRequest{Content: "before the backup", UserID: "carol"}); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(dir, "old.backup")
	mustEngram(t, nil, "backup", "--data", data, "--to", old)
	page, err := c.Audit(ctx, engrampkg.AuditQuery{Limit: 1})
	if err != nil || len(page.Entries) == 0 {
		t.Fatalf("audit: %v", err)
	}
	inOld := page.Entries[0].Seq // at least the old backup's chain length
	for i := range 3 {
		if _, err := c.Add(ctx, client.AddRequest{Content: fmt.Sprintf("after the backup %d", i), UserID: "carol"}); err != nil {
			t.Fatal(err)
		}
	}
	var info *engrampkg.AuditCheckpointInfo
	for range 300 { // bounded wait for the server's sealer
		if info, err = c.AuditCheckpoint(ctx); err != nil {
			t.Fatal(err)
		}
		if info.TreeSize > inOld {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if info.TreeSize <= inOld {
		t.Fatalf("no checkpoint past %d", inOld)
	}
	b, _ := json.Marshal(info)
	cp := filepath.Join(dir, "checkpoint.json")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	kek := filepath.Join(data, "kek.key")

	target := filepath.Join(dir, "rolled-back")
	_, stderr, err := engram(t, nil, "restore", "--from", old, "--data", target, "--kek", kek, "--checkpoint", cp)
	if statusOf(t, err) != 3 || !strings.Contains(stderr, "ROLLBACK") {
		t.Fatalf("rollback not reported: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(target, "engram.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused rollback installed a database: %v", err)
	}
	_, stderr, err = engram(t, nil, "restore", "--from", old, "--data", target, "--kek", kek, "--checkpoint", cp, "--allow-rollback")
	if err != nil || !strings.Contains(stderr, "WARNING: ROLLBACK") {
		t.Fatalf("--allow-rollback: %v\n%s", err, stderr)
	}
	// The rollback stays on the record of the node it was installed on.
	if got := nodeEntries(t, target); len(got) != 1 || !strings.HasPrefix(got[0], "node.restore sha256:") || !strings.HasSuffix(got[0], " rollback") {
		t.Fatalf("node entries after an allowed rollback: %q", got)
	}

	// Control: a backup taken after the checkpoint reaches it.
	fresh := filepath.Join(dir, "fresh.backup")
	mustEngram(t, nil, "backup", "--data", data, "--to", fresh)
	out, stderr, err := engram(t, nil, "restore", "--from", fresh, "--data", filepath.Join(dir, "current"), "--kek", kek, "--checkpoint", cp)
	if err != nil || !strings.Contains(out, "no rollback") || strings.Contains(stderr, "ROLLBACK") {
		t.Fatalf("restore of a current backup: %v\n%s%s", err, out, stderr)
	}
	s.stop(t)
}

// TestRestoreRefusesForgedChain: the header hash is recomputable, so a
// backup whose database was edited and re-packed passes it; the audit
// chain's MACs (under keys only the KEK opens) still catch the edit. The
// same re-packing without the edit restores (the control).
func TestRestoreRefusesForgedChain(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServer(t, data)
	c := client.New(s.url, ownerKey(t, data))
	if _, err := c.Add(context.Background(), client.AddRequest{Content: "audited", UserID: "carol"}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "node.backup")
	mustEngram(t, nil, "backup", "--data", data, "--to", file)
	s.stop(t)
	kek := filepath.Join(data, "kek.key")

	repack := func(name, edit string) string {
		t.Helper()
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := backup.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		payload, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		dbPath := filepath.Join(dir, name+".db")
		if err := os.WriteFile(dbPath, payload, 0o600); err != nil {
			t.Fatal(err)
		}
		if edit != "" {
			db, err := sql.Open("sqlite", dbPath)
			if err != nil {
				t.Fatal(err)
			}
			res, err := db.Exec(edit)
			if n, _ := res.RowsAffected(); err != nil || n != 1 {
				t.Fatalf("edit: %v (%d rows)", err, n)
			}
			db.Close()
		}
		in, err := os.Open(dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		out := filepath.Join(dir, name+".backup")
		var buf bytes.Buffer
		if err := backup.Write(&buf, r.Header, in); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return out
	}
	same := repack("same", "")
	mustEngram(t, nil, "restore", "--from", same, "--data", filepath.Join(dir, "same"), "--kek", kek)
	forged := repack("forged", `UPDATE audit_entries SET outcome = 'denied' WHERE seq = (SELECT MAX(seq) FROM audit_entries WHERE tenant_id <> '') AND tenant_id <> ''`)
	target := filepath.Join(dir, "forged")
	_, stderr, err := engram(t, nil, "restore", "--from", forged, "--data", target, "--kek", kek)
	if statusOf(t, err) != 1 || !strings.Contains(stderr, "damaged") {
		t.Fatalf("forged chain: %v\n%s", err, stderr)
	}
	if _, err := os.Stat(filepath.Join(target, "engram.db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a forged backup was installed: %v", err)
	}
}
