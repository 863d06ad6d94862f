package batcher_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/embed/batcher"
	"github.com/engram-memory/engram/internal/embed/uselite"
)

// BenchmarkConcurrentQueries embeds one short text per call from 8
// concurrent callers (a server's searches and single adds) with the
// built-in model, alone and through the batcher; texts/s is the figure
// to compare.
func BenchmarkConcurrentQueries(b *testing.B) {
	m, err := uselite.New()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		emb  embed.Embedder
	}{{"direct", m}, {"batched", batcher.New(m, 0)}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(4) // 4 callers per core: 8 on this machine
			ctx := context.Background()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					i++
					if _, err := c.emb.Embed(ctx, []string{fmt.Sprintf("what did my sister say about the meeting on day %d", i)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
}
