package entity_test

import (
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/entity"
)

func TestResolve(t *testing.T) {
	var (
		jonathan = entity.Entity{ID: "e1", Name: "Jonathan Smith", Type: entity.Person}
		alice    = entity.Entity{ID: "e2", Name: "Alice Smith", Type: entity.Person}
		john     = entity.Entity{ID: "e3", Name: "John", Type: entity.Person}
		aaa      = entity.Entity{ID: "e4", Name: "AAA", Type: entity.Organisation}
		paris    = entity.Entity{ID: "e5", Name: "Paris", Type: entity.Place}
		jose     = entity.Entity{ID: "e6", Name: "José", Type: entity.Person}
		acme     = entity.Entity{ID: "e7", Name: "Acme Corporation", Aliases: []string{"Acme"}, Type: entity.Organisation}
		expo     = entity.Entity{ID: "e8", Name: "Engram Annual Conference 2023", Type: entity.Event}
		pepper   = entity.Entity{ID: "e9", Name: "Pepper", Type: entity.Pet}
		other    = entity.Entity{ID: "e10", Name: "Anthropic", Type: entity.Other}
		katie    = entity.Entity{ID: "e11", Name: "Catherine Jones", Type: entity.Person}
		alice2   = entity.Entity{ID: "e12", Name: "Alice Smith", Type: entity.Other}
	)
	tests := []struct {
		name   string
		m      entity.Mention
		cands  []entity.Entity
		want   entity.Outcome
		id     string
		reason entity.Reason
	}{
		{"exact", entity.Mention{"alice smith", entity.Person}, []entity.Entity{alice}, entity.Match, "e2", entity.ReasonExact},
		{"exact ignores punctuation and possessive", entity.Mention{"Alice Smith's", entity.Person}, []entity.Entity{alice}, entity.Match, "e2", entity.ReasonExact},
		{"exact on an alias", entity.Mention{"ACME", entity.Organisation}, []entity.Entity{acme}, entity.Match, "e7", entity.ReasonExact},
		{"title stripped for a person", entity.Mention{"Dr. Alice Smith", entity.Person}, []entity.Entity{alice}, entity.Match, "e2", entity.ReasonExact},
		{"title stripped when the candidate is a person", entity.Mention{"Dr Alice Smith", entity.Other}, []entity.Entity{alice}, entity.Match, "e2", entity.ReasonExact},
		{"title kept between two unclassified names", entity.Mention{"Dr Alice Smith", entity.Other}, []entity.Entity{alice2}, entity.Uncertain, "", entity.ReasonPartial},
		{"title kept for a product", entity.Mention{"Dr Pepper", entity.Product}, []entity.Entity{pepper}, entity.New, "", ""},
		{"first name alone is never a match", entity.Mention{"Alice", entity.Person}, []entity.Entity{alice}, entity.Uncertain, "", entity.ReasonPartial},
		{"full name for a first name is never a match", entity.Mention{"John Smith", entity.Person}, []entity.Entity{john}, entity.Uncertain, "", entity.ReasonPartial},
		{"typo in a long name matches", entity.Mention{"Jonathon Smith", entity.Person}, []entity.Entity{jonathan}, entity.Match, "e1", entity.ReasonTypo},
		{"transposition matches", entity.Mention{"Jonahtan Smith", entity.Person}, []entity.Entity{jonathan}, entity.Match, "e1", entity.ReasonTypo},
		{"typo in a single word name", entity.Mention{"Anthropc", entity.Organisation}, []entity.Entity{other}, entity.Match, "e10", entity.ReasonTypo},
		{"edit at the end of a word: near", entity.Mention{"Daniela Brown", entity.Person}, []entity.Entity{{ID: "d", Name: "Daniel Brown", Type: entity.Person}}, entity.Uncertain, "", entity.ReasonSimilar},
		{"short names never fuzzy", entity.Mention{"Jon", entity.Person}, []entity.Entity{john}, entity.New, "", ""},
		{"short first names in full names are near", entity.Mention{"Jon Smith", entity.Person}, []entity.Entity{{ID: "x", Name: "John Smith", Type: entity.Person}}, entity.Uncertain, "", entity.ReasonSimilar},
		{"first letter differs: near", entity.Mention{"Katherine Jones", entity.Person}, []entity.Entity{katie}, entity.Uncertain, "", entity.ReasonSimilar},
		{"low entropy exact", entity.Mention{"aaa", entity.Organisation}, []entity.Entity{aaa}, entity.Match, "e4", entity.ReasonExact},
		{"low entropy never fuzzy", entity.Mention{"AAAA", entity.Organisation}, []entity.Entity{aaa}, entity.New, "", ""},
		{"type conflict is near, not a match", entity.Mention{"Paris", entity.Person}, []entity.Entity{paris}, entity.Uncertain, "", entity.ReasonType},
		{"other is compatible with any", entity.Mention{"Paris", entity.Other}, []entity.Entity{paris}, entity.Match, "e5", entity.ReasonExact},
		{"zero type is other", entity.Mention{"Paris", ""}, []entity.Entity{paris}, entity.Match, "e5", entity.ReasonExact},
		{"accents differ: near", entity.Mention{"Jose", entity.Person}, []entity.Entity{jose}, entity.Uncertain, "", entity.ReasonAccents},
		{"numbers differ: never fuzzy", entity.Mention{"Engram Annual Conference 2024", entity.Event}, []entity.Entity{expo}, entity.Uncertain, "", entity.ReasonSimilar},
		{"numbers equal: typo", entity.Mention{"Engram Anual Conference 2023", entity.Event}, []entity.Entity{expo}, entity.Match, "e8", entity.ReasonTypo},
		{"numbers equal: fuzzy", entity.Mention{"EngramAnnual Conference 2023", entity.Event}, []entity.Entity{expo}, entity.Match, "e8", entity.ReasonFuzzy},
		{"partial organisation", entity.Mention{"Acme Corp", entity.Organisation}, []entity.Entity{{ID: "o", Name: "Acme", Type: entity.Organisation}}, entity.Uncertain, "", entity.ReasonPartial},
		{"nothing alike", entity.Mention{"Bob", entity.Person}, []entity.Entity{alice, jonathan}, entity.New, "", ""},
		{"no candidates", entity.Mention{"Bob", entity.Person}, nil, entity.New, "", ""},
		{"empty mention", entity.Mention{"...", entity.Person}, []entity.Entity{alice}, entity.New, "", ""},
		{"two exact, one of the same type wins", entity.Mention{"Alice Smith", entity.Person}, []entity.Entity{alice2, alice}, entity.Match, "e2", entity.ReasonExact},
		{"two exact of the same type: ambiguous", entity.Mention{"Alice Smith", entity.Person}, []entity.Entity{alice, {ID: "e13", Name: "alice smith", Type: entity.Person}}, entity.Uncertain, "", entity.ReasonAmbiguous},
		{"exact beats fuzzy", entity.Mention{"Jonathan Smith", entity.Person}, []entity.Entity{{ID: "e0", Name: "Jonathon Smith", Type: entity.Person}, jonathan}, entity.Match, "e1", entity.ReasonExact},
		{"two fuzzy: ambiguous", entity.Mention{"Jonathen Smith", entity.Person}, []entity.Entity{{ID: "e0", Name: "Jonathon Smith", Type: entity.Person}, jonathan}, entity.Uncertain, "", entity.ReasonAmbiguous},
		{"suffix jr is another person", entity.Mention{"Jonathan Smith Jr.", entity.Person}, []entity.Entity{jonathan}, entity.Uncertain, "", entity.ReasonPartial},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := entity.Resolve(tt.m, tt.cands)
			if d.Outcome != tt.want || d.ID != tt.id || d.Reason != tt.reason {
				t.Fatalf("Resolve = %v %q (%s) near %v, want %v %q (%s)", d.Outcome, d.ID, d.Reason, d.Near, tt.want, tt.id, tt.reason)
			}
			if (d.Outcome == entity.Uncertain) != (len(d.Near) > 0) {
				t.Fatalf("near candidates %v with outcome %v", d.Near, d.Outcome)
			}
			// The index must find every candidate the rules relate.
			x := entity.NewIndex()
			for _, c := range tt.cands {
				x.Add(c)
			}
			if got := x.Resolve(tt.m); got.Outcome != d.Outcome || got.ID != d.ID || got.Reason != d.Reason {
				t.Fatalf("through the index: %v %q (%s), directly: %v %q (%s)", got.Outcome, got.ID, got.Reason, d.Outcome, d.ID, d.Reason)
			}
		})
	}
}

func TestResolveNearOrder(t *testing.T) {
	d := entity.Resolve(entity.Mention{"Alice", entity.Person}, []entity.Entity{
		{ID: "b", Name: "Alice Smith", Type: entity.Person},
		{ID: "a", Name: "Alice Jones", Type: entity.Person},
		{ID: "c", Name: "Alice", Type: entity.Place},
	})
	want := []string{"c", "a", "b"} // the type conflict scores 1; then ties by id
	if d.Outcome != entity.Uncertain || len(d.Near) != len(want) {
		t.Fatalf("got %v %v", d.Outcome, d.Near)
	}
	for i, n := range d.Near {
		if n.ID != want[i] {
			t.Fatalf("near %v, want ids %v", d.Near, want)
		}
	}
}

func TestTypes(t *testing.T) {
	all := []entity.Type{entity.Person, entity.Organisation, entity.Place, entity.Product, entity.Pet, entity.Event, entity.Other}
	for _, a := range all {
		for _, b := range all {
			want := a == b || a == entity.Other || b == entity.Other
			if got := entity.Compatible(a, b); got != want {
				t.Errorf("Compatible(%s, %s) = %v, want %v", a, b, got, want)
			}
		}
	}
	for in, want := range map[string]entity.Type{
		"PERSON": entity.Person, "Organization": entity.Organisation, "GPE": entity.Place, "pet": entity.Pet,
		"": entity.Other, "spaceship": entity.Other, " Event ": entity.Event,
	} {
		if got := entity.ParseType(in); got != want {
			t.Errorf("ParseType(%q) = %q, want %q", in, got, want)
		}
	}
	if !entity.Compatible("unknown", entity.Person) {
		t.Error("an unknown type must behave as other")
	}
}

// TestResolveLongNames feeds names far longer than any real one: the
// quadratic parts (edit distance, deletion keys) must not see them. Without
// the word-length bound this test allocates gigabytes.
func TestResolveLongNames(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		b.WriteRune(rune('a' + i%26))
		b.WriteRune(rune('A' + (i/26)%26))
	}
	long := b.String()
	x := entity.NewIndex()
	x.Add(entity.Entity{ID: "l", Name: "Dr " + long + " x", Type: entity.Person})
	d := x.Resolve(entity.Mention{Name: "Dr " + long + "q x", Type: entity.Person})
	if d.Outcome != entity.Match || d.Reason != entity.ReasonFuzzy {
		t.Fatalf("two 40 KB names one letter apart: %v (%s), want a fuzzy match", d.Outcome, d.Reason)
	}
	if n := len(entity.Keys(long)); n > 3+entity.Bands {
		t.Fatalf("a 40 KB word has %d keys", n)
	}
}
