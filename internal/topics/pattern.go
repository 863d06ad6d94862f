package topics

import (
	"sort"
	"strings"
	"time"

	"github.com/engram-memory/engram/internal/facts"
)

// Kind is the kind of a pattern.
type Kind string

// The pattern kinds, in the order Detect returns them.
const (
	RecurringPreference Kind = "recurring_preference"
	Routine             Kind = "routine"
	FrequentChange      Kind = "frequent_change"
)

var kindRank = map[Kind]int{RecurringPreference: 0, Routine: 1, FrequentChange: 2}

// DefaultMinEpisodes is the threshold Detect uses when given less than 2:
// a single episode is a statement, not a recurrence.
const DefaultMinEpisodes = 3

// preferencePredicates are the predicates whose repetition is a recurring
// preference.
var preferencePredicates = map[string]bool{
	"likes": true, "dislikes": true, "diet": true, "hobby": true, "plays": true,
}

// Pattern is something that recurs across episodes, with the facts it rests
// on. Every string in it is copied from those facts.
type Pattern struct {
	Kind      Kind   `json:"kind"`
	Subject   string `json:"subject"`
	Predicate string `json:"predicate"`
	// Object and Value are the recurring object (entity id) or literal, as
	// written in the earliest fact; both empty for a frequent change.
	Object string `json:"object,omitempty"`
	Value  string `json:"value,omitempty"`
	// When is the routine's slot: "weekday:monday" or "time:evening".
	When string `json:"when,omitempty"`
	// Values are a frequent change's successive values (object id or
	// literal) in world-time order, repeats kept: "berlin, paris, berlin".
	Values    []string  `json:"values,omitempty"`
	FactIDs   []string  `json:"fact_ids"`   // sorted
	Episodes  []string  `json:"episodes"`   // distinct, sorted
	FirstSeen time.Time `json:"first_seen"` // earliest ValidAt of the facts
	LastSeen  time.Time `json:"last_seen"`  // latest ValidAt of the facts
	// Current reports that at least one of the facts is still current
	// (neither invalidated nor retired).
	Current bool `json:"current"`
}

// Detect finds the patterns in facts (any subjects, any predicates, current
// or not) with facts.DefaultTable deciding which predicates are
// single-valued. See DetectTable.
func Detect(fs []facts.Fact, minEpisodes int) []Pattern {
	return DetectTable(fs, minEpisodes, facts.DefaultTable())
}

// DetectTable finds the patterns in fs:
//
//   - recurring preference: facts of a preference predicate with the same
//     subject and the same value (facts.SameValue) stated in at least
//     minEpisodes distinct episodes;
//   - routine: facts with the same subject, predicate and value whose
//     ValidAt falls on the same weekday, or in the same part of the day,
//     on at least minEpisodes distinct days and in at least minEpisodes
//     distinct episodes;
//   - frequent change: a single-valued predicate of one subject whose value
//     changed at least minEpisodes-1 times in world-time order, over at
//     least minEpisodes distinct episodes.
//
// minEpisodes below 2 means DefaultMinEpisodes. The result is ordered by
// kind, subject, predicate, value and slot; the input is not modified.
func DetectTable(fs []facts.Fact, minEpisodes int, table facts.Table) []Pattern {
	if minEpisodes < 2 {
		minEpisodes = DefaultMinEpisodes
	}
	var out []Pattern
	for _, g := range groupByValue(fs) {
		first := g[0]
		if preferencePredicates[first.Predicate] {
			p := newPattern(RecurringPreference, g)
			if len(p.Episodes) >= minEpisodes {
				out = append(out, p)
			}
		}
		out = append(out, routines(g, minEpisodes)...)
	}
	for _, g := range groupBySubjectPredicate(fs, table) {
		if p, ok := change(g, minEpisodes); ok {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

// valueKey folds a fact's value the way facts.SameValue compares it.
func valueKey(f facts.Fact) string {
	if f.Object != "" {
		return "o\x00" + f.Object
	}
	return "v\x00" + strings.Join(strings.Fields(strings.ToLower(f.Value)), " ")
}

// sorted returns a copy of fs ordered by ValidAt then ID, so every group
// is read in the same order whatever order the caller passed.
func sorted(fs []facts.Fact) []facts.Fact {
	c := append([]facts.Fact(nil), fs...)
	sort.SliceStable(c, func(i, j int) bool {
		if !c[i].ValidAt.Equal(c[j].ValidAt) {
			return c[i].ValidAt.Before(c[j].ValidAt)
		}
		return c[i].ID < c[j].ID
	})
	return c
}

func groupByValue(fs []facts.Fact) [][]facts.Fact {
	groups := make(map[string][]facts.Fact)
	var keys []string
	for _, f := range sorted(fs) {
		k := f.Subject + "\x00" + f.Predicate + "\x00" + valueKey(f)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	out := make([][]facts.Fact, len(keys))
	for i, k := range keys {
		out[i] = groups[k]
	}
	return out
}

func groupBySubjectPredicate(fs []facts.Fact, table facts.Table) [][]facts.Fact {
	groups := make(map[string][]facts.Fact)
	var keys []string
	for _, f := range sorted(fs) {
		if !table.Single(f.Predicate) {
			continue
		}
		k := f.Subject + "\x00" + f.Predicate
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], f)
	}
	out := make([][]facts.Fact, len(keys))
	for i, k := range keys {
		out[i] = groups[k]
	}
	return out
}

// newPattern builds a pattern over g (non-empty, in world-time order).
func newPattern(kind Kind, g []facts.Fact) Pattern {
	p := Pattern{
		Kind:      kind,
		Subject:   g[0].Subject,
		Predicate: g[0].Predicate,
		FirstSeen: g[0].ValidAt,
		LastSeen:  g[0].ValidAt,
	}
	if kind != FrequentChange {
		p.Object, p.Value = g[0].Object, g[0].Value
	}
	eps := make(map[string]bool)
	for _, f := range g {
		p.FactIDs = append(p.FactIDs, f.ID)
		for _, e := range f.Episodes {
			if e != "" && !eps[e] {
				eps[e] = true
				p.Episodes = append(p.Episodes, e)
			}
		}
		if f.ValidAt.Before(p.FirstSeen) {
			p.FirstSeen = f.ValidAt
		}
		if f.ValidAt.After(p.LastSeen) {
			p.LastSeen = f.ValidAt
		}
		if f.InvalidAt == nil && f.ExpiredAt == nil {
			p.Current = true
		}
	}
	sort.Strings(p.FactIDs)
	sort.Strings(p.Episodes)
	return p
}

// partOfDay names the part of the day of t, in t's own location. Midnight
// exactly is how a statement with a date and no hour is stored, so it has
// no part of the day.
func partOfDay(t time.Time) string {
	h, m, s := t.Clock()
	if h == 0 && m == 0 && s == 0 && t.Nanosecond() == 0 {
		return ""
	}
	switch {
	case h >= 5 && h < 12:
		return "morning"
	case h >= 12 && h < 17:
		return "afternoon"
	case h >= 17 && h < 22:
		return "evening"
	default:
		return "night"
	}
}

// routines finds the weekday and part-of-day slots of g (one subject,
// predicate and value) that recur. Counting distinct days as well as
// distinct episodes keeps one fact that merged many episodes (one ValidAt)
// from passing for a routine.
func routines(g []facts.Fact, minEpisodes int) []Pattern {
	slots := make(map[string][]facts.Fact)
	var order []string
	put := func(slot string, f facts.Fact) {
		if _, ok := slots[slot]; !ok {
			order = append(order, slot)
		}
		slots[slot] = append(slots[slot], f)
	}
	for _, f := range g {
		if f.ValidAt.IsZero() {
			continue
		}
		put("weekday:"+strings.ToLower(f.ValidAt.Weekday().String()), f)
		if pd := partOfDay(f.ValidAt); pd != "" {
			put("time:"+pd, f)
		}
	}
	var out []Pattern
	for _, slot := range order {
		sg := slots[slot]
		days := make(map[string]bool)
		for _, f := range sg {
			days[f.ValidAt.Format("2006-01-02")] = true
		}
		if len(days) < minEpisodes {
			continue
		}
		p := newPattern(Routine, sg)
		if len(p.Episodes) < minEpisodes {
			continue
		}
		p.When = slot
		out = append(out, p)
	}
	return out
}

// change reports a frequent change in g (one subject and single-valued
// predicate, in world-time order). Negation-free: a fact's presence is a
// statement of its value, whether it is still true or not.
func change(g []facts.Fact, minEpisodes int) (Pattern, bool) {
	changes := 0
	for i := 1; i < len(g); i++ {
		if !facts.SameValue(g[i-1], g[i]) {
			changes++
		}
	}
	if changes < minEpisodes-1 {
		return Pattern{}, false
	}
	p := newPattern(FrequentChange, g)
	if len(p.Episodes) < minEpisodes {
		return Pattern{}, false
	}
	for _, f := range g {
		v := f.Object
		if v == "" {
			v = f.Value
		}
		p.Values = append(p.Values, v)
	}
	return p, true
}

func less(a, b Pattern) bool {
	if a.Kind != b.Kind {
		return kindRank[a.Kind] < kindRank[b.Kind]
	}
	for _, c := range [][2]string{
		{a.Subject, b.Subject}, {a.Predicate, b.Predicate}, {a.Object, b.Object},
		{a.Value, b.Value}, {a.When, b.When},
	} {
		if c[0] != c[1] {
			return c[0] < c[1]
		}
	}
	return strings.Join(a.FactIDs, ",") < strings.Join(b.FactIDs, ",")
}
