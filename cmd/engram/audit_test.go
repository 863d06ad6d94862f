package main_test

import (
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"

	engrampkg "github.com/engram-memory/engram"
)

// TestAuditCLI: the owner lists the trail with the CLI, a read-only key is
// refused, `engram audit verify` passes while the server runs, and editing
// or deleting one row with SQL makes it fail naming the tenant and entry.
func TestAuditCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, _ := os.ReadFile(filepath.Join(data, "admin.key"))
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + strings.TrimSpace(string(raw))}
	out := mustEngram(t, env, "add", "the heron-7741 nests by the river", "--user", "carol")
	id := strings.Fields(out)[1]
	mustEngram(t, env, "get", id)
	ro := strings.TrimSpace(mustEngram(t, env, "keys", "create", "reader", "--scope", "memories:read"))
	roEnv := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + ro}
	if _, errOut, err := engram(t, roEnv, "audit", "list"); err == nil || !strings.Contains(errOut, "forbidden") {
		t.Fatalf("read-only audit list: %v %q", err, errOut)
	}
	out = mustEngram(t, env, "audit", "list")
	for _, want := range []string{"memory.create", "memory.read", "key.create", "audit.read", "denied (forbidden)"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit list lacks %q:\n%s", want, out)
		}
	}
	var page engrampkg.AuditPage
	if err := json.Unmarshal([]byte(mustEngram(t, env, "audit", "list", "--json", "--outcome", "denied")), &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Action != engrampkg.AuditRead {
		t.Fatalf("denied entries: %+v", page.Entries)
	}
	if strings.Contains(out, "heron") || strings.Contains(out, "carol") {
		t.Fatalf("audit list shows content or a user id:\n%s", out)
	}

	// Verify while the server runs, then offline.
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %q", out)
	}
	s.stop(t)
	if out := mustEngram(t, nil, "audit", "verify", "--data", data, "--tenant", "default"); !strings.Contains(out, "1 chain(s)") {
		t.Fatalf("verify --tenant: %q", out)
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const tenant = `(SELECT id FROM tenants WHERE name = 'default')`
	fails := func(wantSeq string) {
		t.Helper()
		_, errOut, err := engram(t, nil, "audit", "verify", "--data", data)
		if err == nil {
			t.Fatal("verify passed a tampered chain")
		}
		if !strings.Contains(errOut, "tenant default") || !strings.Contains(errOut, "entry "+wantSeq+":") {
			t.Fatalf("verify did not name tenant default, entry %s: %q", wantSeq, errOut)
		}
	}
	var outcome string
	if err := db.QueryRow(`SELECT outcome FROM audit_entries WHERE tenant_id = ` + tenant + ` AND seq = 2`).Scan(&outcome); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit_entries SET outcome = 'failure' WHERE tenant_id = ` + tenant + ` AND seq = 2`); err != nil {
		t.Fatal(err)
	}
	fails("2")
	if _, err := db.Exec(`UPDATE audit_entries SET outcome = ? WHERE tenant_id = `+tenant+` AND seq = 2`, outcome); err != nil {
		t.Fatal(err)
	}
	mustEngram(t, nil, "audit", "verify", "--data", data)
	if _, err := db.Exec(`DELETE FROM audit_entries WHERE tenant_id = ` + tenant + ` AND seq = 3`); err != nil {
		t.Fatal(err)
	}
	fails("3")
}
