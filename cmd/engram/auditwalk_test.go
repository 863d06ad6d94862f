package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMEAuditWalkThrough follows the README's audit section in its
// order: publish the verifier keys, rotate the signing key, seal, fetch a
// segment's bundle over the API and check it. After the rotation the
// bundle needs both key versions; the keys file the README publishes
// (engram audit key --all) holds them, and so does the JSON of GET
// /v1/audit/keys. The current key alone fails with a hint saying so.
func TestREADMEAuditWalkThrough(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + key}
	get := func(path, file string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	mustEngram(t, env, "add", "Audit me", "--user", "alice")
	dir := t.TempDir()
	mustEngram(t, nil, "audit", "seal", "--data", data)
	mustEngram(t, nil, "audit", "key", "rotate", "--data", data)
	mustEngram(t, env, "add", "After the rotation", "--user", "alice")
	mustEngram(t, nil, "audit", "seal", "--data", data)
	bundle := filepath.Join(dir, "seg.json")
	get("/v1/audit/segments/1/bundle", bundle)

	current := strings.TrimSpace(mustEngram(t, nil, "audit", "key", "--data", data))
	_, errOut, err := engram(t, nil, "audit", "check-bundle", bundle, "--key", current)
	if err == nil || !strings.Contains(errOut, "audit key --all") {
		t.Fatalf("current key only: %v %q (want a failure naming audit key --all)", err, errOut)
	}

	keysFile := filepath.Join(dir, "verifier-keys.txt")
	if err := os.WriteFile(keysFile, []byte(mustEngram(t, nil, "audit", "key", "--all", "--data", data)), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustEngram(t, nil, "audit", "check-bundle", bundle, "--keys", keysFile); !strings.Contains(out, "intact") {
		t.Fatalf("check-bundle --keys (audit key --all): %q", out)
	}
	apiKeys := filepath.Join(dir, "keys.json")
	get("/v1/audit/keys", apiKeys)
	if out := mustEngram(t, nil, "audit", "check-bundle", bundle, "--keys", apiKeys); !strings.Contains(out, "intact") {
		t.Fatalf("check-bundle --keys (GET /v1/audit/keys): %q", out)
	}
	if _, errOut, err := engram(t, nil, "audit", "check-bundle", bundle); err == nil || !strings.Contains(errOut, "--keys") {
		t.Fatalf("no keys: %v %q", err, errOut)
	}
}
