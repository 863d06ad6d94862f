package main_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestObserveCommands observes Mira's two conversations with `engram
// observe` (from a file, then from standard input) and reads back what it
// learned with `engram facts` and `engram entities`, against `engram serve`.
func TestObserveCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + strings.TrimSpace(string(raw))}

	first := filepath.Join(t.TempDir(), "first.json")
	if err := os.WriteFile(first, []byte(`[{"role": "user", "name": "Mira", "content": "I live in Lyon and I work at Renault. I love climbing.", "timestamp": "2026-01-10T09:00:00Z"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustEngram(t, env, "observe", first, "--user", "mira")
	if !strings.Contains(out, ": done") || !strings.Contains(out, "Lyon") {
		t.Fatalf("observe: %s", out)
	}

	cmd := exec.Command(binary, "observe", "--user", "mira", "--json")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(`{"messages": [{"role": "user", "name": "Mira", "content": "Big news: I moved to Berlin last week and I joined Zalando two days ago.", "timestamp": "2026-03-15T09:00:00Z"}]}`)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("observe from stdin: %v %s", err, stderr.String())
	}
	var ep struct {
		Status string `json:"status"`
		Facts  []struct{ Event string }
	}
	if err := json.Unmarshal(stdout.Bytes(), &ep); err != nil || ep.Status != "done" || len(ep.Facts) != 4 {
		t.Fatalf("observe --json: %v %s", err, stdout.String())
	}

	out = mustEngram(t, env, "facts", "list", "--user", "mira")
	if !strings.Contains(out, "Berlin") || !strings.Contains(out, "Zalando") || strings.Contains(out, "Lyon") {
		t.Errorf("current facts: %s", out)
	}
	out = mustEngram(t, env, "facts", "list", "--user", "mira", "--all")
	if !strings.Contains(out, "Lyon") || !strings.Contains(out, "2026-03-08") {
		t.Errorf("all facts (Lyon ended on 8 Mar): %s", out)
	}
	out = mustEngram(t, env, "facts", "list", "--user", "mira", "--as-of", "2026-02-01")
	if !strings.Contains(out, "Lyon") || strings.Contains(out, "Berlin") {
		t.Errorf("facts as of 1 Feb: %s", out)
	}
	if _, errOut, err := engram(t, env, "facts", "list", "--as-of", "soon"); err == nil || !strings.Contains(errOut, "--as-of") {
		t.Errorf("a bad --as-of: %v %s", err, errOut)
	}
	out = mustEngram(t, env, "facts", "search", "Where does Mira live?", "--user", "mira")
	if !strings.Contains(out, "Berlin") {
		t.Errorf("search: %s", out)
	}

	out = mustEngram(t, env, "entities", "list", "--user", "mira", "--json")
	var l struct {
		Results []struct{ ID, Name string }
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	id := ""
	for _, e := range l.Results {
		if e.Name == "Mira" {
			id = e.ID
		}
	}
	if id == "" {
		t.Fatalf("no Mira in %s", out)
	}
	if out := mustEngram(t, env, "entities", "list", "--user", "mira", "--type", "place"); !strings.Contains(out, "Berlin") || strings.Contains(out, "Zalando") {
		t.Errorf("places: %s", out)
	}
	if out := mustEngram(t, env, "entities", "get", id); !strings.Contains(out, "Mira") || !strings.Contains(out, "Berlin") {
		t.Errorf("get: %s", out)
	}
	if _, errOut, err := engram(t, env, "entities", "forget", id); err == nil || !strings.Contains(errOut, "--yes") {
		t.Errorf("forget without --yes and no terminal: %v %s", err, errOut)
	}
	if out := mustEngram(t, env, "entities", "forget", id, "--yes"); !strings.Contains(out, "forgot entity") {
		t.Errorf("forget: %s", out)
	}
	if _, errOut, err := engram(t, env, "entities", "get", id); err == nil || !strings.Contains(errOut, "not_found") {
		t.Errorf("get after forget: %v %s", err, errOut)
	}
}
