package main_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// binary is the engram command built once for these tests, so that they
// run it exactly as a user would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "engram-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "engram")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build engram: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is `engram serve` running in a subprocess.
type server struct {
	cmd    *exec.Cmd
	url    string
	stdout *testserver.SyncBuffer
	stderr *testserver.SyncBuffer
}

func startServer(t *testing.T, data string) *server {
	t.Helper()
	return startServerWith(t, data, nil)
}

// startServerWith starts `engram serve` with extra environment and flags.
func startServerWith(t *testing.T, data string, env []string, args ...string) *server {
	t.Helper()
	s, err := launchServer(data, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	return s
}

// launchServer starts `engram serve` and waits until it listens; an error
// when it could not start or did not come up (then it is not running).
// It does not touch a *testing.T, so a goroutine may call it.
func launchServer(data string, env []string, args ...string) (*server, error) {
	cmd := exec.Command(binary, append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(append(os.Environ(), "ENGRAM_API_KEY="), env...)
	s := &server{cmd: cmd, stdout: &testserver.SyncBuffer{}, stderr: &testserver.SyncBuffer{}}
	cmd.Stdout = s.stdout
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pw.Close()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.stderr.Write([]byte(line + "\n"))
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			cmd.Wait()
			return nil, fmt.Errorf("server exited before listening")
		}
		s.url = "http://" + a
		return s, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("server did not start")
	}
}

// stop sends SIGTERM and expects a clean exit.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("server exit: %v", err)
	}
}

// engram runs a CLI command and returns its stdout.
func engram(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func mustEngram(t *testing.T, env []string, args ...string) string {
	t.Helper()
	out, errOut, err := engram(t, env, args...)
	if err != nil {
		t.Fatalf("engram %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// TestFirstStartAndCLI is the new user's tour: first start, the owner key,
// the CLI against the running server, an offline tenant, restart.
func TestFirstStartAndCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)

	keyFile := filepath.Join(data, "admin.key")
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.key mode %o", fi.Mode().Perm())
	}
	raw, _ := os.ReadFile(keyFile)
	key := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(key, "egm_") || strings.Count(string(raw), "\n") != 1 {
		t.Fatalf("admin.key holds %q", raw)
	}
	// stdout is copied by its own goroutine: it may trail the "listening"
	// line read from stderr by a moment.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(string(s.stdout.Bytes()), key); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("first start did not print the owner key")
		}
	}
	for _, f := range []string{"kek.key", "engram.db"} {
		fi, err := os.Stat(filepath.Join(data, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v mode %v", f, err, fi)
		}
	}

	resp, err := http.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]string
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if resp.StatusCode != 200 || health["crypto_profile"] != "standard" {
		t.Fatalf("healthz: %d %v", resp.StatusCode, health)
	}

	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + key}
	out := mustEngram(t, env, "add", "Bob is allergic to peanuts", "--user", "bob")
	id := strings.Fields(out)[1]
	if !strings.HasPrefix(out, "ADD") {
		t.Fatalf("add: %q", out)
	}
	if out := mustEngram(t, env, "search", "peanut allergies? peanuts", "--user", "bob"); !strings.Contains(out, id) {
		t.Fatalf("search: %q", out)
	}
	if out := mustEngram(t, env, "list", "--user", "bob"); !strings.Contains(out, "allergic") {
		t.Fatalf("list: %q", out)
	}
	mustEngram(t, env, "update", id, "Bob is allergic to peanuts and shellfish")
	if out := mustEngram(t, env, "get", id); !strings.Contains(out, "shellfish") {
		t.Fatalf("get: %q", out)
	}
	if out := mustEngram(t, env, "history", id); !strings.Contains(out, "UPDATE") {
		t.Fatalf("history: %q", out)
	}
	mustEngram(t, env, "delete", id)
	if _, errOut, err := engram(t, env, "get", id); err == nil || !strings.Contains(errOut, "not_found") {
		t.Fatalf("get after delete: %v %q", err, errOut)
	}

	newKey := strings.TrimSpace(mustEngram(t, env, "keys", "create", "ci", "--scope", "memories:read"))
	if out := mustEngram(t, env, "keys", "list"); !strings.Contains(out, "ci") {
		t.Fatalf("keys list: %q", out)
	}
	roEnv := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + newKey}
	if _, errOut, err := engram(t, roEnv, "add", "nope"); err == nil || !strings.Contains(errOut, "forbidden") {
		t.Fatalf("read-only add: %v %q", err, errOut)
	}

	// Offline tenant creation while the server runs: one line, the key.
	tk := mustEngram(t, nil, "tenants", "create", "second", "--data", data)
	if strings.Count(tk, "\n") != 1 || !strings.HasPrefix(tk, "egm_") {
		t.Fatalf("tenants create printed %q", tk)
	}
	env2 := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + strings.TrimSpace(tk)}
	if out := mustEngram(t, env2, "list"); strings.Contains(out, "Bob") {
		t.Fatalf("second tenant sees the first's memories: %q", out)
	}
	if _, errOut, err := engram(t, nil, "tenants", "create", "second", "--data", data); err == nil || !strings.Contains(errOut, "already exists") {
		t.Fatalf("duplicate tenant: %v %q", err, errOut)
	}

	// Graceful stop; a restart reuses the data directory and the key.
	mustEngram(t, env, "add", "Written before the restart")
	s.stop(t)
	s2 := startServer(t, data)
	if strings.Contains(string(s2.stdout.Bytes()), "egm_") {
		t.Fatal("restart printed a new key")
	}
	env[0] = "ENGRAM_URL=" + s2.url
	if out := mustEngram(t, env, "search", "restart"); !strings.Contains(out, "Written before the restart") {
		t.Fatalf("after restart: %q", out)
	}
	s2.stop(t)
	if strings.Contains(string(s.stderr.Bytes())+string(s2.stderr.Bytes()), "peanuts") {
		t.Fatal("server log holds memory text")
	}
}

func TestClientErrors(t *testing.T) {
	if _, errOut, err := engram(t, []string{"ENGRAM_API_KEY="}, "list"); err == nil || !strings.Contains(errOut, "ENGRAM_API_KEY") {
		t.Fatalf("missing key: %v %q", err, errOut)
	}
	data := filepath.Join(t.TempDir(), "d")
	if _, errOut, err := engram(t, nil, "tenants", "create", "Bad Name!", "--data", data); err == nil || !strings.Contains(errOut, "tenant name") {
		t.Fatalf("bad tenant name: %v %q", err, errOut)
	}
}

// TestShutdownKeepsAcknowledgedWrites stops the server with SIGTERM while
// writers are busy: every write that was acknowledged is there after a
// restart.
func TestShutdownKeepsAcknowledgedWrites(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, _ := os.ReadFile(filepath.Join(data, "admin.key"))
	key := strings.TrimSpace(string(raw))
	c := client.New(s.url, key)

	var mu sync.Mutex
	var acked []string
	var wg sync.WaitGroup
	started := make(chan struct{}, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				res, err := c.Add(context.Background(), client.AddRequest{Content: fmt.Sprintf("writer %d note %d", w, i)})
				if err != nil {
					return // the server went away: stop writing
				}
				mu.Lock()
				acked = append(acked, res[0].ID)
				mu.Unlock()
				if i == 5 {
					started <- struct{}{}
				}
			}
		}()
	}
	for range 4 {
		<-started
	}
	s.stop(t)
	wg.Wait()
	if len(acked) < 24 {
		t.Fatalf("only %d writes acknowledged", len(acked))
	}
	s2 := startServer(t, data)
	c2 := client.New(s2.url, key)
	for _, id := range acked {
		if _, err := c2.Get(context.Background(), id); err != nil {
			t.Fatalf("acknowledged write %s lost: %v", id, err)
		}
	}
	s2.stop(t)
}

// TestFIPSStart: under GODEBUG=fips140=on the server reports the fips
// profile; when a FIPS self-test fails it exits non-zero without serving.
func TestFIPSStart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cmd := exec.Command(binary, "serve", "--data", data, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "GODEBUG=fips140=on,failfipscast=CounterKDF")
	out, err := cmd.CombinedOutput()
	if err == nil || strings.Contains(string(out), `"listening"`) {
		t.Fatalf("a failed self-test must stop the start: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(data, "admin.key")); err == nil {
		t.Fatal("the failed start created a tenant")
	}

	t.Setenv("GODEBUG", "fips140=on")
	s := startServer(t, data)
	resp, err := http.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var health map[string]string
	json.NewDecoder(resp.Body).Decode(&health)
	resp.Body.Close()
	if health["crypto_profile"] != "fips" {
		t.Fatalf("healthz under fips140=on: %v", health)
	}
	raw, _ := os.ReadFile(filepath.Join(data, "admin.key"))
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + strings.TrimSpace(string(raw))}
	mustEngram(t, env, "add", "stored under the fips profile")
	if out := mustEngram(t, env, "search", "fips profile"); !strings.Contains(out, "stored under the fips profile") {
		t.Fatalf("search: %q", out)
	}
	s.stop(t)
}

// TestOfflineKeyOperations runs the operator commands a security team uses
// against a data directory: rotate a tenant's keys, rotate the KEK, forget
// a tenant; the data stays readable throughout except what was erased.
func TestOfflineKeyOperations(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, _ := os.ReadFile(filepath.Join(data, "admin.key"))
	key := strings.TrimSpace(string(raw))
	env := []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + key}
	for i := range 5 {
		mustEngram(t, env, "add", fmt.Sprintf("offline rotation note %d", i), "--user", fmt.Sprintf("u%d", i%2))
	}
	doomed := strings.TrimSpace(mustEngram(t, nil, "tenants", "create", "doomed", "--data", data))
	mustEngram(t, []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + doomed}, "add", "soon gone")

	// Key rotation works beside the running server.
	out := mustEngram(t, nil, "keys", "rotate", "--data", data, "--tenant", "default")
	var rot map[string]any
	if err := json.Unmarshal([]byte(out), &rot); err != nil || rot["tenant_key_version"] != float64(2) || rot["records_reencrypted"].(float64) < 5 {
		t.Fatalf("keys rotate: %v %s", err, out)
	}
	if out := mustEngram(t, env, "search", "offline rotation note", "-n", "10"); strings.Count(out, "offline rotation note") != 5 {
		t.Fatalf("after rotation: %q", out)
	}
	s.stop(t)

	// KEK rotation with the server stopped: a new key file, same data.
	before, _ := os.ReadFile(filepath.Join(data, "kek.key"))
	out = mustEngram(t, nil, "kek", "rotate", "--data", data)
	after, _ := os.ReadFile(filepath.Join(data, "kek.key"))
	if bytes.Equal(before, after) || !strings.Contains(out, "keys_rewrapped") {
		t.Fatalf("kek rotate: %s", out)
	}
	fi, _ := os.Stat(filepath.Join(data, "kek.key"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("new kek mode %o", fi.Mode().Perm())
	}

	if _, errOut, err := engram(t, nil, "tenants", "forget", "doomed", "--data", data); err == nil || !strings.Contains(errOut, "--yes") {
		t.Fatalf("forget without --yes: %v %s", err, errOut)
	}
	out = mustEngram(t, nil, "tenants", "forget", "doomed", "--yes", "--data", data)
	if !strings.Contains(out, `"memories_deleted": 1`) {
		t.Fatalf("tenants forget: %s", out)
	}

	s2 := startServer(t, data)
	env[0] = "ENGRAM_URL=" + s2.url
	if out := mustEngram(t, env, "search", "offline rotation note", "-n", "10"); strings.Count(out, "offline rotation note") != 5 {
		t.Fatalf("after kek rotation: %q", out)
	}
	if _, errOut, err := engram(t, []string{"ENGRAM_URL=" + s2.url, "ENGRAM_API_KEY=" + doomed}, "list"); err == nil || !strings.Contains(errOut, "unauthenticated") {
		t.Fatalf("forgotten tenant's key: %v %s", err, errOut)
	}
	out = mustEngram(t, env, "forget", "u0", "--yes", "--json")
	if !strings.Contains(out, `"memories_deleted": 3`) {
		t.Fatalf("forget user: %s", out)
	}
	s2.stop(t)

	// Key rotation, KEK rotation, a tenant's and a user's erasure: every
	// remaining audit chain still verifies (system and default).
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "2 chain(s)") || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify after rotations and erasures: %q", out)
	}
}
