package facts_test

import (
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/facts"
)

// The "done when": someone moves city, changes job and adds a hobby
// over several dated messages.
func TestScenarioMoveJobHobby(t *testing.T) {
	m := newMemory(t)
	m1, m2, m3, m4 := day("2024-01-10"), day("2024-06-01"), day("2024-09-15"), day("2024-10-01")
	learn := func(t time.Time) time.Time { return t.Add(time.Minute) }

	// m1: "I live in Paris, work at Acme as an engineer and play the cello."
	m.observe(obs{predicate: "lives_in", object: "paris", reference: m1, now: learn(m1)})    // f01
	m.observe(obs{predicate: "works_at", object: "acme", reference: m1, now: learn(m1)})     // f02
	m.observe(obs{predicate: "job_title", value: "Engineer", reference: m1, now: learn(m1)}) // f03
	m.observe(obs{predicate: "plays", object: "cello", reference: m1, now: learn(m1)})       // f04
	// m2: "I moved to Berlin last month."
	p := m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2024-05-01"), reference: m2, now: learn(m2)}) // f05
	if len(p.Changes) != 1 || p.Changes[0].Event != facts.EventInvalidate || p.Changes[0].Fact.ID != "f01" {
		t.Fatalf("move: changes %+v", p.Changes)
	}
	// m3: "In September I started at Globex as a manager."
	m.observe(obs{predicate: "works_at", object: "globex", valid: day("2024-09-01"), reference: m3, now: learn(m3)})  // f06
	m.observe(obs{predicate: "job_title", value: "manager", valid: day("2024-09-01"), reference: m3, now: learn(m3)}) // f07
	// m4: "I took up climbing." (no date: the message's time)
	m.observe(obs{predicate: "hobby", value: "climbing", reference: m4, now: learn(m4)}) // f08

	if got, want := values(facts.Current(m.facts, "")), []string{
		"hobby=climbing", "job_title=manager", "lives_in=berlin", "plays=cello", "works_at=globex",
	}; !slices.Equal(got, want) {
		t.Fatalf("current = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		id               string
		invalid, expired *time.Time
	}{
		{"f01", ptr(day("2024-05-01")), ptr(learn(m2))},
		{"f02", ptr(day("2024-09-01")), ptr(learn(m3))},
		{"f03", ptr(day("2024-09-01")), ptr(learn(m3))},
		{"f04", nil, nil},
		{"f05", nil, nil},
		{"f08", nil, nil},
	} {
		f := m.byID(tc.id)
		if fmtTime(f.InvalidAt) != fmtTime(tc.invalid) || fmtTime(f.ExpiredAt) != fmtTime(tc.expired) {
			t.Errorf("%s %s: invalid_at %s expired_at %s, want %s %s", tc.id, value(f),
				fmtTime(f.InvalidAt), fmtTime(f.ExpiredAt), fmtTime(tc.invalid), fmtTime(tc.expired))
		}
	}
	if got := m.byID("f08").ValidAt; !got.Equal(m4) {
		t.Errorf("hobby valid_at %v, want the message's time", got)
	}

	// Later: "Back in 2021 I lived in Rome." Ended at once by Paris, its
	// successor in world time; Paris is not touched.
	p = m.observe(obs{predicate: "lives_in", object: "rome", valid: day("2021-01-01"), now: day("2024-10-02")}) // f09
	if !p.BornInvalid || len(p.Changes) != 0 || fmtTime(p.Add.InvalidAt) != fmtTime(&m1) || fmtTime(p.Add.ExpiredAt) != "2024-10-02T00:00" {
		t.Fatalf("rome: %+v %+v", p, p.Add)
	}
	if got := values(facts.Current(m.facts, "lives_in")); !slices.Equal(got, []string{"lives_in=berlin"}) {
		t.Errorf("current after rome %v", got)
	}

	// World time travel: in March Alice lived in Paris and worked at Acme.
	if got, want := values(facts.AsOf(m.facts, day("2024-03-01"))), []string{
		"job_title=Engineer", "lives_in=paris", "plays=cello", "works_at=acme",
	}; !slices.Equal(got, want) {
		t.Errorf("as_of March = %v, want %v", got, want)
	}
	if len(m.facts) != 9 {
		t.Errorf("%d facts, want 9 (nothing deleted)", len(m.facts))
	}
	// Knowledge time travel: on 2024-06-01 (before m2 was learned) Engram still
	// believed Paris; one minute later it had retired it.
	if got := values(facts.KnownAt(m.facts, m2)); !slices.Contains(got, "lives_in=paris") || slices.Contains(got, "lives_in=berlin") {
		t.Errorf("known_at m2 = %v", got)
	}
	if got := values(facts.KnownAt(m.facts, learn(m2))); slices.Contains(got, "lives_in=paris") || !slices.Contains(got, "lives_in=berlin") {
		t.Errorf("known_at after m2 = %v", got)
	}
}

// An older statement learned after a newer one is born invalid: the newer
// fact ends it, and the newer fact is left alone.
func TestOutOfOrderLearning(t *testing.T) {
	m := newMemory(t)
	now1, now2 := day("2024-02-01"), day("2024-03-01")
	m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2023-01-01"), now: now1}) // f01
	p := m.observe(obs{predicate: "lives_in", object: "paris", valid: day("2020-01-01"), now: now2})
	if !p.BornInvalid || p.Add == nil || len(p.Changes) != 0 {
		t.Fatalf("plan %+v", p)
	}
	if fmtTime(p.Add.InvalidAt) != "2023-01-01T00:00" || fmtTime(p.Add.ExpiredAt) != fmtTime(&now2) {
		t.Errorf("paris invalid_at %s expired_at %s", fmtTime(p.Add.InvalidAt), fmtTime(p.Add.ExpiredAt))
	}
	if got := values(facts.Current(m.facts, "lives_in")); !slices.Equal(got, []string{"lives_in=berlin"}) {
		t.Errorf("current %v", got)
	}
	if got := values(facts.AsOf(m.facts, day("2021-06-01"))); !slices.Equal(got, []string{"lives_in=paris"}) {
		t.Errorf("as_of 2021 %v", got)
	}

	// A statement that falls between two known values ends the older one and
	// is ended by the newer: Paris [2020,2021), Rome [2021,2023), Berlin.
	p = m.observe(obs{predicate: "lives_in", object: "rome", valid: day("2021-01-01"), now: day("2024-04-01")})
	if !p.BornInvalid || fmtTime(p.Add.InvalidAt) != "2023-01-01T00:00" {
		t.Fatalf("rome %+v", p.Add)
	}
	if len(p.Changes) != 1 || p.Changes[0].Fact.ID != "f02" || fmtTime(p.Changes[0].Fact.InvalidAt) != "2021-01-01T00:00" {
		t.Fatalf("changes %+v", p.Changes)
	}
	// Paris was already retired: its expired_at keeps the first retirement.
	if fmtTime(p.Changes[0].Fact.ExpiredAt) != fmtTime(&now2) {
		t.Errorf("paris expired_at moved to %s", fmtTime(p.Changes[0].Fact.ExpiredAt))
	}
	for d, want := range map[string]string{"2020-06-01": "lives_in=paris", "2022-06-01": "lives_in=rome", "2024-06-01": "lives_in=berlin"} {
		if got := values(facts.AsOf(m.facts, day(d))); !slices.Equal(got, []string{want}) {
			t.Errorf("as_of %s = %v, want %s", d, got, want)
		}
	}
}

func TestNonOverlappingIntervalsLeftAlone(t *testing.T) {
	m := newMemory(t)
	// "I lived in Paris from 2018 to 2020."
	m.observe(obs{predicate: "lives_in", object: "paris", valid: day("2018-01-01"), invalid: day("2020-01-01"), now: day("2024-01-01")})
	p := m.observe(obs{predicate: "lives_in", object: "berlin", valid: day("2022-01-01"), now: day("2024-01-02")})
	if len(p.Changes) != 0 || p.BornInvalid {
		t.Fatalf("plan %+v", p)
	}
	// "In 2010-2012 I lived in Rome": bounded by its own end, before Berlin
	// began, so it is not born invalid and nothing changes.
	p = m.observe(obs{predicate: "lives_in", object: "rome", valid: day("2010-01-01"), invalid: day("2012-01-01"), now: day("2024-01-03")})
	if len(p.Changes) != 0 || p.BornInvalid || p.Add.ExpiredAt != nil || fmtTime(p.Add.InvalidAt) != "2012-01-01T00:00" {
		t.Fatalf("plan %+v add %+v", p, p.Add)
	}
	if got := values(facts.Current(m.facts, "")); !slices.Equal(got, []string{"lives_in=berlin"}) {
		t.Errorf("current %v", got)
	}
	if f := m.byID("f01"); f.ExpiredAt != nil || fmtTime(f.InvalidAt) != "2020-01-01T00:00" {
		t.Errorf("paris changed: %s %s", fmtTime(f.InvalidAt), fmtTime(f.ExpiredAt))
	}
}
