package main_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// privateCluster starts a PostgreSQL cluster of the test's own with
// scripts/pgtest (restarting the one every package's tests share would
// fail theirs) and points postgrestest at it. It is stopped and removed
// when the test ends. Needs what scripts/pgtest needs; like every
// PostgreSQL test it skips without ENGRAM_TEST_POSTGRES, and fails in CI.
func privateCluster(t *testing.T) (dir string) {
	t.Helper()
	postgrestest.ServerDSN(t) // skip or fail as the other PostgreSQL tests do
	cmd := exec.Command("../../scripts/pgtest", "sh", "-c",
		`echo "$ENGRAM_TEST_POSTGRES"; echo "$ENGRAM_TEST_POSTGRES_DIR"; read _`)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Closing its input ends the command, and scripts/pgtest then stops
	// the cluster and removes its directory.
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) < 2 || lines[0] == "" || lines[1] == "" {
		t.Fatalf("scripts/pgtest did not start a cluster: %q, %v", lines, sc.Err())
	}
	t.Setenv(postgrestest.Env, lines[0])
	t.Setenv("ENGRAM_TEST_POSTGRES_DIR", lines[1])
	return lines[1]
}

// addLoad adds memories through mem from writers goroutines, writer w's
// i-th with the content "writer w note i", until stop is closed; after
// every attempt it calls done with when the attempt began, the content,
// the new memory's id ("" when refused) and the error, and a writer whose
// done returns false stops. Wait for the writers with the WaitGroup
// returned.
func addLoad(ctx context.Context, mem *client.Memories, writers int, stop <-chan struct{},
	done func(began time.Time, content, id string, err error) bool) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				content := fmt.Sprintf("writer %d note %d", w, i)
				began := time.Now()
				res, err := mem.Add(ctx, engrampkg.AddRequest{Content: content, Scope: engrampkg.Scope{UserID: fmt.Sprintf("u%d", w)}})
				id := ""
				if err == nil {
					id = res[0].ID
				}
				if !done(began, content, id, err) {
					return
				}
			}
		})
	}
	return &wg
}

// waitUntil polls cond (under mu) until it holds, and fails the test after
// 60 s, once abort (which stops the load the test started) has run.
func waitUntil(t *testing.T, mu *sync.Mutex, what string, cond func() bool, abort func()) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		ok := cond()
		mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			abort()
			t.Fatalf("%s: not within 60 s", what)
		}
	}
}

// TestPostgresRestartUnderLoad restarts the database server (pg_ctl
// restart -m fast: every session terminated, transactions in flight rolled
// back) while four clients keep adding memories through one node: every
// write the node acknowledged is there afterwards and decrypts, the node
// recovers by itself — a write begun after the server is back is not
// refused for a connection the pool kept from before — and the audit
// chains verify.
func TestPostgresRestartUnderLoad(t *testing.T) {
	privateCluster(t)
	dsn := postgrestest.NewEmptyDatabase(t)
	data := filepath.Join(t.TempDir(), "n1")
	n := startServerWith(t, data, nil, "--store", dsn)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	mem := client.New(n.url, strings.TrimSpace(string(raw))).Memories()

	var (
		mu       sync.Mutex
		acked    = map[string]string{}
		failed   int       // writes refused during the restart
		back     time.Time // when the restarted server accepted connections
		afterAck int       // writes begun after back, acknowledged
		lateErrs []error   // writes begun after back, refused
	)
	stop := make(chan struct{})
	wg := addLoad(t.Context(), mem, 4, stop, func(began time.Time, content, id string, err error) bool {
		mu.Lock()
		late := !back.IsZero() && began.After(back)
		switch {
		case err != nil && late:
			lateErrs = append(lateErrs, err)
		case err != nil:
			failed++
		default:
			acked[id] = content
			if late {
				afterAck++
			}
		}
		mu.Unlock()
		if err != nil {
			time.Sleep(50 * time.Millisecond) // a refused write: do not spin
		}
		return true
	})
	abort := func() { close(stop); wg.Wait() }
	waitUntil(t, &mu, "20 writes acknowledged before the restart", func() bool { return len(acked) >= 20 }, abort)

	restart := exec.Command("bash", "-c", ". ../../scripts/pgtest && pgtest_restart")
	if out, err := restart.CombinedOutput(); err != nil {
		abort()
		t.Fatalf("restart the database server: %v\n%s", err, out)
	}
	mu.Lock()
	back = time.Now()
	mu.Unlock()
	waitUntil(t, &mu, "20 writes begun after the restart acknowledged", func() bool { return afterAck >= 20 }, abort)
	abort()
	for _, err := range lateErrs {
		t.Errorf("a write begun after the server was back was refused: %v", err)
	}

	resp, err := http.Get(n.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz after the restart: %d", resp.StatusCode)
	}
	for id, content := range acked {
		m, err := mem.Get(context.Background(), id)
		if err != nil || m.Content != content {
			t.Errorf("acknowledged %s after the restart: %v", id, err)
		}
	}
	n.stop(t)
	if out := mustEngram(t, nil, "audit", "verify", "--data", data, "--store", dsn); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %q", out)
	}
	t.Logf("%d acknowledged writes checked, %d refused during the restart, %d acknowledged after it",
		len(acked), failed, afterAck)
}
