package facts

import (
	"cmp"
	"reflect"
	"slices"
	"time"
)

// Observation is one new statement about a subject, as an extractor or a
// person (POST /v1/facts) made it.
type Observation struct {
	// Fact carries ID, Subject, Predicate, Object or Value, Sentence and
	// Episodes. A zero ValidAt means the statement gave no date: it takes
	// Reference. InvalidAt may bound a statement that gave its end ("I lived
	// in Paris until 2020"). CreatedAt and ExpiredAt are ignored: Resolve
	// sets them.
	Fact Fact
	// Negated marks "I no longer play the cello": it ends the matching fact
	// at ValidAt and adds none; a negation's InvalidAt is ignored. With neither Object nor Value it ends every
	// value of the predicate ("I quit my job").
	Negated bool
	// Reference is the message's timestamp, the default ValidAt; when it is
	// zero too, now is used.
	Reference time.Time
}

// Event says what a plan does to one fact.
type Event string

// Events, named after what the REST answer reports for each fact.
const (
	EventAdd        Event = "add"        // the new fact is stored (perhaps born invalid)
	EventInvalidate Event = "invalidate" // a new value ended an existing fact
	EventMerge      Event = "merge"      // a duplicate: the existing fact took the new episodes
	EventEnd        Event = "end"        // a negation ended an existing fact
)

// Change is an existing fact in its new form and why it changed.
type Change struct {
	Event Event
	Fact  Fact
}

// Plan is what one observation does. It never removes a fact: Changes only
// close world intervals, set ExpiredAt, move a duplicate's ValidAt earlier
// and add episode ids.
type Plan struct {
	// Add is the fact to store, or nil for a duplicate or a negation.
	Add *Fact
	// Changes are the existing facts that change, each once, ordered by ID.
	// A duplicate that adds nothing (same episode, within the interval) has
	// Duplicate set and no change.
	Changes []Change
	// BornInvalid reports that a fact newer in world time ended Add at once
	// (an old statement learned late); Add then has InvalidAt and ExpiredAt.
	BornInvalid bool
	// Duplicate is the id of the existing fact the observation merged into.
	Duplicate string
	// Unmatched reports a negation that found no fact true at its ValidAt.
	Unmatched bool
}

// Resolve plans what the observation does to the existing facts of its
// subject, following Graphiti's contradiction rule (see the package comment
// and docs/OBSERVE.md). existing may hold facts of other subjects and
// predicates: they are ignored. single says whether the predicate is
// single-valued (Table.Single). now is when Engram learns the observation:
// the new fact's CreatedAt and the ExpiredAt of what it retires.
//
// Ties in world time go to what is learned later: an existing fact with the
// same ValidAt as a new value (or a negation) is ended at that instant,
// leaving it an empty interval that is never true.
//
// Resolve returns one of the package's Err values for a malformed
// observation; existing facts are never modified (the plan holds copies).
func Resolve(existing []Fact, obs Observation, now time.Time, single bool) (Plan, error) {
	nf := obs.Fact
	if err := validate(nf, obs.Negated, now); err != nil {
		return Plan{}, err
	}
	start := nf.ValidAt
	if start.IsZero() {
		start = obs.Reference
	}
	if start.IsZero() {
		start = now
	}
	if nf.InvalidAt != nil && !nf.InvalidAt.After(start) {
		return Plan{}, ErrInterval
	}

	var rel []Fact
	for _, f := range existing {
		if f.Subject == nf.Subject && f.Predicate == nf.Predicate {
			rel = append(rel, f)
		}
	}
	// Deterministic whatever order the caller passes.
	slices.SortFunc(rel, byWorldThenKnowledge)

	w := newWork()
	if obs.Negated {
		return w.negate(rel, nf, start, now), nil
	}

	// The new fact ends where the first other value after it begins: a
	// candidate newer in world time invalidates the new fact instead.
	end := clonePtr(nf.InvalidAt)
	born := false
	if single {
		for _, f := range rel {
			if SameValue(f, nf) || f.empty() || !f.ValidAt.After(start) {
				continue
			}
			if end == nil || f.ValidAt.Before(*end) {
				end, born = timePtr(f.ValidAt), true
			}
		}
		// An older value whose interval reaches the new fact's start ends
		// there; intervals that do not overlap are left alone.
		for _, f := range rel {
			if SameValue(f, nf) || !overlaps(f.ValidAt, f.InvalidAt, start, end) {
				continue
			}
			g := w.get(f, EventInvalidate)
			g.InvalidAt = timePtr(start)
			if g.ExpiredAt == nil {
				g.ExpiredAt = timePtr(now)
			}
		}
	}

	// The same value over an overlapping interval is a duplicate: the
	// earliest such fact takes the episodes, the new statement's start when
	// it is earlier, and its stated end when the fact is still open. The
	// trims above keep the earlier start clear of other values.
	for _, f := range rel {
		if !SameValue(f, nf) || !overlaps(f.ValidAt, f.InvalidAt, start, end) {
			continue
		}
		g := w.get(f, EventMerge)
		g.Episodes = addEpisodes(g.Episodes, nf.Episodes)
		if start.Before(g.ValidAt) {
			g.ValidAt = start
		}
		// "I lived in Berlin until 2025" about a Berlin fact still open: the
		// statement's own end closes it (overlap means the end is after the
		// fact's start, so the interval only shrinks).
		if nf.InvalidAt != nil && g.InvalidAt == nil {
			g.InvalidAt = clonePtr(nf.InvalidAt)
			g.ExpiredAt = timePtr(now)
		}
		p := w.plan()
		p.Duplicate = f.ID
		return p, nil
	}

	add := nf.Clone()
	add.ValidAt = start
	add.InvalidAt = end
	add.CreatedAt = now
	add.ExpiredAt = nil
	if born {
		add.ExpiredAt = timePtr(now)
	}
	add.Episodes = addEpisodes(nil, nf.Episodes)
	p := w.plan()
	p.Add = &add
	p.BornInvalid = born
	return p, nil
}

// negate ends every matching fact that is true at start.
func (w *work) negate(rel []Fact, nf Fact, start, now time.Time) Plan {
	anyValue := nf.Object == "" && nf.Value == ""
	for _, f := range rel {
		if (!anyValue && !SameValue(f, nf)) || !f.TrueAt(start) {
			continue
		}
		g := w.get(f, EventEnd)
		g.InvalidAt = timePtr(start)
		if g.ExpiredAt == nil {
			g.ExpiredAt = timePtr(now)
		}
		// The negating episode is where the fact ended: keep it as provenance.
		g.Episodes = addEpisodes(g.Episodes, nf.Episodes)
	}
	p := w.plan()
	p.Unmatched = len(p.Changes) == 0
	return p
}

func validate(nf Fact, negated bool, now time.Time) error {
	switch {
	case nf.Subject == "":
		return ErrNoSubject
	case nf.Predicate == "":
		return ErrNoPredicate
	case nf.Object != "" && nf.Value != "":
		return ErrNoObject
	case !negated && nf.Object == "" && nf.Value == "":
		return ErrNoObject
	case !negated && nf.ID == "":
		return ErrNoID
	case now.IsZero():
		return ErrNoTime
	}
	return nil
}

// work collects copies of the existing facts a plan changes, each once.
type work struct {
	facts map[string]*Change
	orig  map[string]Fact
}

func newWork() *work { return &work{facts: map[string]*Change{}, orig: map[string]Fact{}} }

// get returns the working copy of f, recording the first event that
// touched it (a fact is changed by one rule per observation).
func (w *work) get(f Fact, ev Event) *Fact {
	c, ok := w.facts[f.ID]
	if !ok {
		c = &Change{Event: ev, Fact: f.Clone()}
		w.facts[f.ID] = c
		w.orig[f.ID] = f
	}
	return &c.Fact
}

func (w *work) plan() Plan {
	var p Plan
	for id, c := range w.facts {
		// A duplicate already holding the episode changes nothing: leave it
		// out so the caller writes nothing.
		if !reflect.DeepEqual(c.Fact, w.orig[id]) {
			p.Changes = append(p.Changes, *c)
		}
	}
	slices.SortFunc(p.Changes, func(a, b Change) int { return cmp.Compare(a.Fact.ID, b.Fact.ID) })
	return p
}

// Apply returns facts with the plan applied: changed facts replaced by id,
// the added fact appended. The input is not modified and every fact in it
// is in the result.
func (p Plan) Apply(facts []Fact) []Fact {
	byID := make(map[string]Fact, len(p.Changes))
	for _, c := range p.Changes {
		byID[c.Fact.ID] = c.Fact
	}
	out := make([]Fact, 0, len(facts)+1)
	for _, f := range facts {
		if g, ok := byID[f.ID]; ok {
			f = g
		}
		out = append(out, f.Clone())
	}
	if p.Add != nil {
		out = append(out, p.Add.Clone())
	}
	return out
}

func byWorldThenKnowledge(a, b Fact) int {
	return cmp.Or(
		a.ValidAt.Compare(b.ValidAt),
		a.CreatedAt.Compare(b.CreatedAt),
		cmp.Compare(a.ID, b.ID),
	)
}

func clonePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return timePtr(*t)
}
