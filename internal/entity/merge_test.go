package entity_test

import (
	"math"
	"slices"
	"testing"

	"github.com/engram-memory/engram/internal/entity"
)

func TestMerge(t *testing.T) {
	a := entity.Entity{ID: "a", Name: "Alice Smith", Aliases: []string{"Ali"}, Type: entity.Other, Mentions: 3}
	b := entity.Entity{ID: "b", Name: "alice smith", Aliases: []string{"Dr. Alice Smith", "ALI", "Alice S.", ""}, Type: entity.Person, Mentions: 4}
	got := entity.Merge(a, b)
	if got.ID != "a" || got.Name != "Alice Smith" || got.Type != entity.Person || got.Mentions != 7 {
		t.Fatalf("Merge = %+v", got)
	}
	if want := []string{"Ali", "Dr. Alice Smith", "Alice S."}; !slices.Equal(got.Aliases, want) {
		t.Fatalf("aliases %q, want %q", got.Aliases, want)
	}
	if len(a.Aliases) != 1 {
		t.Fatal("Merge changed its argument")
	}

	tests := []struct {
		a, b, want entity.Type
	}{
		{entity.Person, entity.Person, entity.Person},
		{entity.Person, entity.Other, entity.Person},
		{entity.Other, entity.Place, entity.Place},
		{"", entity.Pet, entity.Pet},
		{entity.Organisation, entity.Product, entity.Organisation}, // two specific types: the survivor's
		{entity.Other, "", entity.Other},
	}
	for _, tt := range tests {
		if got := entity.Merge(entity.Entity{Name: "x", Type: tt.a}, entity.Entity{Name: "x", Type: tt.b}).Type; got != tt.want {
			t.Errorf("Merge type of %q and %q = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}

	for _, tt := range []struct{ a, b, want int64 }{
		{math.MaxInt64, 1, math.MaxInt64},
		{math.MaxInt64 - 1, 1, math.MaxInt64},
		{-5, 2, 2},
		{0, 0, 0},
	} {
		if got := entity.Merge(entity.Entity{Mentions: tt.a}, entity.Entity{Mentions: tt.b}).Mentions; got != tt.want {
			t.Errorf("mentions %d + %d = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMergedEntityResolves(t *testing.T) {
	merged := entity.Merge(entity.Entity{ID: "a", Name: "Robert Miller", Type: entity.Person},
		entity.Entity{ID: "b", Name: "Bob Miller", Type: entity.Person})
	x := entity.NewIndex()
	x.Add(merged)
	if d := x.Resolve(entity.Mention{Name: "bob miller", Type: entity.Person}); d.Outcome != entity.Match || d.ID != "a" {
		t.Fatalf("a merged-in name does not resolve to the survivor: %+v", d)
	}
}

func TestWithAlias(t *testing.T) {
	e := entity.Entity{ID: "a", Name: "Jonathan Smith", Aliases: []string{"Jon"}}
	got := entity.WithAlias(e, "Jonathon Smith")
	if !slices.Equal(got.Aliases, []string{"Jon", "Jonathon Smith"}) || len(e.Aliases) != 1 {
		t.Fatalf("WithAlias = %q (original %q)", got.Aliases, e.Aliases)
	}
	for _, same := range []string{"jonathan smith", "JON", "  ", "Jonathan Smith's"} {
		if got := entity.WithAlias(e, same); !slices.Equal(got.Aliases, e.Aliases) {
			t.Errorf("WithAlias(%q) added a spelling already held: %q", same, got.Aliases)
		}
	}
}
