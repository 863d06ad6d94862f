package engine_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/search/golden.json")

// TestSearchGolden pins what searches answer on a fixed corpus: for every
// query, the hits in order with their content, score and every signal of
// the explanation. The file was written by the build before the search
// path stopped loading full candidate rows (go test -run SearchGolden
// -update), so any change of results, order or score shows here.
func TestSearchGolden(t *testing.T) {
	e, st := testserver.NewEngineStore(t, engine.WithEmbedder(embedtest.New(64, []string{"car", "automobile"}), 1<<20))
	nt, ctx := owner(t, e)
	reader := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	rctx := reader.Context(t, e)
	r := rand.New(rand.NewPCG(3, 4))
	words := strings.Fields(`alice bob carol coffee tea lisbon paris tokyo hiking chess guitar painting cooking
		allergic peanuts birthday meeting project deadline budget report launch review prefers likes visited
		moved started planned bought car automobile dog cat house garden office school museum`)
	sentence := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = words[r.IntN(len(words))]
		}
		return strings.Join(w, " ")
	}
	day := time.Date(2023, 1, 1, 9, 0, 0, 0, time.UTC)
	for i := range 300 {
		ts := day.Add(time.Duration(i) * 26 * time.Hour)
		req := engram.AddRequest{Content: fmt.Sprintf("%s %d", sentence(6+r.IntN(10)), i), Timestamp: &ts,
			Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%4)}, Metadata: map[string]any{"n": i % 5, "kind": []string{"a", "b"}[i%2]}}
		if i%7 == 0 {
			req.Visibility = engram.VisibilityPrivate
		}
		if _, err := e.Add(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	// The member's own private memories: only their author and the owner
	// read them (and the member reads none of the owner's private ones).
	for i := range 20 {
		ts := day.Add(time.Duration(i) * 50 * time.Hour)
		if _, err := e.Add(rctx, engram.AddRequest{Content: fmt.Sprintf("%s mine %d", sentence(8), i), Timestamp: &ts,
			Visibility: engram.VisibilityPrivate, Scope: engram.Scope{UserID: "u1"}}); err != nil {
			t.Fatal(err)
		}
	}
	type query struct {
		who string
		req engram.SearchRequest
	}
	var queries []query
	for i := range 12 {
		q := sentence(2 + r.IntN(3))
		for _, mode := range []string{"", engram.SearchBM25, engram.SearchVector} {
			queries = append(queries, query{"owner", engram.SearchRequest{Query: q, Mode: mode, Limit: 10}})
		}
		queries = append(queries,
			query{"member", engram.SearchRequest{Query: q, Limit: 10}},
			query{"owner", engram.SearchRequest{Query: q, Limit: 5, Scope: engram.Scope{UserID: fmt.Sprintf("u%d", i%4)}}},
			query{"owner", engram.SearchRequest{Query: q, Limit: 10, Filters: map[string]any{"n": i % 5}}},
			query{"member", engram.SearchRequest{Query: q, Limit: 7, Filters: map[string]any{"kind": "a"}}},
			query{"owner", engram.SearchRequest{Query: q + " in march 2023", Limit: 10}},
			query{"owner", engram.SearchRequest{Query: "latest " + q, Limit: 10}},
			query{"owner", engram.SearchRequest{Query: q, Limit: 30}},
		)
	}
	got := []string{}
	for _, q := range queries {
		c := ctx
		if q.who == "member" {
			c = rctx
		}
		q.req.Explain = true
		hits, err := e.Search(c, q.req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(q.req)
		got = append(got, q.who+" "+string(b))
		for i, h := range hits {
			x := h.Explain
			got = append(got, fmt.Sprintf("  %d %q score=%.12g bm25=%.12g/%d vector=%.12g/%d time=%.12g graph=%.12g fused=%.12g cosine=%.12g",
				i, h.Content, h.Score, x.BM25, x.BM25Rank, x.Vector, x.VectorRank, x.Time, x.Graph, x.Fused, x.Cosine))
		}
	}
	path := filepath.Join("testdata", "search", "golden.json")
	if *updateGolden {
		b, _ := json.MarshalIndent(got, "", " ")
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("line %d:\n got %s\nwant %s", i, g, w)
		}
	}
}
