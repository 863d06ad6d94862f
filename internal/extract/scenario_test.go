package extract_test

import (
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/extract"
	"github.com/engram-memory/engram/internal/facts"
)

// TestLifeChanges is issue 12's acceptance story as the extractor sees it: a move, a job change and a new
// hobby, each with the day it happened, so the caller's contradiction rules can end the old facts.
func TestLifeChanges(t *testing.T) {
	t1 := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 3, 15, 9, 0, 0, 0, time.UTC)
	res, err := extract.ExtractConversation([]extract.Message{
		{Role: "user", Name: "Mira", Text: "I live in Lyon and I work at Renault. I love climbing.", Time: t1},
		{Role: "assistant", Text: "Nice! How is Lyon?", Time: t1},
		{Role: "user", Name: "Mira", Text: "Big news: I moved to Berlin last week and I joined Zalando two days ago. I also took up the piano.", Time: t2},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ pred, obj, date string }{
		{"lives_in", "Lyon", ""}, {"works_at", "Renault", ""}, {"likes", "climbing", ""},
		{"lives_in", "Berlin", "2026-03-08"}, {"works_at", "Zalando", "2026-03-13"}, {"hobby", "piano", ""},
	}
	if len(res.Facts) != len(want) {
		t.Fatalf("got %d facts, want %d: %+v", len(res.Facts), len(want), res.Facts)
	}
	for i, w := range want {
		f := res.Facts[i]
		obj := f.Object + f.Value
		d := ""
		if f.ValidAt != nil {
			d = f.ValidAt.Format("2006-01-02")
		}
		if f.Subject != "Mira" || f.Predicate != w.pred || obj != w.obj || d != w.date || f.Negated {
			t.Errorf("fact %d: got %s %s %q %q neg=%v, want Mira %s %q %q", i, f.Subject, f.Predicate, obj, d, f.Negated, w.pred, w.obj, w.date)
		}
	}
	if tb := facts.DefaultTable(); !tb.Single("lives_in") || !tb.Single("works_at") || tb.Single("hobby") {
		t.Error("cardinality the caller relies on changed")
	}
}
