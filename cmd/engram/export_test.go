package main_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportVerify: an export fetched from the running server verifies
// with the published key through the real binary; one byte changed in a
// memory, or another key pinned, fails with exit status 1.
func TestExportVerify(t *testing.T) {
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

	get := func(path string) []byte {
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
		return b
	}
	doc := get("/v1/export?format=json")
	var k struct {
		PublicKey string `json:"public_key"`
	}
	if err := json.Unmarshal(get("/v1/export/keys"), &k); err != nil || k.PublicKey == "" {
		t.Fatalf("export key: %v %+v", err, k)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "export.json")
	if err := os.WriteFile(file, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustEngram(t, nil, "export", "verify", file, "--public-key", k.PublicKey)
	if !strings.Contains(out, "intact") || !strings.Contains(out, "memory 1,") || strings.Contains(out, "warning") {
		t.Fatalf("verify: %q", out)
	}

	i := bytes.Index(doc, []byte("green stamps"))
	if i < 0 {
		t.Fatalf("the export lacks the memory: %s", doc)
	}
	tampered := bytes.Clone(doc)
	tampered[i] = 'G'
	bad := filepath.Join(dir, "tampered.json")
	if err := os.WriteFile(bad, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := engram(t, nil, "export", "verify", bad, "--public-key", k.PublicKey)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(errOut, "checksum") {
		t.Fatalf("tampered export: %v %s", err, errOut)
	}
	// Signed, intact, but not by the pinned key.
	other := "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	_, errOut, err = engram(t, nil, "export", "verify", file, "--public-key", other)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(errOut, "pinned") {
		t.Fatalf("wrong key: %v %s", err, errOut)
	}

	// The other formats verify too, and the same tampering is caught.
	for _, format := range []string{"jsonld", "pam"} {
		doc := get("/v1/export?format=" + format)
		file := filepath.Join(dir, "export."+format)
		if err := os.WriteFile(file, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		out := mustEngram(t, nil, "export", "verify", file, "--public-key", k.PublicKey)
		if !strings.Contains(out, "intact") || !strings.Contains(out, "memory 1,") || strings.Contains(out, "warning") {
			t.Fatalf("verify %s: %q", format, out)
		}
		tampered := bytes.Replace(doc, []byte("green stamps"), []byte("Green stamps"), 1)
		bad := filepath.Join(dir, "tampered."+format)
		if err := os.WriteFile(bad, tampered, 0o600); err != nil {
			t.Fatal(err)
		}
		_, errOut, err := engram(t, nil, "export", "verify", bad, "--public-key", k.PublicKey)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(errOut, "checksum") {
			t.Fatalf("tampered %s: %v %s", format, err, errOut)
		}
		_, errOut, err = engram(t, nil, "export", "verify", file, "--public-key", other)
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(errOut, "pinned") {
			t.Fatalf("%s, wrong key: %v %s", format, err, errOut)
		}
	}
}
