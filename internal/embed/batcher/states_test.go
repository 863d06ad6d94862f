package batcher_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/embed/batcher"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/embed/uselite"
)

func TestStatesOnlyWithAStateEmbedder(t *testing.T) {
	if batcher.New(embedtest.New(16), 0).States() != nil {
		t.Error("States of an embedder without states is not nil")
	}
}

// EmbedStates and Embed callers share passes and get what the model gives
// each alone: the same states, and vectors bit-identical to Embed's.
func TestStatesAndVectorsShareAPass(t *testing.T) {
	m, err := uselite.New()
	if err != nil {
		t.Fatal(err)
	}
	se := batcher.New(m, 8).States()
	if se == nil {
		t.Fatal("uselite through the batcher has no states")
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 5 {
				texts := []string{fmt.Sprintf("caller %d says %d things", i, j), fmt.Sprintf("round %d", j)}
				wantVecs, _ := m.Embed(ctx, texts)
				if (i+j)%2 == 0 {
					got, err := se.Embed(ctx, texts)
					if err != nil || len(got) != 2 || !slices.Equal(got[0], wantVecs[0]) || !slices.Equal(got[1], wantVecs[1]) {
						t.Errorf("caller %d round %d: Embed differs (%v)", i, j, err)
					}
					continue
				}
				got, err := se.EmbedStates(ctx, texts)
				if err != nil || len(got) != 2 {
					t.Errorf("caller %d round %d: %d states, %v", i, j, len(got), err)
					continue
				}
				for k, s := range got {
					if v := se.Mix(s, nil, nil); !slices.Equal(v, wantVecs[k]) {
						t.Errorf("caller %d round %d: a state finishes to another vector", i, j)
					}
					if v := se.Mix(s, []embed.State{got[1-k]}, []float32{1}); slices.Equal(v, wantVecs[k]) {
						t.Errorf("caller %d round %d: context changed nothing", i, j)
					}
				}
			}
		})
	}
	wg.Wait()
}
