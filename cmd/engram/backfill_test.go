package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/store"
)

// sinkHas reports whether the file sink at path holds the event id with
// exactly this entry. It reads while the server writes, so a last line
// still being written is skipped, not an error.
func sinkHas(path, id string, entry []byte) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var env sink.Envelope
		if json.Unmarshal(sc.Bytes(), &env) == nil && env.ID == id && bytes.Equal(env.Entry, entry) {
			return true
		}
	}
	return false
}

// lastTenantCreate is the newest tenant.create entry of the system chain.
func lastTenantCreate(t *testing.T, data string) store.AuditRecord {
	t.Helper()
	sys := chains(t, data)[""]
	for i := len(sys) - 1; i >= 0; i-- {
		if sys[i].Entry.Action == engrampkg.AuditTenantCreate {
			return sys[i]
		}
	}
	t.Fatal("the system chain has no tenant.create")
	return store.AuditRecord{}
}

// TestAuditBackfillOfflineCommand: `engram tenants create`, run as a
// second process beside `engram serve --audit-sink file:…`, writes its
// system-chain entry with no sink; the server's back-fill publishes it to
// the file within a bounded wait. Run while no server is up, the next
// server's first pass publishes it at start. Afterwards the file holds
// every entry of every chain once, as chained; the metrics show the
// back-filled entries and nothing pending; the chains verify.
func TestAuditBackfillOfflineCommand(t *testing.T) {
	dir := t.TempDir()
	data, file := filepath.Join(dir, "data"), filepath.Join(dir, "audit.jsonl")
	args := []string{"--audit-sink", "file:" + file, "--audit-backfill-interval", "250ms"}
	s := startServerWith(t, data, nil, args...)

	// Beside the running server.
	mustEngram(t, nil, "tenants", "create", "ops", "--data", data)
	r := lastTenantCreate(t, data)
	id := sink.Event{TenantID: "", Seq: r.Entry.Seq}.ID()
	if r.Entry.Seq < 2 || r.Entry.Transport != "cli" {
		t.Fatalf("the offline tenant.create is %s over %q, want after the first start's, over cli", id, r.Entry.Transport)
	}
	waitFor(t, "the offline tenant.create ("+id+") in the file sink", func() bool {
		return sinkHas(file, id, audit.JSON(&r.Entry, r.KeyVersion, r.MAC))
	})
	metrics := scrape(t, s.url+"/metrics")
	if !strings.Contains(metrics, "engram_audit_backfill_published_total ") || !strings.Contains(metrics, "engram_audit_backfill_pending ") {
		t.Errorf("/metrics lacks the back-fill metrics:\n%s", metrics)
	}
	s.stop(t)

	// With no server running; the next start publishes it.
	mustEngram(t, nil, "tenants", "create", "ops2", "--data", data)
	r = lastTenantCreate(t, data)
	id = sink.Event{TenantID: "", Seq: r.Entry.Seq}.ID()
	s = startServerWith(t, data, nil, args...)
	waitFor(t, "the tenant.create written while no server ran ("+id+") in the file sink", func() bool {
		return sinkHas(file, id, audit.JSON(&r.Entry, r.KeyVersion, r.MAC))
	})
	waitFor(t, "nothing pending", func() bool {
		return strings.Contains(scrape(t, s.url+"/metrics"), "\nengram_audit_backfill_pending 0\n")
	})
	metrics = scrape(t, s.url+"/metrics")
	if !strings.Contains(metrics, "\nengram_audit_backfill_published_total 1\n") {
		t.Errorf("back-filled by the second server: want 1 in\n%s", grepLines(metrics, "engram_audit_backfill"))
	}
	s.stop(t)

	// Every entry of every chain once (readFileSink fails on a
	// duplicate), as chained.
	fromFile := readFileSink(t, file)
	total := 0
	for tenant, recs := range chains(t, data) {
		for _, r := range recs {
			id := sink.Event{TenantID: tenant, Seq: r.Entry.Seq}.ID()
			if got := fromFile[id]; !bytes.Equal(got, audit.JSON(&r.Entry, r.KeyVersion, r.MAC)) {
				t.Errorf("file sink %s: %s", id, got)
			}
			total++
		}
	}
	if len(fromFile) != total {
		t.Errorf("file sink has %d entries, the chains %d", len(fromFile), total)
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %q", out)
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
