package uselite_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/embed/uselite"
)

const (
	shortText = "The quick brown fox jumps over the lazy dog"
	longText  = "Engram keeps memories for AI agents: facts about people, projects and " +
		"preferences, each stored with the model that embedded it. When an agent asks a " +
		"question, the engine embeds the query, compares it with every memory the tenant " +
		"may read, and blends that similarity with keyword matches on names, identifiers " +
		"and numbers. Older memories decay unless they are used again; contradicting facts " +
		"are kept side by side with their sources, so that a person can decide which one to trust."
)

var batchTexts = func() []string {
	subjects := []string{"The team", "My sister", "Our landlord", "The new intern", "A customer", "The CFO", "Grandpa", "The build server"}
	events := []string{"moved the meeting to Thursday", "prefers tea over coffee", "asked for the Q3 report", "is allergic to peanuts"}
	var out []string
	for i := range 32 {
		out = append(out, fmt.Sprintf("%s %s.", subjects[i%len(subjects)], events[i/len(subjects)]))
	}
	return out
}()

func benchEmbed(b *testing.B, texts []string) {
	m := model(b)
	tokens := 0
	for _, t := range texts {
		tokens += len(m.Tokenize(t))
	}
	ctx := context.Background()
	for b.Loop() {
		if _, err := m.Embed(ctx, texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tokens), "tokens/op")
}

// BenchmarkEmbedShort embeds one nine-word sentence.
func BenchmarkEmbedShort(b *testing.B) { benchEmbed(b, []string{shortText}) }

// BenchmarkEmbedLong embeds one text of about 120 tokens.
func BenchmarkEmbedLong(b *testing.B) { benchEmbed(b, []string{longText}) }

// BenchmarkEmbedBatch32 embeds 32 short sentences in one call.
func BenchmarkEmbedBatch32(b *testing.B) { benchEmbed(b, batchTexts) }

// BenchmarkEmbedChunked embeds a text of about 1,000 tokens (10 windows).
func BenchmarkEmbedChunked(b *testing.B) {
	benchEmbed(b, []string{strings.Repeat(longText+" ", 8)})
}

// BenchmarkLoad decodes the embedded weights and vocabulary, which New
// does once per process.
func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if err := uselite.Load(); err != nil {
			b.Fatal(err)
		}
	}
}
