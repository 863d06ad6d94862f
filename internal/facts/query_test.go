package facts_test

import (
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/facts"
)

func TestQueryBoundaries(t *testing.T) {
	v, inv := day("2020-01-01"), day("2022-01-01")
	c, exp := day("2023-01-01"), day("2024-01-01")
	fs := []facts.Fact{
		{ID: "a", Subject: "s", Predicate: "lives_in", Object: "paris", ValidAt: v, InvalidAt: &inv, CreatedAt: c, ExpiredAt: &exp},
		{ID: "b", Subject: "s", Predicate: "lives_in", Object: "rome", ValidAt: inv, CreatedAt: exp},
		{ID: "c", Subject: "s", Predicate: "likes", Value: "tea", ValidAt: v, CreatedAt: c},
	}
	ids := func(fs []facts.Fact) []string {
		out := []string{}
		for _, f := range fs {
			out = append(out, f.ID)
		}
		return out
	}
	sec := time.Second
	for _, tc := range []struct {
		name string
		got  []facts.Fact
		want []string
	}{
		{"current all", facts.Current(fs, ""), []string{"c", "b"}},
		{"current one predicate", facts.Current(fs, "lives_in"), []string{"b"}},
		{"current unknown predicate", facts.Current(fs, "owns"), []string{}},
		{"as_of before", facts.AsOf(fs, v.Add(-sec)), []string{}},
		{"as_of valid_at is inclusive", facts.AsOf(fs, v), []string{"c", "a"}},
		{"as_of invalid_at is exclusive", facts.AsOf(fs, inv), []string{"c", "b"}},
		{"as_of just before invalid_at", facts.AsOf(fs, inv.Add(-sec)), []string{"c", "a"}},
		{"known_at before", facts.KnownAt(fs, c.Add(-sec)), []string{}},
		{"known_at created_at is inclusive", facts.KnownAt(fs, c), []string{"c", "a"}},
		{"known_at expired_at is exclusive", facts.KnownAt(fs, exp), []string{"c", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ids(tc.got); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// Results are copies.
	facts.AsOf(fs, v)[0].Episodes = append(facts.AsOf(fs, v)[0].Episodes, "x")
	if len(fs[2].Episodes) != 0 {
		t.Errorf("query aliases input")
	}
}

func TestDefaultTable(t *testing.T) {
	tab := facts.DefaultTable()
	for _, p := range []string{"lives_in", "works_at", "job_title", "diet", "relationship_status", "reports_to",
		"phone", "married_to", "born_in", "studies_at"} {
		if !tab.Single(p) {
			t.Errorf("%s should be single-valued", p)
		}
	}
	for _, p := range []string{"likes", "dislikes", "allergic_to", "has_pet", "has_sibling", "partner_of",
		"plays", "hobby", "speaks", "owns", "visited"} {
		if _, ok := tab[p]; !ok || tab.Single(p) {
			t.Errorf("%s should be listed as multi-valued", p)
		}
	}
	if tab.Single("not_a_predicate") {
		t.Errorf("unknown predicates must accumulate")
	}
	tab["likes"] = facts.Single
	if facts.DefaultTable().Single("likes") {
		t.Errorf("DefaultTable shares its map")
	}
}

func TestSameValue(t *testing.T) {
	for _, tc := range []struct {
		a, b facts.Fact
		want bool
	}{
		{facts.Fact{Object: "e1"}, facts.Fact{Object: "e1"}, true},
		{facts.Fact{Object: "e1"}, facts.Fact{Object: "E1"}, false}, // ids are exact
		{facts.Fact{Object: "e1"}, facts.Fact{Value: "e1"}, false},
		{facts.Fact{Value: "Vegan "}, facts.Fact{Value: "vegan"}, true},
		{facts.Fact{Value: "New  York"}, facts.Fact{Value: "new york"}, true},
		{facts.Fact{Value: "vegan"}, facts.Fact{Value: "vegetarian"}, false},
		{facts.Fact{Value: "a\tb"}, facts.Fact{Value: "A b"}, true},
		{facts.Fact{Value: " a b"}, facts.Fact{Value: "a b"}, true},
		{facts.Fact{Value: "ab"}, facts.Fact{Value: "a b"}, false},
		{facts.Fact{Value: "Straße"}, facts.Fact{Value: "STRASSE"}, false}, // simple folding only
		{facts.Fact{}, facts.Fact{}, true},
	} {
		if got := facts.SameValue(tc.a, tc.b); got != tc.want {
			t.Errorf("SameValue(%+v, %+v) = %v", tc.a, tc.b, got)
		}
	}
}
