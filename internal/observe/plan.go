// Package observe turns what an extractor found in one conversation into
// changes to a scope's knowledge: which mentions are entities already known
// (internal/entity), which are new, and what each candidate fact does to the
// facts already held (internal/facts). It is where "facts are resolved".
//
// It is pure: the caller (the engine, inside its write transaction) supplies
// a Graph that opens the scope's stored entities and facts, a clock and an id
// source, and stores the Plan it gets back. Reading and planning inside one
// transaction is what makes two concurrent observations of one name create
// one entity.
package observe

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/extract"
	"github.com/engram-memory/engram/internal/facts"
)

// Graph is the scope's stored knowledge, opened.
type Graph interface {
	// Candidates returns the stored entities that share an index key
	// with name (entity.Keys): what entity.Resolve compares.
	Candidates(name string) ([]entity.Entity, error)
	// Facts returns the stored facts whose subject is the entity.
	Facts(entityID string) ([]facts.Fact, error)
}

// Input is one conversation's extraction and its context.
type Input struct {
	Episode  string
	Messages []extract.Message
	Result   extract.Result
	// Speaker names the entity that first-person facts of a message
	// without a speaker name are about (the scope's user id, or "user").
	Speaker string
	Now     time.Time
	NewID   func() string
	Table   facts.Table
}

// EntityChange is an entity this conversation created or changed.
type EntityChange struct {
	Entity entity.Entity
	New    bool
	// Changed: an existing entity gained an alias, a type or mentions.
	Changed bool
	// Renamed: it gained an alias or a type (more than a mention).
	Renamed bool
}

// FactEvent is what the conversation did to one fact.
type FactEvent struct {
	ID    string
	Event facts.Event
}

// Plan is what to store.
type Plan struct {
	// Entities by id, created or changed.
	Entities map[string]*EntityChange
	// Order lists entity ids in the order they were first met.
	Order []string
	// Mentions lists, per message index, the entities it mentions.
	Mentions map[int][]string
	// Facts are the facts to insert or update, final state, by id.
	Facts map[string]facts.Fact
	// NewFacts says which of Facts are new.
	NewFacts map[string]bool
	// Events in the order they happened (one per fact: the first).
	Events []FactEvent
	// Skipped counts candidate facts dropped: an unresolved pronoun, a
	// malformed statement.
	Skipped int
}

// Build plans the conversation. Errors come from the Graph only; a
// malformed candidate fact is skipped, never fatal.
func Build(g Graph, in Input) (*Plan, error) {
	p := &Plan{Entities: map[string]*EntityChange{}, Mentions: map[int][]string{}, Facts: map[string]facts.Fact{},
		NewFacts: map[string]bool{}}
	b := &builder{g: g, in: in, p: p, local: entity.NewIndex(), held: map[string][]facts.Fact{}, events: map[string]bool{}}
	for _, m := range in.Result.Entities {
		id, err := b.resolve(m.Name, entity.ParseType(string(m.Type)), true)
		if err != nil {
			return nil, err
		}
		if id != "" && !slices.Contains(p.Mentions[m.Message], id) {
			p.Mentions[m.Message] = append(p.Mentions[m.Message], id)
		}
	}
	for _, f := range in.Result.Facts {
		if err := b.fact(f); err != nil {
			return nil, err
		}
	}
	return p, nil
}

type builder struct {
	g      Graph
	in     Input
	p      *Plan
	local  *entity.Index           // entities met in this conversation, as they now stand
	held   map[string][]facts.Fact // subject id -> its facts, with this plan applied
	events map[string]bool         // facts that already have an event
	strict bool                    // a malformed observation is an error, not skipped
}

// resolve finds or creates the entity a name denotes and counts a mention
// when mention is set. An empty name resolves to "".
func (b *builder) resolve(name string, typ entity.Type, mention bool) (string, error) {
	if entity.Normalise(name) == "" {
		return "", nil
	}
	m := entity.Mention{Name: name, Type: typ}
	cands := b.local.Candidates(m)
	stored, err := b.g.Candidates(name)
	if err != nil {
		return "", err
	}
	for _, c := range stored {
		if _, ok := b.p.Entities[c.ID]; !ok { // the local copy is newer
			cands = append(cands, c)
		}
	}
	d := entity.Resolve(m, cands)
	var ch *EntityChange
	if d.Outcome == entity.Match {
		ch = b.p.Entities[d.ID]
		if ch == nil {
			for _, c := range cands {
				if c.ID == d.ID {
					ch = &EntityChange{Entity: c}
					break
				}
			}
			if ch == nil {
				return "", fmt.Errorf("observe: resolver matched an entity it was not given")
			}
			b.p.Entities[d.ID] = ch
			b.p.Order = append(b.p.Order, d.ID)
		}
		before := len(ch.Entity.Aliases)
		ch.Entity = entity.WithAlias(ch.Entity, name)
		if len(ch.Entity.Aliases) != before {
			ch.Changed, ch.Renamed = true, true
		}
		if ch.Entity.Type == entity.Other && typ != entity.Other && typ != "" {
			ch.Entity.Type, ch.Changed, ch.Renamed = typ, true, true
		}
	} else {
		// New, or Uncertain: an uncertain match stays a separate entity
		// (a false merge mixes two people's facts; a missed one costs a
		// merge call).
		if typ == "" {
			typ = entity.Other
		}
		ch = &EntityChange{Entity: entity.Entity{ID: b.in.NewID(), Name: name, Type: typ}, New: true}
		b.p.Entities[ch.Entity.ID] = ch
		b.p.Order = append(b.p.Order, ch.Entity.ID)
	}
	if mention {
		ch.Entity.Mentions++
		ch.Changed = true
	}
	b.local.Add(ch.Entity)
	return ch.Entity.ID, nil
}

func (b *builder) subjectName(f extract.Fact) string {
	if f.Subject != extract.SpeakerSubject {
		return f.Subject
	}
	if f.Message >= 0 && f.Message < len(b.in.Messages) && b.in.Messages[f.Message].Name != "" {
		return b.in.Messages[f.Message].Name
	}
	return b.in.Speaker
}

// fact resolves one candidate fact against what the subject already holds.
func (b *builder) fact(f extract.Fact) error {
	if !f.Resolved || f.Predicate == "" || (f.Object == "") == (f.Value == "") {
		b.p.Skipped++
		return nil
	}
	styp := entity.ParseType(string(f.SubjectType))
	if f.Subject == extract.SpeakerSubject {
		styp = entity.Person
	}
	subj, err := b.resolve(b.subjectName(f), styp, false)
	if err != nil || subj == "" {
		b.p.Skipped++
		return err
	}
	obs := facts.Observation{Negated: f.Negated, Fact: facts.Fact{
		ID: b.in.NewID(), Subject: subj, Predicate: f.Predicate, Value: f.Value, Sentence: f.Sentence,
		Episodes: []string{b.in.Episode},
	}}
	if f.Object != "" {
		if obs.Fact.Object, err = b.resolve(f.Object, entity.ParseType(string(f.ObjectType)), false); err != nil {
			return err
		}
		if obs.Fact.Object == "" {
			b.p.Skipped++
			return nil
		}
	}
	if f.ValidAt != nil {
		obs.Fact.ValidAt = f.ValidAt.UTC()
	}
	if f.Message >= 0 && f.Message < len(b.in.Messages) {
		obs.Reference = b.in.Messages[f.Message].Time
	}
	return b.Observe(obs)
}

// Observe applies one observation (from the extractor, or stated by hand)
// to the plan.
func (b *builder) Observe(obs facts.Observation) error {
	subj := obs.Fact.Subject
	held, ok := b.held[subj]
	if !ok {
		stored, err := b.g.Facts(subj)
		if err != nil {
			return err
		}
		held = stored
	}
	plan, err := facts.Resolve(held, obs, b.in.Now, b.in.Table.Single(obs.Fact.Predicate))
	if err != nil {
		if b.strict {
			return err
		}
		if errors.Is(err, facts.ErrNoTime) || errors.Is(err, facts.ErrInterval) || errors.Is(err, facts.ErrNoObject) {
			b.p.Skipped++
			return nil
		}
		return err
	}
	b.held[subj] = plan.Apply(held)
	for _, c := range plan.Changes {
		b.p.Facts[c.Fact.ID] = c.Fact
		b.event(c.Fact.ID, c.Event)
	}
	if plan.Add != nil {
		b.p.Facts[plan.Add.ID] = *plan.Add
		b.p.NewFacts[plan.Add.ID] = true
		b.event(plan.Add.ID, facts.EventAdd)
	}
	return nil
}

func (b *builder) event(id string, ev facts.Event) {
	if b.events[id] {
		return
	}
	b.events[id] = true
	b.p.Events = append(b.p.Events, FactEvent{ID: id, Event: ev})
}

// Single plans one fact stated by hand (POST /v1/facts, MCP relations and
// observations): the subject and object are entity ids already resolved by
// the caller.
func Single(g Graph, obs facts.Observation, now time.Time, table facts.Table) (*Plan, error) {
	p := &Plan{Entities: map[string]*EntityChange{}, Mentions: map[int][]string{}, Facts: map[string]facts.Fact{},
		NewFacts: map[string]bool{}}
	b := &builder{g: g, in: Input{Now: now, Table: table}, p: p, local: entity.NewIndex(),
		held: map[string][]facts.Fact{}, events: map[string]bool{}, strict: true}
	if err := b.Observe(obs); err != nil {
		return nil, err
	}
	return p, nil
}
