package facts_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/facts"
)

// TestPropertyRandomSequences applies seeded random observations (dated and
// undated, bounded and open, negations with and without a value, repeats,
// ties and statements learned out of order) and checks after every step that:
//   - no fact is dropped, and a fact only changes the ways the rules allow
//     (its interval shrinks or its start moves back on a merge, expired_at is
//     set once, episodes grow, identity never changes);
//   - at most one fact of a single-valued predicate is true at any world
//     time, and at most one is current;
//   - facts with the same value never overlap, whatever the predicate.
func TestPropertyRandomSequences(t *testing.T) {
	for seed := range uint64(120) {
		runSequence(t, seed, 50)
	}
}

// FuzzRules runs the same checks on sequences the fuzzer seeds:
// go test -fuzz FuzzRules ./internal/facts/
func FuzzRules(f *testing.F) {
	f.Add(uint64(1), uint8(40))
	f.Fuzz(func(t *testing.T, seed uint64, steps uint8) {
		runSequence(t, seed, int(steps))
	})
}

func runSequence(t *testing.T, seed uint64, steps int) {
	t.Helper()
	table := facts.DefaultTable()
	preds := []string{"lives_in", "works_at", "likes", "plays"}
	base := day("2020-01-01")
	at := func(r *rand.Rand) time.Time { return base.Add(time.Duration(r.IntN(40)) * 24 * time.Hour) }
	r := rand.New(rand.NewPCG(seed, 12))
	var fs []facts.Fact
	now := day("2030-01-01")
	for step := range steps {
		if r.IntN(4) > 0 { // sometimes learn two things at the same instant
			now = now.Add(time.Minute)
		}
		f := facts.Fact{
			ID:        fmt.Sprintf("f%d", step),
			Subject:   []string{"alice", "bob"}[r.IntN(2)],
			Predicate: preds[r.IntN(len(preds))],
			Episodes:  []string{fmt.Sprintf("ep%d", r.IntN(8))},
		}
		if r.IntN(2) == 0 {
			f.Object = []string{"a", "b", "c"}[r.IntN(3)]
		} else {
			f.Value = []string{"x", "X ", "y"}[r.IntN(3)]
		}
		o := facts.Observation{Fact: f, Reference: at(r)}
		if r.IntN(5) > 0 {
			o.Fact.ValidAt = at(r)
		}
		if r.IntN(6) == 0 {
			start := o.Fact.ValidAt
			if start.IsZero() {
				start = o.Reference
			}
			o.Fact.InvalidAt = ptr(start.Add(time.Duration(1+r.IntN(10)) * 24 * time.Hour))
		}
		if r.IntN(6) == 0 {
			o.Negated = true
			o.Fact.InvalidAt = nil
			if r.IntN(3) == 0 {
				o.Fact.Object, o.Fact.Value = "", ""
			}
		}
		p, err := facts.Resolve(fs, o, now, table.Single(f.Predicate))
		if err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		next := p.Apply(fs)
		if msg := checkStep(fs, next, p); msg != "" {
			t.Fatalf("seed %d step %d: %s", seed, step, msg)
		}
		if msg := checkInvariants(next, table); msg != "" {
			t.Fatalf("seed %d step %d: %s", seed, step, msg)
		}
		fs = next
	}
}

func checkStep(before, after []facts.Fact, p facts.Plan) string {
	want := len(before)
	if p.Add != nil {
		want++
	}
	if len(after) != want {
		return fmt.Sprintf("%d facts after, want %d", len(after), want)
	}
	for i, old := range before {
		nf := after[i]
		switch {
		case nf.ID != old.ID || nf.Subject != old.Subject || nf.Predicate != old.Predicate ||
			nf.Object != old.Object || nf.Value != old.Value || !nf.CreatedAt.Equal(old.CreatedAt):
			return fmt.Sprintf("%s changed identity", old.ID)
		case nf.ValidAt.After(old.ValidAt):
			return fmt.Sprintf("%s start moved later", old.ID)
		case old.InvalidAt != nil && (nf.InvalidAt == nil || nf.InvalidAt.After(*old.InvalidAt)):
			return fmt.Sprintf("%s end reopened or extended", old.ID)
		case old.ExpiredAt != nil && (nf.ExpiredAt == nil || !nf.ExpiredAt.Equal(*old.ExpiredAt)):
			return fmt.Sprintf("%s expired_at changed", old.ID)
		}
		for _, e := range old.Episodes {
			if !slices.Contains(nf.Episodes, e) {
				return fmt.Sprintf("%s lost an episode", old.ID)
			}
		}
	}
	return ""
}

func checkInvariants(fs []facts.Fact, table facts.Table) string {
	type key struct{ subject, predicate string }
	groups := map[key][]facts.Fact{}
	for _, f := range fs {
		if f.InvalidAt != nil && f.InvalidAt.Before(f.ValidAt) {
			return fmt.Sprintf("%s ends before it starts", f.ID)
		}
		if f.ExpiredAt != nil && f.ExpiredAt.Before(f.CreatedAt) {
			return fmt.Sprintf("%s expired before it was learned", f.ID)
		}
		if f.InvalidAt == nil && f.ExpiredAt != nil {
			return fmt.Sprintf("%s retired but still true", f.ID)
		}
		groups[key{f.Subject, f.Predicate}] = append(groups[key{f.Subject, f.Predicate}], f)
	}
	for k, g := range groups {
		single := table.Single(k.predicate)
		current := 0
		for i, a := range g {
			if a.InvalidAt == nil && a.ExpiredAt == nil {
				current++
			}
			for _, b := range g[i+1:] {
				if !(single || facts.SameValue(a, b)) {
					continue
				}
				// Two half-open intervals overlap iff one contains the other's start.
				if (a.TrueAt(b.ValidAt) && !empty(b)) || (b.TrueAt(a.ValidAt) && !empty(a)) {
					return fmt.Sprintf("%s and %s of %s overlap", a.ID, b.ID, k.predicate)
				}
			}
		}
		if single && current > 1 {
			return fmt.Sprintf("%d current %s facts", current, k.predicate)
		}
	}
	return ""
}

func empty(f facts.Fact) bool { return f.InvalidAt != nil && !f.InvalidAt.After(f.ValidAt) }
