package engine_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// BenchmarkVectorIndexLoad measures a tenant's first semantic search after
// its vector index was dropped (a restart or an eviction): every sealed
// vector read from the store, decrypted and put in the index. 10,000
// memories of dimension 512, as the built-in model's.
func BenchmarkVectorIndexLoad(b *testing.B) {
	e, ctx, tenantID := filledTenant(b, 10000, engine.WithEmbedder(embedtest.New(512), 1<<30))
	for b.Loop() {
		engine.DropVectorIndex(e, tenantID)
		if _, err := e.Search(ctx, engram.SearchRequest{Query: "coffee in lisbon", Mode: engram.SearchVector}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeywordIndexLoad measures a tenant's first keyword search after
// its in-memory keyword index was dropped: every memory's blind postings
// read from the store into the index. 20,000 memories of 12 words.
func BenchmarkKeywordIndexLoad(b *testing.B) {
	e, ctx, tenantID := filledTenant(b, 20000)
	for b.Loop() {
		engine.DropKeywordIndex(e, tenantID)
		if _, err := e.Search(ctx, engram.SearchRequest{Query: "coffee in lisbon", Mode: engram.SearchBM25}); err != nil {
			b.Fatal(err)
		}
	}
}

// filledTenant opens an engine with opts and writes n memories of 12
// words into a new tenant, 100 per request over 7 users. It returns the
// engine, the owner's context and the tenant's id.
func filledTenant(b *testing.B, n int, opts ...engine.Option) (*engine.Engine, context.Context, string) {
	b.Helper()
	e, _ := testserver.NewEngine(b, opts...)
	nt, ctx := owner(b, e)
	addMemories(b, e, ctx, n)
	return e, ctx, nt.Tenant.ID
}

// addMemories writes n memories of 12 words, 100 per request over 7
// users, through the engine's write path.
func addMemories(b *testing.B, e *engine.Engine, ctx context.Context, n int) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < n; i += 100 {
		msgs := make([]engram.Message, min(100, n-i))
		for j := range msgs {
			msgs[j] = engram.Message{Role: "user", Content: fmt.Sprintf("%s %d", text(r, 12), i+j)}
		}
		if _, err := e.Add(ctx, engram.AddRequest{Messages: msgs, Scope: engram.Scope{UserID: fmt.Sprint("u", i%7)}}); err != nil {
			b.Fatal(err)
		}
	}
}
