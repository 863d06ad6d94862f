package main_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/engram-memory/engram/client"
)

// TestRepairCLI: records left unreadable (alice's key destroyed under her
// memories, one of bob's memories damaged) do not take the tenant's reads
// down on a real server, are counted in /metrics, and `engram repair`
// finds them (--dry-run changes nothing), removes them with their history
// and postings, and records each memory it touched in the audit chain.
func TestRepairCLI(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	s := startServerWith(t, data, nil, "--embedder", "none")
	key := ownerKey(t, data)
	c := client.New(s.url, key)
	add := func(user, text string) string {
		t.Helper()
		res, err := c.Add(ctx, client.AddRequest{Content: text, UserID: user})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].ID
	}
	alice := add("alice", "alice likes green tea")
	bobBad := add("bob", "bob likes black tea")
	bobGood := add("bob", "bob plays chess")
	carol := add("carol", "carol drinks tea at noon")
	s.stop(t)

	db, err := sql.Open("sqlite", filepath.Join(data, "engram.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`DELETE FROM wrapped_keys WHERE purpose = 'subject' AND owner = 'u:alice'`)
	exec(`UPDATE memories SET content = (SELECT content FROM memories WHERE id = ?) WHERE id = ?`, carol, bobBad)
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	s = startServerWith(t, data, nil, "--embedder", "none")
	c = client.New(s.url, key)
	if _, err := c.Get(ctx, bobBad); client.Code(err) != "unreadable" {
		t.Errorf("GET of a damaged memory: %v, want 404 unreadable", err)
	}
	if _, err := c.Get(ctx, bobGood); err != nil {
		t.Errorf("GET of an intact memory: %v", err)
	}
	list, err := c.List(ctx, client.ListRequest{})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Results) != 2 {
		t.Errorf("list returned %d memories, want the 2 intact ones", len(list.Results))
	}
	// Semantic search over broken records is TestUnreadableRecordsAreSkipped's
	// (internal/engine); without an embedder the server starts in a moment.
	for _, mode := range []string{"hybrid", "bm25"} {
		if _, err := c.Search(ctx, client.SearchRequest{Query: "tea", Mode: mode}); err != nil {
			t.Errorf("search %s: %v", mode, err)
		}
	}
	m := regexp.MustCompile(`(?m)^engram_records_unreadable_total ([0-9.e+]+)$`).FindStringSubmatch(scrape(t, s.url+"/metrics"))
	if m == nil || m[1] == "0" {
		t.Errorf("metric engram_records_unreadable_total: %v", m)
	}
	if !strings.Contains(string(s.stderr.Bytes()), bobBad) {
		t.Error("the skipped record's id was not logged")
	}
	for _, text := range []string{"green tea", "black tea", "chess", "noon"} {
		if strings.Contains(string(s.stderr.Bytes()), text) {
			t.Fatal("the log holds memory content")
		}
	}
	s.stop(t)

	repair := func(args ...string) []struct {
		Tenant   string   `json:"tenant"`
		Memories []string `json:"memories"`
		History  int      `json:"history"`
	} {
		t.Helper()
		out := mustEngram(t, nil, append([]string{"repair", "--data", data, "--json"}, args...)...)
		var reps []struct {
			Tenant   string   `json:"tenant"`
			Memories []string `json:"memories"`
			History  int      `json:"history"`
		}
		if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) != 1 {
			t.Fatalf("repair output %q: %v", out, err)
		}
		return reps
	}
	want := []string{alice, bobBad}
	if r := repair("--dry-run")[0]; !sameIDs(r.Memories, want) || r.History != 1 {
		t.Fatalf("dry run found %v and %d history entries, want %v and alice's 1", r.Memories, r.History, want)
	}
	if n := count(`SELECT COUNT(*) FROM memories`); n != 4 {
		t.Fatalf("the dry run changed the store: %d memories", n)
	}
	if r := repair()[0]; !sameIDs(r.Memories, want) || r.History != 1 {
		t.Fatalf("repair removed %v and %d history entries, want %v and alice's 1", r.Memories, r.History, want)
	}
	for _, id := range want {
		if n := count(`SELECT COUNT(*) FROM memories WHERE id = ?`, id); n != 0 {
			t.Errorf("memory %s still stored", id)
		}
		if n := count(`SELECT COUNT(*) FROM postings WHERE memory_id = ?`, id); n != 0 {
			t.Errorf("memory %s still has %d postings", id, n)
		}
		if n := count(`SELECT COUNT(*) FROM audit_entries WHERE action = 'memory.repair' AND target_id = ?`, id); n != 1 {
			t.Errorf("memory %s: %d memory.repair audit entries, want 1", id, n)
		}
	}
	if n := count(`SELECT COUNT(*) FROM history WHERE memory_id = ?`, alice); n != 0 {
		t.Errorf("alice's unreadable history stayed (%d entries)", n)
	}
	// bob's damaged memory's history still opens: it stays, as after a delete.
	if n := count(`SELECT COUNT(*) FROM history WHERE memory_id = ?`, bobBad); n != 1 {
		t.Errorf("bob's readable history: %d entries, want 1", n)
	}
	if r := repair()[0]; len(r.Memories) != 0 || r.History != 0 {
		t.Fatalf("a second repair found more: %+v", r)
	}
	mustEngram(t, nil, "audit", "verify", "--data", data)

	s = startServerWith(t, data, nil, "--embedder", "none")
	c = client.New(s.url, key)
	if list, err := c.List(ctx, client.ListRequest{}); err != nil || len(list.Results) != 2 {
		t.Fatalf("list after repair: %v", err)
	}
	if _, err := c.Get(ctx, alice); client.Code(err) != "not_found" {
		t.Errorf("GET of a removed memory: %v, want not_found", err)
	}
	if m := regexp.MustCompile(`(?m)^engram_records_unreadable_total ([0-9.e+]+)$`).FindStringSubmatch(scrape(t, s.url+"/metrics")); m == nil || m[1] != "0" {
		t.Errorf("after repair: %v", m)
	}
	s.stop(t)
}

func sameIDs(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}
