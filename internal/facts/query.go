package facts

import (
	"cmp"
	"slices"
	"time"
)

// Current returns the facts that are neither invalidated nor retired:
// InvalidAt and ExpiredAt both nil. predicate "" means every predicate. A
// fact dated in the future ("I move to Berlin next month") is current from
// the moment it is learned; to ask what is true at a given instant, use
// AsOf.
func Current(facts []Fact, predicate string) []Fact {
	return pick(facts, func(f Fact) bool {
		return f.InvalidAt == nil && f.ExpiredAt == nil && (predicate == "" || f.Predicate == predicate)
	})
}

// AsOf returns the facts true in the world at t (ValidAt ≤ t < InvalidAt),
// whenever Engram learned them: world-time travel over what Engram knows now.
func AsOf(facts []Fact, t time.Time) []Fact {
	return pick(facts, func(f Fact) bool { return f.TrueAt(t) })
}

// KnownAt returns the facts Engram held at t (CreatedAt ≤ t < ExpiredAt):
// knowledge-time travel. The facts are as they stand now: a fact retired
// after t shows the InvalidAt it was given then, not the nil it had at t.
func KnownAt(facts []Fact, t time.Time) []Fact {
	return pick(facts, func(f Fact) bool { return f.KnownAt(t) })
}

// pick returns copies of the matching facts ordered by subject, predicate,
// world time, knowledge time and id.
func pick(facts []Fact, keep func(Fact) bool) []Fact {
	var out []Fact
	for _, f := range facts {
		if keep(f) {
			out = append(out, f.Clone())
		}
	}
	slices.SortFunc(out, func(a, b Fact) int {
		return cmp.Or(cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Predicate, b.Predicate), byWorldThenKnowledge(a, b))
	})
	return out
}
