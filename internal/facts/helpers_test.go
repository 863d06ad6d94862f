package facts_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/facts"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func ptr(t time.Time) *time.Time { return &t }

// memory is an in-memory fact list that applies plans, as the engine will.
type memory struct {
	t     *testing.T
	table facts.Table
	facts []facts.Fact
	n     int
}

func newMemory(t *testing.T) *memory {
	return &memory{t: t, table: facts.DefaultTable()}
}

// obs describes one statement; zero fields take defaults.
type obs struct {
	subject, predicate, object, value string
	valid, invalid                    time.Time
	negated                           bool
	episode                           string
	reference, now                    time.Time
}

func (m *memory) observe(o obs) facts.Plan {
	m.t.Helper()
	m.n++
	if o.subject == "" {
		o.subject = "alice"
	}
	if o.episode == "" {
		o.episode = fmt.Sprintf("ep%d", m.n)
	}
	f := facts.Fact{
		ID: fmt.Sprintf("f%02d", m.n), Subject: o.subject, Predicate: o.predicate,
		Object: o.object, Value: o.value, ValidAt: o.valid, Episodes: []string{o.episode},
		Sentence: "a sentence",
	}
	if !o.invalid.IsZero() {
		f.InvalidAt = ptr(o.invalid)
	}
	p, err := facts.Resolve(m.facts, facts.Observation{Fact: f, Negated: o.negated, Reference: o.reference}, o.now, m.table.Single(o.predicate))
	if err != nil {
		m.t.Fatalf("resolve %s: %v", f.ID, err)
	}
	m.facts = p.Apply(m.facts)
	return p
}

func (m *memory) byID(id string) facts.Fact {
	m.t.Helper()
	for _, f := range m.facts {
		if f.ID == id {
			return f
		}
	}
	m.t.Fatalf("no fact %s", id)
	return facts.Fact{}
}

// value names what a fact states, for compact assertions.
func value(f facts.Fact) string {
	if f.Object != "" {
		return f.Predicate + "=" + f.Object
	}
	return f.Predicate + "=" + f.Value
}

func values(fs []facts.Fact) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, value(f))
	}
	return out
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "nil"
	}
	return t.Format("2006-01-02T15:04")
}
