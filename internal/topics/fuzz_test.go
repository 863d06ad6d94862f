package topics

import (
	"testing"

	"github.com/engram-memory/engram/internal/extract"
)

// FuzzLabel feeds arbitrary text (user content) to Label: it must never
// panic, and must return known topics, once each, with scores in range.
func FuzzLabel(f *testing.F) {
	for _, s := range []string{"", "I live in Berlin.", "ünïcödé 🍕 pizza", "\xff\xfe", "a-b_c d'e", "running running running running"} {
		f.Add(s, "lives_in")
	}
	known := map[string]bool{}
	for _, n := range Taxonomy {
		known[n] = true
	}
	f.Fuzz(func(t *testing.T, text, pred string) {
		fs := []extract.Fact{{Predicate: pred, Object: text}}
		ms := []extract.Mention{{Name: text, Norm: text, Type: extract.Place}}
		got := Label(text, fs, ms)
		seen := map[string]bool{}
		for _, tp := range got {
			if !known[tp.Name] || seen[tp.Name] || tp.Score < MinScore || tp.Score > 1 {
				t.Fatalf("bad topic %+v in %v", tp, got)
			}
			seen[tp.Name] = true
		}
	})
}
