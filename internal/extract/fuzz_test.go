package extract_test

import (
	"testing"
	"time"
	"unicode/utf8"

	"github.com/engram-memory/engram/internal/extract"
)

// FuzzExtract: arbitrary text never panics, every offset lies inside its message, and every name and sentence
// is exactly the text at its offsets.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{
		"I moved to Berlin last month.", "My dog Max loves Spotify.", "She is a nurse.", "I don't live in Madrid anymore.",
		"", "   ", "I'm", "my sister", "I'm allergic to", "’s ’s I’m", "3 days ago", "in May 2019", "\x00\xff I live in \u00e9",
		"I speak English, French and", "Anna.\n\nShe", "if I lived in Paris?",
	} {
		f.Add(s)
	}
	ref := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, text string) {
		msgs := []extract.Message{{Role: "user", Name: "Sam", Text: "Anna lives in Oslo.", Time: ref}, {Role: "user", Text: text, Time: ref}}
		res, err := extract.ExtractConversation(msgs)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Entities {
			src := msgs[m.Message].Text
			if m.Start < 0 || m.End > len(src) || m.Start >= m.End || src[m.Start:m.End] != m.Name {
				t.Fatalf("mention %+v out of range or not the text at its offsets", m)
			}
			if _, ok := map[extract.EntityType]bool{extract.Person: true, extract.Organisation: true, extract.Place: true,
				extract.Product: true, extract.Pet: true, extract.Event: true, extract.Other: true}[m.Type]; !ok {
				t.Fatalf("unknown type %q", m.Type)
			}
		}
		for _, fa := range res.Facts {
			src := msgs[fa.Message].Text
			if fa.Start < 0 || fa.End > len(src) || fa.Start > fa.End || src[fa.Start:fa.End] != fa.Sentence {
				t.Fatalf("fact %+v: sentence out of range", fa)
			}
			if !extract.IsPredicate(fa.Predicate) {
				t.Fatalf("predicate %q not in the table", fa.Predicate)
			}
			if (fa.Object == "") == (fa.Value == "") {
				t.Fatalf("fact %+v: want exactly one of object and value", fa)
			}
			if utf8.ValidString(src) && !utf8.ValidString(fa.Sentence) {
				t.Fatalf("sentence split a rune")
			}
		}
	})
}
