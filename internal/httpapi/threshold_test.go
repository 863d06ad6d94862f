package httpapi_test

import (
	"context"
	"slices"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestSearchThreshold: scores are absolute, so with the default threshold
// a question about something never stored comes back empty while a
// related one finds its memory, through the built-in model as served.
// Threshold 0 returns every memory, as search did before scores had a
// meaning.
func TestSearchThreshold(t *testing.T) {
	m, err := uselite.New()
	if err != nil {
		t.Fatal(err)
	}
	s := testserver.StartWith(t, testserver.Options{Embedder: m})
	c := s.Tenant(t, "acme")
	ctx := context.Background()
	var ids []string
	for _, text := range []string{
		"Ann is allergic to peanuts",
		"Ann's sister lives in Lisbon and teaches music",
		"Ann runs five kilometres every morning before work",
	} {
		r, err := c.Add(ctx, client.AddRequest{Content: text, UserID: "ann"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r[0].ID)
	}

	hits, err := c.Search(ctx, client.SearchRequest{Query: "Which semiconductor stocks did the quarterly earnings forecast downgrade?", UserID: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 0 {
		t.Fatalf("unrelated query, default threshold: %d hits, best score %.3f", len(hits), hits[0].Score)
	}

	hits, err = c.Search(ctx, client.SearchRequest{Query: "What is Ann allergic to?", UserID: "ann", Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].ID != ids[0] {
		t.Fatalf("related query: %+v", hits)
	}
	x := hits[0].Explain
	if h := hits[0]; h.Score < engram.DefaultSearchThreshold || h.Score > 1 || x == nil || x.Score != h.Score ||
		x.KeywordPart <= 0 || x.SemanticPart <= 0 || x.Cosine <= 0 || x.Known != 1 {
		t.Fatalf("related hit: score %v, explain %+v", h.Score, x)
	}

	all, err := c.Search(ctx, client.SearchRequest{Query: "Which semiconductor stocks did the quarterly earnings forecast downgrade?",
		UserID: "ann", Threshold: client.Threshold(0)})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]string, len(all))
	for i, h := range all {
		got[i] = h.ID
		if h.Score >= engram.DefaultSearchThreshold {
			t.Fatalf("unrelated hit scores %.3f", h.Score)
		}
	}
	slices.Sort(got)
	want := slices.Clone(ids)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("threshold 0: %v, want every memory %v", got, want)
	}

	for _, bad := range []float64{-0.1, 1.5} {
		if _, err := c.Search(ctx, client.SearchRequest{Query: "Ann", Threshold: client.Threshold(bad)}); err == nil {
			t.Fatalf("threshold %v accepted", bad)
		}
	}
}
