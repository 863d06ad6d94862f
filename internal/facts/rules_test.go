package facts_test

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/facts"
)

func TestNegation(t *testing.T) {
	m := newMemory(t)
	m.observe(obs{predicate: "plays", object: "cello", valid: day("2015-01-01"), now: day("2024-01-01")})  // f01
	m.observe(obs{predicate: "plays", object: "guitar", valid: day("2018-01-01"), now: day("2024-01-01")}) // f02
	// "I no longer play the cello" on 2024-05-01.
	p := m.observe(obs{predicate: "plays", object: "cello", negated: true, episode: "neg", reference: day("2024-05-01"), now: day("2024-05-01")})
	if p.Add != nil || p.Unmatched || len(p.Changes) != 1 {
		t.Fatalf("plan %+v", p)
	}
	c := p.Changes[0]
	if c.Event != facts.EventEnd || c.Fact.ID != "f01" || fmtTime(c.Fact.InvalidAt) != "2024-05-01T00:00" || fmtTime(c.Fact.ExpiredAt) != "2024-05-01T00:00" {
		t.Errorf("change %+v", c)
	}
	if !slices.Equal(c.Fact.Episodes, []string{"ep1", "neg"}) {
		t.Errorf("episodes %v: the negating episode is kept as provenance", c.Fact.Episodes)
	}
	if got := values(facts.Current(m.facts, "plays")); !slices.Equal(got, []string{"plays=guitar"}) {
		t.Errorf("current %v", got)
	}
	if len(m.facts) != 2 {
		t.Errorf("%d facts: a negation adds none and deletes none", len(m.facts))
	}
	// Saying it again matches nothing true at that time.
	if p := m.observe(obs{predicate: "plays", object: "cello", negated: true, now: day("2024-06-01")}); !p.Unmatched || len(p.Changes) != 0 {
		t.Errorf("repeat negation %+v", p)
	}
	// A negation dated before the fact began does not end it.
	if p := m.observe(obs{predicate: "plays", object: "guitar", negated: true, valid: day("2017-01-01"), now: day("2024-06-02")}); !p.Unmatched {
		t.Errorf("early negation %+v", p)
	}
}

func TestNegationWithoutObjectEndsEveryValue(t *testing.T) {
	m := newMemory(t)
	m.observe(obs{predicate: "works_at", object: "acme", valid: day("2020-01-01"), now: day("2024-01-01")})
	m.observe(obs{predicate: "lives_in", object: "paris", valid: day("2020-01-01"), now: day("2024-01-01")})
	// "I quit my job."
	p := m.observe(obs{predicate: "works_at", negated: true, reference: day("2024-03-01"), now: day("2024-03-01")})
	if len(p.Changes) != 1 || p.Changes[0].Fact.ID != "f01" {
		t.Fatalf("plan %+v", p)
	}
	if got := values(facts.Current(m.facts, "")); !slices.Equal(got, []string{"lives_in=paris"}) {
		t.Errorf("current %v", got)
	}
}

func TestDuplicatesMergeEpisodes(t *testing.T) {
	for _, tc := range []struct {
		name, predicate string
	}{{"multi", "likes"}, {"single", "lives_in"}} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemory(t)
			m.observe(obs{predicate: tc.predicate, value: "Jazz", valid: day("2020-01-01"), episode: "a", now: day("2024-01-01")})
			p := m.observe(obs{predicate: tc.predicate, value: " jazz", valid: day("2023-01-01"), episode: "b", now: day("2024-02-01")})
			if p.Add != nil || p.Duplicate != "f01" || len(p.Changes) != 1 || p.Changes[0].Event != facts.EventMerge {
				t.Fatalf("plan %+v", p)
			}
			// The same episode again adds nothing twice, and writes nothing.
			if p := m.observe(obs{predicate: tc.predicate, value: "JAZZ", episode: "b", now: day("2024-03-01")}); p.Duplicate != "f01" || len(p.Changes) != 0 {
				t.Errorf("no-op duplicate %+v", p)
			}
			f := m.byID("f01")
			if !slices.Equal(f.Episodes, []string{"a", "b"}) || !f.ValidAt.Equal(day("2020-01-01")) || f.InvalidAt != nil || f.ExpiredAt != nil {
				t.Errorf("merged %+v", f)
			}
			// An earlier statement of the same value moves the start back.
			p = m.observe(obs{predicate: tc.predicate, value: "jazz", valid: day("2018-01-01"), episode: "c", now: day("2024-04-01")})
			if p.Duplicate != "f01" || !p.Changes[0].Fact.ValidAt.Equal(day("2018-01-01")) {
				t.Errorf("earlier duplicate %+v", p.Changes)
			}
			if len(m.facts) != 1 {
				t.Errorf("%d facts, want 1", len(m.facts))
			}
		})
	}
}

// A duplicate that states its end closes the open fact it merges into.
func TestDuplicateWithEndClosesOpenFact(t *testing.T) {
	m := newMemory(t)
	m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2023-01-01"), now: day("2024-01-01")})
	// "I lived in Berlin from 2023 until March 2025."
	p := m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2023-01-01"), invalid: day("2025-03-01"), now: day("2025-06-01")})
	if p.Duplicate != "f01" || p.Add != nil {
		t.Fatalf("plan %+v", p)
	}
	f := m.byID("f01")
	if fmtTime(f.InvalidAt) != "2025-03-01T00:00" || fmtTime(f.ExpiredAt) != "2025-06-01T00:00" {
		t.Errorf("berlin %s %s", fmtTime(f.InvalidAt), fmtTime(f.ExpiredAt))
	}
	// A second end does not move the first.
	m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2023-01-01"), invalid: day("2025-05-01"), now: day("2025-07-01")})
	if f := m.byID("f01"); fmtTime(f.InvalidAt) != "2025-03-01T00:00" {
		t.Errorf("end moved to %s", fmtTime(f.InvalidAt))
	}
}

// An earlier duplicate of a single value ends the older other value at its
// new start, so the extension never overlaps it.
func TestEarlierDuplicateTrimsOtherValue(t *testing.T) {
	m := newMemory(t)
	m.observe(obs{predicate: "lives_in", object: "paris", valid: day("2020-01-01"), now: day("2024-01-01")})  // f01
	m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2023-01-01"), now: day("2024-01-02")}) // f02
	p := m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2022-01-01"), now: day("2024-01-03")})
	if p.Duplicate != "f02" || len(p.Changes) != 2 {
		t.Fatalf("plan %+v", p)
	}
	if f := m.byID("f01"); fmtTime(f.InvalidAt) != "2022-01-01T00:00" {
		t.Errorf("paris ends %s", fmtTime(f.InvalidAt))
	}
	if f := m.byID("f02"); !f.ValidAt.Equal(day("2022-01-01")) {
		t.Errorf("berlin starts %v", f.ValidAt)
	}
}

// A single value that recurs after another (Berlin, Paris, Berlin again) is a
// new fact, not a duplicate of the first Berlin: their intervals do not meet.
func TestValueReturnsAfterAnother(t *testing.T) {
	m := newMemory(t)
	m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2018-01-01"), now: day("2024-01-01")})
	m.observe(obs{predicate: "lives_in", object: "paris", valid: day("2020-01-01"), now: day("2024-01-02")})
	p := m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2023-01-01"), now: day("2024-01-03")})
	if p.Add == nil || p.Duplicate != "" {
		t.Fatalf("plan %+v", p)
	}
	if got := values(facts.AsOf(m.facts, day("2019-01-01"))); !slices.Equal(got, []string{"lives_in=berlin"}) {
		t.Errorf("2019 %v", got)
	}
	if got := values(facts.AsOf(m.facts, day("2021-01-01"))); !slices.Equal(got, []string{"lives_in=paris"}) {
		t.Errorf("2021 %v", got)
	}
}

func TestMultiValuedAccumulate(t *testing.T) {
	m := newMemory(t)
	for _, v := range []string{"peanuts", "shellfish", "penicillin"} {
		if p := m.observe(obs{predicate: "allergic_to", value: v, reference: day("2024-01-01"), now: day("2024-01-01")}); len(p.Changes) != 0 {
			t.Fatalf("%s changed %+v", v, p.Changes)
		}
	}
	if got := facts.Current(m.facts, "allergic_to"); len(got) != 3 {
		t.Errorf("current %v", values(got))
	}
}

// Equal valid_at: the later learned wins, whatever order the existing facts
// are passed in.
func TestEqualValidAtLaterLearnedWins(t *testing.T) {
	m := newMemory(t)
	ref := day("2024-05-01")
	// Two messages with the same timestamp: "I live in Paris." "Actually, Berlin."
	m.observe(obs{predicate: "lives_in", object: "paris", reference: ref, now: ref})
	m.observe(obs{predicate: "lives_in", object: "berlin", reference: ref, now: ref})
	if got := values(facts.Current(m.facts, "")); !slices.Equal(got, []string{"lives_in=berlin"}) {
		t.Errorf("current %v", got)
	}
	if got := values(facts.AsOf(m.facts, ref)); !slices.Equal(got, []string{"lives_in=berlin"}) {
		t.Errorf("as_of %v", got)
	}
	paris := m.byID("f01")
	if !paris.InvalidAt.Equal(paris.ValidAt) || paris.TrueAt(ref) {
		t.Errorf("the loser should be an empty interval: %+v", paris)
	}

	existing := slices.Clone(m.facts)
	o := facts.Observation{Fact: facts.Fact{ID: "x", Subject: "alice", Predicate: "lives_in", Object: "rome", ValidAt: ref}}
	a, _ := facts.Resolve(existing, o, ref, true)
	slices.Reverse(existing)
	b, _ := facts.Resolve(existing, o, ref, true)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("plan depends on input order:\n%+v\n%+v", a, b)
	}
}

func TestDefaults(t *testing.T) {
	ref, now := day("2024-05-01"), day("2024-06-01")
	f := facts.Fact{ID: "x", Subject: "s", Predicate: "likes", Value: "tea"}
	p, err := facts.Resolve(nil, facts.Observation{Fact: f, Reference: ref}, now, false)
	if err != nil || !p.Add.ValidAt.Equal(ref) || !p.Add.CreatedAt.Equal(now) {
		t.Fatalf("reference default: %+v %v", p.Add, err)
	}
	p, err = facts.Resolve(nil, facts.Observation{Fact: f}, now, false)
	if err != nil || !p.Add.ValidAt.Equal(now) {
		t.Fatalf("now default: %+v %v", p.Add, err)
	}
}

func TestResolveIgnoresOtherSubjectsAndPredicates(t *testing.T) {
	m := newMemory(t)
	m.observe(obs{subject: "bob", predicate: "lives_in", object: "paris", now: day("2024-01-01")})
	m.observe(obs{predicate: "works_at", object: "paris", now: day("2024-01-01")})
	if p := m.observe(obs{predicate: "lives_in", object: "rome", now: day("2024-02-01")}); len(p.Changes) != 0 {
		t.Errorf("changed %+v", p.Changes)
	}
}

func TestResolveErrors(t *testing.T) {
	now := day("2024-01-01")
	good := facts.Fact{ID: "x", Subject: "s", Predicate: "likes", Value: "secret text"}
	for _, tc := range []struct {
		name    string
		edit    func(*facts.Fact)
		negated bool
		now     time.Time
		want    error
	}{
		{"no subject", func(f *facts.Fact) { f.Subject = "" }, false, now, facts.ErrNoSubject},
		{"no predicate", func(f *facts.Fact) { f.Predicate = "" }, false, now, facts.ErrNoPredicate},
		{"no object", func(f *facts.Fact) { f.Value = "" }, false, now, facts.ErrNoObject},
		{"both", func(f *facts.Fact) { f.Object = "e1" }, false, now, facts.ErrNoObject},
		{"both negated", func(f *facts.Fact) { f.Object = "e1" }, true, now, facts.ErrNoObject},
		{"no id", func(f *facts.Fact) { f.ID = "" }, false, now, facts.ErrNoID},
		{"no now", func(f *facts.Fact) {}, false, time.Time{}, facts.ErrNoTime},
		{"end before start", func(f *facts.Fact) { f.ValidAt = day("2024-02-01"); f.InvalidAt = ptr(day("2024-01-01")) }, false, now, facts.ErrInterval},
		{"empty interval", func(f *facts.Fact) { f.ValidAt = day("2024-02-01"); f.InvalidAt = ptr(day("2024-02-01")) }, false, now, facts.ErrInterval},
		{"negation needs no id", func(f *facts.Fact) { f.ID = "" }, true, now, nil},
		{"negation of any value", func(f *facts.Fact) { f.Value = "" }, true, now, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good
			tc.edit(&f)
			_, err := facts.Resolve(nil, facts.Observation{Fact: f, Negated: tc.negated}, tc.now, false)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error holds content: %v", err)
			}
		})
	}
}

func TestResolveDoesNotModifyInput(t *testing.T) {
	m := newMemory(t)
	m.observe(obs{predicate: "lives_in", object: "paris", valid: day("2020-01-01"), now: day("2024-01-01")})
	before := slices.Clone(m.facts)
	before[0] = before[0].Clone()
	p, err := facts.Resolve(m.facts, facts.Observation{Fact: facts.Fact{
		ID: "x", Subject: "alice", Predicate: "lives_in", Object: "rome", ValidAt: day("2022-01-01"), Episodes: []string{"e"},
	}}, day("2024-02-01"), true)
	if err != nil || len(p.Changes) != 1 {
		t.Fatalf("%+v %v", p, err)
	}
	if !reflect.DeepEqual(before, m.facts) {
		t.Errorf("input modified")
	}
	p.Changes[0].Fact.Episodes[0] = "changed"
	if m.facts[0].Episodes[0] == "changed" {
		t.Errorf("plan aliases input")
	}
}
