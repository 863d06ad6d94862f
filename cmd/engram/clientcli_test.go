package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestClientCommandsForPeople runs the client commands as a new user
// would, against a real server: errors say what is wrong once and
// helpfully, stored escape sequences never reach the terminal, --json is
// honoured everywhere, lifetimes take days, and erasure asks first.
func TestClientCommandsForPeople(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + strings.TrimSpace(string(raw))}

	t.Run("field errors, one prefix, no value", func(t *testing.T) {
		long := strings.Repeat("u", 300) // user_id is at most 256 bytes
		_, errOut, err := engram(t, env, "add", "some text", "--user", long)
		if err == nil {
			t.Fatal("an over-long user id was accepted")
		}
		if strings.Contains(errOut, "engram: engram:") || strings.Count(errOut, "engram:") != 1 {
			t.Errorf("prefix: %q", errOut)
		}
		if !strings.Contains(errOut, "body.user_id") || !strings.Contains(errOut, "256") {
			t.Errorf("the field error is missing: %q", errOut)
		}
		if strings.Contains(errOut, long) {
			t.Errorf("the offending value is echoed: %q", errOut)
		}
	})

	t.Run("connection refused names the URL and a way out", func(t *testing.T) {
		dead := []string{"ENGRAM_URL=http://127.0.0.1:1", env[1]}
		_, errOut, err := engram(t, dead, "list", "--user", "someone")
		if err == nil {
			t.Fatal("no error without a server")
		}
		for _, want := range []string{"http://127.0.0.1:1", "connection refused", "engram serve", "ENGRAM_URL"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("missing %q in %q", want, errOut)
			}
		}
		if strings.Contains(errOut, "someone") || strings.Contains(errOut, "engram: engram:") {
			t.Errorf("error holds the query or a doubled prefix: %q", errOut)
		}
	})

	t.Run("stored control characters are escaped for people, exact in JSON", func(t *testing.T) {
		evil := "Evil \x1b[31mred\x1b[0m \x1b]8;;http://x\x07link\x1b]8;;\x07 \u202eright\u009b2J end"
		out := mustEngram(t, env, "add", evil, "--user", "eve", "--json")
		var added struct {
			Results []struct{ ID string } `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &added); err != nil || len(added.Results) != 1 {
			t.Fatalf("add --json: %v %q", err, out)
		}
		id := added.Results[0].ID
		mustEngram(t, env, "update", id, evil+" again")
		for _, args := range [][]string{
			{"list", "--user", "eve"}, {"search", "evil red", "--user", "eve"}, {"get", id}, {"history", id},
			{"update", id, evil},
		} {
			out := mustEngram(t, env, args...)
			if strings.ContainsAny(out, "\x1b\x07\u202e\u009b") {
				t.Errorf("%s prints raw control characters: %q", args[0], out)
			}
			if !strings.Contains(out, `\x1b[31mred`) {
				t.Errorf("%s does not show the escaped text: %q", args[0], out)
			}
		}
		var m struct {
			Memory string `json:"memory"`
		}
		if err := json.Unmarshal([]byte(mustEngram(t, env, "get", id, "--json")), &m); err != nil || m.Memory != evil {
			t.Errorf("get --json changed the text: %v %q", err, m.Memory)
		}
	})

	t.Run("every client command honours --json", func(t *testing.T) {
		out := mustEngram(t, env, "add", "Json is a format", "--user", "jay", "--json")
		var added struct {
			Results []struct{ ID string } `json:"results"`
		}
		if err := json.Unmarshal([]byte(out), &added); err != nil || len(added.Results) == 0 {
			t.Fatalf("add --json: %v %q", err, out)
		}
		id := added.Results[0].ID
		key := strings.TrimSpace(mustEngram(t, env, "keys", "create", "j", "--scope", "memories:read", "--json"))
		var k struct{ ID string }
		if err := json.Unmarshal([]byte(key), &k); err != nil || k.ID == "" {
			t.Fatalf("keys create --json: %v %q", err, key)
		}
		for _, args := range [][]string{
			{"search", "format", "--user", "jay"}, {"list", "--user", "jay"}, {"get", id},
			{"update", id, "Json is a data format"}, {"history", id}, {"keys", "list"}, {"audit", "list", "--limit", "3"},
			{"keys", "revoke", k.ID}, {"delete", id}, {"forget", "jay", "--yes"},
		} {
			out := mustEngram(t, env, append(args, "--json")...)
			var v map[string]any
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Errorf("%s --json is not a JSON object: %v %q", strings.Join(args[:1], " "), err, out)
			}
		}
	})

	t.Run("key lifetimes in days and weeks", func(t *testing.T) {
		for flag, want := range map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "36h": 36 * time.Hour} {
			out := mustEngram(t, env, "keys", "create", "exp-"+flag, "--expires-in", flag, "--json")
			var k struct {
				ExpiresAt time.Time `json:"expires_at"`
			}
			if err := json.Unmarshal([]byte(out), &k); err != nil {
				t.Fatalf("%s: %v %q", flag, err, out)
			}
			if got := time.Until(k.ExpiresAt); got < want-time.Minute || got > want+time.Minute {
				t.Errorf("--expires-in %s: expires in %v, want %v", flag, got, want)
			}
		}
		for _, bad := range []string{"30x", "-3d", "0d", "d"} {
			if _, errOut, err := engram(t, env, "keys", "create", "bad", "--expires-in="+bad); err == nil {
				t.Errorf("--expires-in %s accepted: %q", bad, errOut)
			}
		}
	})

	t.Run("forget asks first; without a terminal it needs --yes", func(t *testing.T) {
		mustEngram(t, env, "add", "Zoe likes jazz", "--user", "zoe")
		// engram() runs the command with standard input on /dev/null.
		_, errOut, err := engram(t, env, "forget", "zoe")
		if err == nil || !strings.Contains(errOut, "--yes") {
			t.Fatalf("forget without --yes: %v %q", err, errOut)
		}
		if out := mustEngram(t, env, "list", "--user", "zoe"); !strings.Contains(out, "jazz") {
			t.Fatalf("refused forget erased anyway: %q", out)
		}
		out := mustEngram(t, env, "forget", "zoe", "--yes")
		if !strings.Contains(out, "1 memories") {
			t.Fatalf("forget --yes: %q", out)
		}
		if out := mustEngram(t, env, "list", "--user", "zoe"); strings.Contains(out, "jazz") {
			t.Fatalf("forgotten user still listed: %q", out)
		}
	})

	t.Run("help names ENGRAM_API_KEY", func(t *testing.T) {
		for _, c := range [][]string{{"add"}, {"search"}, {"list"}, {"get"}, {"update"}, {"delete"}, {"history"},
			{"forget"}, {"keys", "create"}, {"keys", "list"}, {"keys", "revoke"}, {"audit", "list"}, {"mcp"}} {
			cmd := exec.Command(binary, append(c, "--help")...)
			cmd.Env = append(os.Environ(), "ENGRAM_API_KEY=")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "ENGRAM_API_KEY") {
				t.Errorf("%s --help: %v\n%s", strings.Join(c, " "), err, out)
			}
		}
	})
}
