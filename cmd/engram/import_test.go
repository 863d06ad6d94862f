package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportCLI: an export taken from the running server imports into
// another tenant of the same data directory through the real binary,
// beside the server; a dry run writes nothing, a tampered file exits 1.
func TestImportCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + key}
	id := strings.Fields(mustEngram(t, env, "add", "Dana collects blue stamps", "--user", "dana"))[1]
	mustEngram(t, env, "update", id, "Dana collects green stamps")

	req, _ := http.NewRequest(http.MethodGet, s.url+"/v1/export", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	file := filepath.Join(t.TempDir(), "export.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	otherKey := strings.TrimSpace(mustEngram(t, nil, "tenants", "create", "other", "--data", data))

	out := mustEngram(t, nil, "import", file, "--tenant", "other", "--data", data, "--dry-run", "--user-id", "erin")
	if !strings.Contains(out, "would import") || !strings.Contains(out, "memory   created 1") {
		t.Fatalf("dry run: %q", out)
	}
	other := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + otherKey}
	if got := mustEngram(t, other, "list", "--user", "erin"); strings.Contains(got, "stamps") {
		t.Fatalf("a dry run wrote: %q", got)
	}

	tampered := filepath.Join(t.TempDir(), "tampered.json")
	if err := os.WriteFile(tampered, []byte(strings.Replace(string(doc), "green", "olive", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := engram(t, nil, "import", tampered, "--tenant", "other", "--data", data); err == nil || !strings.Contains(errOut, "import_tampered") {
		t.Fatalf("tampered import: %v %q", err, errOut)
	}

	out = mustEngram(t, nil, "import", file, "--tenant", "other", "--data", data, "--mode", "new_ids", "--user-id", "erin")
	if !strings.Contains(out, "imported 1 records") || !strings.Contains(out, "verified") {
		t.Fatalf("import: %q", out)
	}
	got := mustEngram(t, other, "list", "--user", "erin")
	if !strings.Contains(got, "Dana collects green stamps") {
		t.Fatalf("after import: %q", got)
	}
	hid := strings.Fields(strings.Split(got, "\n")[1])[0] // under the header
	if h := mustEngram(t, other, "history", hid); !strings.Contains(h, "blue stamps") {
		t.Fatalf("history after import: %q", h)
	}
}
