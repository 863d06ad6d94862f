package main_test

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// TestServeOnPostgres runs two nodes on one PostgreSQL database, each with
// its own data directory and the same kek.key: the first start bootstraps
// the owner key; a memory written on one node is found on the other; a key
// revoked on one is refused on the other at its next request; the audit
// chain verifies from either; the data directories hold no database.
func TestServeOnPostgres(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	root := t.TempDir()
	d1, d2 := filepath.Join(root, "n1"), filepath.Join(root, "n2")
	store := []string{"ENGRAM_STORE=" + dsn}
	n1 := startServerWith(t, d1, store)
	raw, err := os.ReadFile(filepath.Join(d1, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	n2 := joinNode(t, d1, d2, dsn)
	if strings.Contains(string(n2.stdout.Bytes()), "egm_") {
		t.Fatal("the second node bootstrapped another owner key")
	}
	if _, err := os.Stat(filepath.Join(d1, "engram.db")); err == nil {
		t.Fatal("the first node made an embedded store beside PostgreSQL")
	}

	on := func(s *server, k string) []string { return []string{"ENGRAM_URL=" + s.url, "ENGRAM_API_KEY=" + k} }
	out := mustEngram(t, on(n1, key), "add", "Bob is allergic to peanuts", "--user", "bob")
	id := strings.Fields(out)[1]
	if out := mustEngram(t, on(n2, key), "search", "peanut allergies? peanuts", "--user", "bob"); !strings.Contains(out, id) {
		t.Fatalf("search on node 2: %q", out)
	}
	out = mustEngram(t, on(n2, key), "add", "Alice drinks green tea", "--user", "alice")
	id2 := strings.Fields(out)[1]
	if out := mustEngram(t, on(n1, key), "get", id2); !strings.Contains(out, "green tea") {
		t.Fatalf("get on node 1: %q", out)
	}

	ro := strings.TrimSpace(mustEngram(t, on(n1, key), "keys", "create", "ro", "--scope", "memories:read"))
	mustEngram(t, on(n2, ro), "list", "--user", "bob")
	kid := strings.Split(strings.TrimPrefix(ro, "egm_"), "_")[0]
	mustEngram(t, on(n1, key), "keys", "revoke", kid)
	if _, errOut, err := engram(t, on(n2, ro), "list", "--user", "bob"); err == nil || !strings.Contains(errOut, "unauthenticated") {
		t.Fatalf("a key revoked on node 1, on node 2: %v %q", err, errOut)
	}

	// An ordinary session through node 2 (sinks_test.go), its markers
	// then looked for at rest below.
	m := newMarkers(t)
	session(t, n2.url, key, m)

	n1.stop(t)
	n2.stop(t)
	noMarkersAtRest(t, m, d1, d2)
	if out := mustEngram(t, nil, "audit", "verify", "--data", d2, "--store", dsn); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %q", out)
	}
	if _, errOut, err := engram(t, nil, "backup", "--data", d1, "--store", dsn, "--to", filepath.Join(root, "b")); err == nil || !strings.Contains(errOut, "pg_dump") {
		t.Fatalf("backup of a PostgreSQL store: %v %q", err, errOut)
	}
}

// noMarkersAtRest checkpoints the PostgreSQL cluster, so that what the
// session wrote reaches the data files as well as the WAL, then reads
// every file of the cluster's directory (data files, WAL, server log;
// scripts/pgtest names it in ENGRAM_TEST_POSTGRES_DIR) and of the nodes'
// data directories, and fails on any marker. Scope ids (the user id) are
// stored in clear by design (docs/SECURITY.md) and are not markers here.
func noMarkersAtRest(t *testing.T, m *markers, dirs ...string) {
	t.Helper()
	if dir := os.Getenv("ENGRAM_TEST_POSTGRES_DIR"); dir != "" {
		admin, err := sql.Open("pgx", postgrestest.ServerDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.ExecContext(t.Context(), `CHECKPOINT`); err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		dirs = append(dirs, dir)
	} else {
		t.Log("ENGRAM_TEST_POSTGRES_DIR is not set: the cluster's files are not searched for markers")
	}
	want := []string{m.content, m.content2, m.query, m.meta}
	want = append(want, m.secrets...)
	files := 0
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				// A file of another test's database may go as we walk.
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			files++
			for _, w := range want {
				if bytes.Contains(b, []byte(w)) {
					t.Errorf("%s holds the marker %q", path, w)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files == 0 {
		t.Fatal("no file searched")
	}
}

// TestThreeNodesOnPostgres: three nodes on one database take concurrent
// writes and searches, then one erases a user another wrote: every other
// memory is readable (decryptable) on every node, the erased ones on none,
// a search on a node that indexed them finds them no more, and the audit
// chains verify.
func TestThreeNodesOnPostgres(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	nodes, dirs, key := nodesOn(t, dsn, 3, nil)

	ctx := t.Context()
	const perNode = 12
	type written struct{ id, user, content string }
	got := make([][]written, len(nodes))
	var wg sync.WaitGroup
	errs := make(chan error, len(nodes)*perNode*2)
	for i, n := range nodes {
		wg.Go(func() {
			mem := client.New(n.url, key).Memories()
			for j := range perNode {
				user := fmt.Sprintf("user-%d-%d", i, j%2)
				content := fmt.Sprintf("node %d wrote note %d about the %s harbour", i, j, []string{"north", "south"}[j%2])
				res, err := mem.Add(ctx, engrampkg.AddRequest{Content: content, Scope: engrampkg.Scope{UserID: user}})
				if err != nil {
					errs <- fmt.Errorf("node %d add: %w", i, err)
					continue
				}
				got[i] = append(got[i], written{res[0].ID, user, content})
				if _, err := mem.Search(ctx, engrampkg.SearchRequest{Query: "harbour", Scope: engrampkg.Scope{UserID: user}}); err != nil {
					errs <- fmt.Errorf("node %d search: %w", i, err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	// Node 1 indexes user-0-0's memories (written on node 0) by searching
	// them; node 2 erases the user.
	erased := "user-0-0"
	hits, err := client.New(nodes[1].url, key).Memories().Search(ctx, engrampkg.SearchRequest{Query: "north harbour", Scope: engrampkg.Scope{UserID: erased}})
	if err != nil || len(hits) == 0 {
		t.Fatalf("search on node 1 before the erasure: %d hits, %v", len(hits), err)
	}
	if _, err := client.New(nodes[2].url, key).ForgetUser(ctx, erased); err != nil {
		t.Fatalf("forget on node 2: %v", err)
	}

	for _, n := range nodes {
		mem := client.New(n.url, key).Memories()
		for _, ws := range got {
			for _, w := range ws {
				m, err := mem.Get(ctx, w.id)
				switch {
				case w.user == erased && engrampkg.ErrorCode(err) != engrampkg.CodeNotFound:
					t.Errorf("%s: an erased memory: %v", n.url, err)
				case w.user != erased && err != nil:
					t.Errorf("%s: get %s: %v", n.url, w.id, err)
				case w.user != erased && m.Content != w.content:
					t.Errorf("%s: get %s = %q, want %q", n.url, w.id, m.Content, w.content)
				}
			}
		}
	}
	hits, err = client.New(nodes[1].url, key).Memories().Search(ctx, engrampkg.SearchRequest{Query: "north harbour", Scope: engrampkg.Scope{UserID: erased}})
	if err != nil || len(hits) != 0 {
		t.Errorf("search on node 1 after the erasure on node 2: %d hits, %v", len(hits), err)
	}

	for _, n := range nodes {
		n.stop(t)
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", dirs[0], "--store", dsn); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %q", out)
	}
}

// TestPostgresOutage cuts one node's database off (no new connections,
// every open one terminated: to the node, a restart of the database) and
// lets it back: meanwhile /healthz answers 503 with the database
// "unavailable" and a write fails; afterwards the node reconnects by
// itself, /healthz is 200, writes work, what was acknowledged before is
// there, and the audit chains verify.
func TestPostgresOutage(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	data := filepath.Join(t.TempDir(), "n1")
	n := startServerWith(t, data, nil, "--store", dsn)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	env := []string{"ENGRAM_URL=" + n.url, "ENGRAM_API_KEY=" + key}
	health := func() (int, map[string]string) {
		t.Helper()
		resp, err := http.Get(n.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]string
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, body := health(); code != http.StatusOK || body["database"] != "ok" {
		t.Fatalf("healthz: %d %v", code, body)
	}
	id := strings.Fields(mustEngram(t, env, "add", "Written before the outage", "--user", "u"))[1]

	admin, err := sql.Open("pgx", postgrestest.ServerDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.ExecContext(t.Context(), `ALTER DATABASE `+name+` ALLOW_CONNECTIONS false`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.ExecContext(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
		t.Fatal(err)
	}
	if code, body := health(); code != http.StatusServiceUnavailable || body["database"] != "unavailable" || body["status"] != "unavailable" {
		t.Fatalf("healthz without the database: %d %v", code, body)
	}
	if _, _, err := engram(t, env, "add", "Written during the outage", "--user", "u"); err == nil {
		t.Fatal("a write was acknowledged without the database")
	}

	if _, err := admin.ExecContext(t.Context(), `ALTER DATABASE `+name+` ALLOW_CONNECTIONS true`); err != nil {
		t.Fatal(err)
	}
	// Connections the pool held when they were terminated are discarded
	// as they fail, or when pgx pings them before reusing one idle for
	// over a second (stdlib's ResetSession): readiness comes back within
	// moments, not necessarily at the first check, and after a second
	// every dead connection left is caught before use. (A real restart
	// takes longer than a second, so the second case is the usual one.)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		code, body := health()
		if code == http.StatusOK && body["database"] == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz 10 s after the outage: %d %v", code, body)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	mustEngram(t, env, "add", "Written after the outage", "--user", "u")
	if out := mustEngram(t, env, "get", id); !strings.Contains(out, "before the outage") {
		t.Fatalf("get after the outage: %q", out)
	}
	n.stop(t)
	if out := mustEngram(t, nil, "audit", "verify", "--data", data, "--store", dsn); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %q", out)
	}
}

// TestNodesStartTogether starts two nodes at once on one empty database:
// both come up (the migrations run once, under goose's lock) and exactly
// one of them bootstraps the owner key.
func TestNodesStartTogether(t *testing.T) {
	dsn := postgrestest.NewEmptyDatabase(t)
	root := t.TempDir()
	dirs := []string{filepath.Join(root, "n1"), filepath.Join(root, "n2")}
	// One KEK for both, as nodes of one database must share.
	for _, d := range dirs {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := local.OpenOrCreate(filepath.Join(dirs[0], "kek.key")); err != nil {
		t.Fatal(err)
	}
	kek, err := os.ReadFile(filepath.Join(dirs[0], "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirs[1], "kek.key"), kek, 0o600); err != nil {
		t.Fatal(err)
	}
	servers := make([]*server, len(dirs))
	var wg sync.WaitGroup
	for i, d := range dirs {
		wg.Go(func() { servers[i] = startServerNoFatal(d, dsn) })
	}
	wg.Wait()
	keys := 0
	for i, s := range servers {
		if s == nil {
			t.Fatalf("node %d did not start", i)
		}
		t.Cleanup(func() {
			if s.cmd.ProcessState == nil {
				s.cmd.Process.Kill()
				s.cmd.Wait()
			}
		})
		if _, err := os.Stat(filepath.Join(dirs[i], "admin.key")); err == nil {
			keys++
		}
	}
	if keys != 1 {
		t.Fatalf("%d nodes bootstrapped an owner key, want 1", keys)
	}
}

// startServerNoFatal is startServerWith for a goroutine: nil when the
// server did not come up.
func startServerNoFatal(data, dsn string) *server {
	s, err := launchServer(data, nil, "--store", dsn)
	if err != nil {
		return nil
	}
	return s
}

// TestNodeKilledMidWrite kills a node (SIGKILL) while writers keep adding
// through it, starts it again on the same database: every write it
// acknowledged is there and decrypts, and the audit chains verify.
func TestNodeKilledMidWrite(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	data := filepath.Join(t.TempDir(), "n1")
	n := startServerWith(t, data, nil, "--store", dsn)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	mem := client.New(n.url, key).Memories()

	ctx := t.Context()
	var mu sync.Mutex
	acked := map[string]string{}
	stop := make(chan struct{})
	wg := addLoad(ctx, mem, 4, stop, func(_ time.Time, content, id string, err error) bool {
		if err != nil {
			return false // the node is gone
		}
		mu.Lock()
		acked[id] = content
		mu.Unlock()
		return true
	})
	waitUntil(t, &mu, "20 writes acknowledged", func() bool { return len(acked) >= 20 }, func() { close(stop); wg.Wait() })
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = n.cmd.Wait()
	close(stop)
	wg.Wait()

	n2 := startServerWith(t, data, nil, "--store", dsn)
	mem2 := client.New(n2.url, key).Memories()
	for id, content := range acked {
		m, err := mem2.Get(ctx, id)
		if err != nil || m.Content != content {
			t.Errorf("acknowledged %s after the kill: %v", id, err)
		}
	}
	n2.stop(t)
	if out := mustEngram(t, nil, "audit", "verify", "--data", data, "--store", dsn); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %q", out)
	}
	t.Logf("%d acknowledged writes checked", len(acked))
}

// TestPgDumpRestore is the backup procedure for a PostgreSQL store
// (docs/POSTGRES-STATUS.md): pg_dump -Fc as a role that bypasses row-level
// security (here the superuser), pg_restore --no-owner --role=<engram's
// role> into an empty database, and a node with the same kek.key on the
// restored database reads what was written and verifies the audit chains.
func TestPgDumpRestore(t *testing.T) {
	bin := os.Getenv("ENGRAM_TEST_POSTGRES_BIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "pg_dump")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("pg_dump: %v", err)
		}
		t.Skipf("pg_dump: %v", err)
	}
	src := postgrestest.NewDatabase(t)
	dst := postgrestest.NewEmptyDatabase(t)
	// The superuser's URL of a test database.
	super := func(roleDSN string) string {
		r, err := url.Parse(roleDSN)
		if err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(postgrestest.ServerDSN(t))
		if err != nil {
			t.Fatal(err)
		}
		u.Path = r.Path
		return u.String()
	}

	root := t.TempDir()
	d1 := filepath.Join(root, "n1")
	n := startServerWith(t, d1, nil, "--store", src)
	raw, err := os.ReadFile(filepath.Join(d1, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(string(raw))
	id := strings.Fields(mustEngram(t, []string{"ENGRAM_URL=" + n.url, "ENGRAM_API_KEY=" + key},
		"add", "Written before the backup", "--user", "u"))[1]
	n.stop(t)

	dump := filepath.Join(root, "engram.dump")
	if out, err := exec.Command(filepath.Join(bin, "pg_dump"), "-Fc", "-f", dump, "-d", super(src)).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	if out, err := exec.Command(filepath.Join(bin, "pg_restore"), "--no-owner", "--role="+postgrestest.Role,
		"--exit-on-error", "-d", super(dst), dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}

	d2 := filepath.Join(root, "n2")
	n2 := joinNode(t, d1, d2, dst)
	if strings.Contains(string(n2.stdout.Bytes()), "egm_") {
		t.Fatal("the restored database looked empty: a new owner key was made")
	}
	if out := mustEngram(t, []string{"ENGRAM_URL=" + n2.url, "ENGRAM_API_KEY=" + key}, "get", id); !strings.Contains(out, "before the backup") {
		t.Fatalf("get on the restored database: %q", out)
	}
	n2.stop(t)
	if out := mustEngram(t, nil, "audit", "verify", "--data", d2, "--store", dst); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify of the restored database: %q", out)
	}
}
