package engine_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/embed/batcher"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// BenchmarkAddEmbedded is one add per conversation turn with the built-in
// model (serve's default), each turn a minute after the one before, so
// every write takes conversational context: the path `engram bench
// locomo` and a chat agent exercise. Profile it with -cpuprofile to see
// where an add's time goes.
func BenchmarkAddEmbedded(b *testing.B) {
	m, err := uselite.New()
	if err != nil {
		b.Fatal(err)
	}
	// vector: the turns' pooled states (the default); own: their own
	// embeddings (the model hidden behind an embedder without states).
	for _, rule := range []string{"text", "vector", "own"} {
		b.Run("context="+rule, func(b *testing.B) {
			var emb embed.Embedder = m
			if rule == "own" {
				emb = struct{ embed.Embedder }{m}
			}
			opts := []engine.Option{engine.WithEmbedder(batcher.New(emb, 0), 1<<26), engine.WithVectorContext()}
			if rule == "text" {
				opts[1] = engine.WithTextContext()
			}
			e, _ := testserver.NewEngine(b, opts...)
			_, ctx := owner(b, e)
			t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
			scope := engram.Scope{UserID: "u"}
			for i := 0; b.Loop(); i++ {
				at := t0.Add(time.Duration(i) * time.Minute)
				content := fmt.Sprintf("Turn %d: we talked about the trip to Lisbon and the museum my sister liked", i)
				if _, err := e.Add(ctx, engram.AddRequest{Content: content, Scope: scope, Timestamp: &at}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
