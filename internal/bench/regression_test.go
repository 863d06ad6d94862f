package bench_test

import (
	"context"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/bench"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// Floors of the CI regression guard on conv-26 (a tuning conversation),
// set a little under what the default ranking measured when it was tuned
// (docs/BENCHMARKS.md: hybrid R@10 0.727, MRR 0.491; bm25 R@10 0.590), so
// that a change that makes retrieval worse by more than about 0.015 fails.
const (
	floorHybridR10 = 0.71
	floorHybridMRR = 0.47
	minHybridGain  = 0.12 // hybrid R@10 over bm25 R@10
)

func engineFor(t *testing.T, semantic bool) *engine.Engine {
	t.Helper()
	var opts []engine.Option
	if semantic {
		m, err := uselite.New()
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, engine.WithEmbedder(m, 256<<20))
	}
	e, _ := testserver.NewEngine(t, opts...)
	return e
}

// TestLoCoMoRegression runs the real engine (encryption, blind index,
// built-in embeddings, hybrid ranking) over one LoCoMo conversation.
func TestLoCoMoRegression(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests a whole conversation through the engine")
	}
	ds, err := bench.LoadLoCoMo(locomoPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := bench.LoCoMoOptions{Conversations: []string{"conv-26"}}
	ctx := context.Background()
	// The floors guard the ranking, so every result is kept (threshold
	// 0); what the default threshold costs is measured in
	// docs/BENCHMARKS.md.
	all := 0.0
	hybrid, err := bench.RunLoCoMo(ctx, ds, &bench.EngineSystem{Engine: engineFor(t, true), Mode: engram.SearchHybrid, Threshold: &all}, opts)
	if err != nil {
		t.Fatal(err)
	}
	bm25, err := bench.RunLoCoMo(ctx, ds, &bench.EngineSystem{Engine: engineFor(t, false), Mode: engram.SearchBM25, Threshold: &all}, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("conv-26: hybrid R@10 %.3f MRR %.3f; bm25 R@10 %.3f MRR %.3f (%d questions)",
		hybrid.RecallAt10, hybrid.MRR, bm25.RecallAt10, bm25.MRR, hybrid.Questions)
	if hybrid.RecallAt10 < floorHybridR10 {
		t.Errorf("hybrid R@10 %.3f fell under the floor %.2f", hybrid.RecallAt10, floorHybridR10)
	}
	if hybrid.MRR < floorHybridMRR {
		t.Errorf("hybrid MRR %.3f fell under the floor %.2f", hybrid.MRR, floorHybridMRR)
	}
	if hybrid.RecallAt10-bm25.RecallAt10 < minHybridGain {
		t.Errorf("hybrid R@10 %.3f gains less than %.2f over bm25 %.3f", hybrid.RecallAt10, minHybridGain, bm25.RecallAt10)
	}
}
