package bench_test

import (
	"context"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/bench"
)

func TestScale(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts bench.ScaleOptions
		text string
	}{
		{"synthetic", bench.ScaleOptions{N: 60, Searches: 20, Mode: engram.SearchBM25, Seed: 1}, "synthetic"},
		// Three distinct texts (one repeated) written 60 times: every
		// copy after the first round must be numbered, and the repeat
		// skipped, or the engine drops them as duplicates.
		{"texts", bench.ScaleOptions{N: 60, Searches: 20, Mode: engram.SearchBM25, Seed: 1,
			Texts:   []string{"Alice: I adopted a puppy", "Bob: congratulations!", "Alice: she is called Mia", "Bob: congratulations!"},
			Queries: []string{"What is the puppy called?"}}, "locomo"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			progress := 0
			tc.opts.Progress = func(done int) { progress = done }
			res, err := bench.Scale(ctx, engineFor(t, false), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Memories != 60 || progress != 60 || res.Search.N != 20 || res.Rounds != nil || res.Text != tc.text || res.IngestPerS <= 0 || res.HeapMB <= 0 {
				t.Fatalf("result %+v, progress %d", res, progress)
			}
		})
	}
	timed, stopped := 0, 0
	res, err := bench.Scale(ctx, engineFor(t, false), bench.ScaleOptions{N: 50, Searches: 7, Rounds: 3, Mode: engram.SearchBM25, Seed: 2,
		Timed: func() func() { timed++; return func() { stopped++ } }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rounds) != 3 || res.Search.N != 21 || timed != 1 || stopped != 1 {
		t.Fatalf("rounds %+v, search %+v, timed %d/%d", res.Rounds, res.Search, timed, stopped)
	}
	for _, r := range res.Rounds {
		if r.N != 7 {
			t.Fatalf("round %+v", r)
		}
	}
	// Semantic modes wait for the vector index to settle before timing; a
	// small index is an exact scan at once.
	hy, err := bench.Scale(ctx, engineFor(t, true), bench.ScaleOptions{N: 40, Searches: 3, Mode: engram.SearchHybrid, Seed: 3,
		AlsoModes: []string{engram.SearchVector, engram.SearchBM25}})
	if err != nil {
		t.Fatal(err)
	}
	// The recall of the queries against exact search is reported: 1, as
	// the index is exact.
	if hy.Search.N != 3 || hy.Approximate || hy.EfSearch != 0 || hy.IndexMS < 0 || hy.Mode != engram.SearchHybrid ||
		hy.QueryRecall10 != 1 || hy.QueryRecall100 != 1 {
		t.Fatalf("hybrid %+v", hy)
	}
	// The other rankings are timed over the same memories and queries.
	if len(hy.ByMode) != 2 || hy.ByMode[engram.SearchVector].N != 3 || hy.ByMode[engram.SearchBM25].N != 3 {
		t.Fatalf("by mode %+v", hy.ByMode)
	}
	if _, err := bench.Scale(ctx, engineFor(t, false), bench.ScaleOptions{N: 10, Searches: 1, Texts: []string{"x"}}); err == nil {
		t.Fatal("texts without queries were accepted")
	}
}
