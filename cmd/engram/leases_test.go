package main_test

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// leasedWork is what serve's engram_background_leader metric names.
var leasedWork = []string{"maintenance", "audit-seal", "audit-backfill"}

// nodesOn starts n nodes on one PostgreSQL database (own data directories,
// the first node's kek.key copied to the others), each with the flags
// args gives for its directory (args may be nil), and returns them with
// their directories and the owner key.
func nodesOn(t *testing.T, dsn string, n int, args func(dir string) []string) ([]*server, []string, string) {
	t.Helper()
	root := t.TempDir()
	dirs := make([]string, n)
	for i := range dirs {
		dirs[i] = filepath.Join(root, fmt.Sprintf("n%d", i))
	}
	flags := func(i int) []string {
		if args == nil {
			return []string{"--store", dsn}
		}
		return append([]string{"--store", dsn}, args(dirs[i])...)
	}
	nodes := []*server{startServerWith(t, dirs[0], nil, flags(0)...)}
	kek, err := os.ReadFile(filepath.Join(dirs[0], "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dirs[0], "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs[1:] {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "kek.key"), kek, 0o600); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startServerWith(t, d, nil, flags(i+1)...))
	}
	return nodes, dirs, strings.TrimSpace(string(raw))
}

// leaders returns, per leased work, which of the nodes report leading it
// on /metrics (nil: a node not scraped, as a stopped one).
func leaders(t *testing.T, nodes []*server) map[string][]int {
	t.Helper()
	got := map[string][]int{}
	for i, n := range nodes {
		if n == nil {
			continue
		}
		m := scrape(t, n.url+"/metrics")
		for _, w := range leasedWork {
			if strings.Contains(m, fmt.Sprintf("\nengram_background_leader{work=%q} 1\n", w)) {
				got[w] = append(got[w], i)
			}
		}
	}
	return got
}

// oneLeaderEach waits until every leased work has exactly one leader among
// the nodes, and returns them.
func oneLeaderEach(t *testing.T, nodes []*server) map[string]int {
	t.Helper()
	var got map[string][]int
	waitFor(t, "one leader for each background work", func() bool {
		got = leaders(t, nodes)
		for _, w := range leasedWork {
			if len(got[w]) != 1 {
				return false
			}
		}
		return true
	})
	out := map[string]int{}
	for w, l := range got {
		out[w] = l[0]
	}
	return out
}

// TestBackgroundWorkOnOneNode runs three nodes on one PostgreSQL database
// with short background intervals: each background loop (maintenance,
// audit sealing with the retention and session sweeps, the audit
// back-fill) runs on exactly one node, and keeps doing so (the others'
// ticks only try the lease). The leader of each is then killed (SIGKILL,
// no resignation): the survivors elect one new leader for each. The
// chain verifies at the end.
func TestBackgroundWorkOnOneNode(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	nodes, dirs, key := nodesOn(t, dsn, 3, func(dir string) []string {
		return []string{"--maintenance-interval", "100ms", "--audit-seal-interval", "100ms",
			"--audit-sink", "file:" + dir + ".audit.jsonl", "--audit-backfill-interval", "100ms"}
	})
	ctx := t.Context()
	for i, n := range nodes {
		if _, err := client.New(n.url, key).Add(ctx, client.AddRequest{Content: fmt.Sprintf("note %d", i), UserID: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	first := oneLeaderEach(t, nodes)
	// Many ticks later, still one each (no node took a lease it does not
	// hold, and the leader kept it).
	for range 5 {
		for w, l := range leaders(t, nodes) {
			if len(l) > 1 {
				t.Fatalf("%s led by nodes %v at once", w, l)
			}
		}
	}

	// Kill every node that leads something: at most two of the three.
	killed := map[int]bool{}
	for _, i := range first {
		killed[i] = true
	}
	if len(killed) == len(nodes) {
		t.Fatalf("every node leads something (%v): none left to take over", first)
	}
	live := make([]*server, len(nodes))
	for i, n := range nodes {
		if killed[i] {
			if err := n.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = n.cmd.Wait()
			continue
		}
		live[i] = n
	}
	after := oneLeaderEach(t, live)
	for w, i := range after {
		if killed[i] {
			t.Fatalf("%s still led by killed node %d", w, i)
		}
	}
	for i, n := range live {
		if n != nil {
			n.stop(t)
			if out := mustEngram(t, nil, "audit", "verify", "--data", dirs[i], "--store", dsn); !strings.Contains(out, "intact") {
				t.Fatalf("audit verify: %q", out)
			}
		}
	}
}

// TestIdempotencyAcrossNodes: an add retried with the same Idempotency-Key
// on another node (as a load balancer may route a retry) returns the first
// answer and writes nothing twice; the same key with another body is a
// conflict on any node; the same request sent to two nodes at once
// writes one memory.
func TestIdempotencyAcrossNodes(t *testing.T) {
	dsn := postgrestest.NewDatabase(t)
	nodes, _, key := nodesOn(t, dsn, 2, nil)
	ctx := t.Context()
	a, b := client.New(nodes[0].url, key), client.New(nodes[1].url, key)

	req := client.AddRequest{Content: "Carol prefers window seats", UserID: "carol", IdempotencyKey: "retry-1"}
	first, err := a.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.Add(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || len(again) != 1 || again[0].ID != first[0].ID {
		t.Fatalf("retry on the other node: %+v, first %+v", again, first)
	}
	other := req
	other.Content = "Carol prefers aisle seats"
	for _, c := range []*client.Client{a, b} {
		var ce *client.Error
		if _, err := c.Add(ctx, other); !errors.As(err, &ce) || ce.Status != http.StatusConflict {
			t.Fatalf("same key, another body: %v, want conflict", err)
		}
	}

	// The same request on both nodes at once, several times over.
	for round := range 5 {
		req := client.AddRequest{Content: fmt.Sprintf("Carol's seat, take %d", round), UserID: "carol", IdempotencyKey: fmt.Sprintf("race-%d", round)}
		ids := make([]string, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, c := range []*client.Client{a, b} {
			wg.Go(func() {
				res, err := c.Add(ctx, req)
				if err == nil && len(res) == 1 {
					ids[i] = res[0].ID
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || ids[0] == "" || ids[0] != ids[1] {
			t.Fatalf("round %d: ids %q, errors %v", round, ids, errs)
		}
	}
	list, err := b.Memories().List(ctx, engrampkg.ListRequest{Scope: engrampkg.Scope{UserID: "carol"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Memories) != 6 {
		t.Fatalf("%d memories, want 6 (one per key)", len(list.Memories))
	}
}
