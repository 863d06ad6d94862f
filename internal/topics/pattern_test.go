package topics

import (
	"reflect"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/facts"
)

// mon is a Monday, 18:30 UTC.
var mon = time.Date(2026, 3, 2, 18, 30, 0, 0, time.UTC)

func day(n int) time.Time { return mon.AddDate(0, 0, n) }

func fact(id, subj, pred, obj, val string, at time.Time, eps ...string) facts.Fact {
	return facts.Fact{ID: id, Subject: subj, Predicate: pred, Object: obj, Value: val,
		ValidAt: at, CreatedAt: at, Episodes: eps}
}

func kinds(ps []Pattern) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, string(p.Kind)+"/"+p.When)
	}
	return out
}

func TestDetectRecurringPreference(t *testing.T) {
	// Three statements on different weekdays at midnight (no routine).
	mid := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	likes := func(n int) []facts.Fact {
		var fs []facts.Fact
		for i := 0; i < n; i++ {
			fs = append(fs, fact(string(rune('a'+i)), "anna", "likes", "", []string{"Jazz", "jazz ", "JAZZ"}[i],
				mid.AddDate(0, 0, i*8), "ep"+string(rune('1'+i))))
		}
		return fs
	}
	if got := Detect(likes(2), 3); len(got) != 0 {
		t.Fatalf("2 episodes: want no pattern, got %v", kinds(got))
	}
	got := Detect(likes(3), 3)
	if len(got) != 1 || got[0].Kind != RecurringPreference {
		t.Fatalf("3 episodes: got %+v", got)
	}
	p := got[0]
	want := Pattern{Kind: RecurringPreference, Subject: "anna", Predicate: "likes", Value: "Jazz",
		FactIDs: []string{"a", "b", "c"}, Episodes: []string{"ep1", "ep2", "ep3"},
		FirstSeen: mid, LastSeen: mid.AddDate(0, 0, 16), Current: true}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("pattern = %+v\nwant      %+v", p, want)
	}
	// minEpisodes 2 finds it with two.
	if got := Detect(likes(2), 2); len(got) != 1 {
		t.Fatalf("min 2: got %v", kinds(got))
	}
	// A fact that merged three episodes counts three: that is what merging
	// records.
	merged := []facts.Fact{fact("m", "anna", "likes", "", "jazz", mid, "e1", "e2", "e3")}
	if got := Detect(merged, 3); len(got) != 1 || got[0].Kind != RecurringPreference {
		t.Fatalf("merged fact: got %v", kinds(got))
	}
	// Not a preference predicate: no recurring preference.
	lives := []facts.Fact{
		fact("a", "anna", "speaks", "", "french", mid, "e1"),
		fact("b", "anna", "speaks", "", "french", mid.AddDate(0, 0, 9), "e2"),
		fact("c", "anna", "speaks", "", "french", mid.AddDate(0, 0, 17), "e3"),
	}
	if got := Detect(lives, 3); len(got) != 0 {
		t.Fatalf("speaks: got %v", kinds(got))
	}
}

func TestDetectEpisodeDeduplication(t *testing.T) {
	mid := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	// Three facts but only two episodes: ep1 stated it twice.
	fs := []facts.Fact{
		fact("a", "anna", "likes", "", "jazz", mid, "ep1"),
		fact("b", "anna", "likes", "", "jazz", mid.AddDate(0, 0, 1), "ep1"),
		fact("c", "anna", "likes", "", "jazz", mid.AddDate(0, 0, 9), "ep2", "ep1"),
	}
	if got := Detect(fs, 3); len(got) != 0 {
		t.Fatalf("two distinct episodes: want none, got %v", kinds(got))
	}
	fs = append(fs, fact("d", "anna", "likes", "", "jazz", mid.AddDate(0, 0, 18), "ep3"))
	got := Detect(fs, 3)
	if len(got) != 1 || !reflect.DeepEqual(got[0].Episodes, []string{"ep1", "ep2", "ep3"}) {
		t.Fatalf("got %+v", got)
	}
}

func TestDetectRoutine(t *testing.T) {
	tennis := func(n int) []facts.Fact {
		var fs []facts.Fact
		for i := 0; i < n; i++ {
			// Every Monday evening, three weeks running.
			fs = append(fs, fact(string(rune('a'+i)), "anna", "visited", "gym", "", day(7*i), "ep"+string(rune('1'+i))))
		}
		return fs
	}
	if got := Detect(tennis(2), 3); len(got) != 0 {
		t.Fatalf("2 Mondays: want none, got %v", kinds(got))
	}
	got := Detect(tennis(3), 3)
	if !reflect.DeepEqual(kinds(got), []string{"routine/time:evening", "routine/weekday:monday"}) {
		t.Fatalf("3 Mondays: got %v", kinds(got))
	}
	if got[1].Object != "gym" || len(got[1].FactIDs) != 3 {
		t.Fatalf("routine = %+v", got[1])
	}
	// Same weekday, different parts of the day, date-only midnight: only the
	// weekday routine.
	fs := []facts.Fact{
		fact("a", "anna", "visited", "gym", "", day(0), "e1"),
		fact("b", "anna", "visited", "gym", "", day(7).Add(-12*time.Hour), "e2"), // 06:30
		fact("c", "anna", "visited", "gym", "", time.Date(2026, 3, 16, 0, 0, 0, 0, time.UTC), "e3"),
	}
	if got := Detect(fs, 3); !reflect.DeepEqual(kinds(got), []string{"routine/weekday:monday"}) {
		t.Fatalf("mixed times: got %v", kinds(got))
	}
	// Three episodes on one day are not a routine.
	one := []facts.Fact{
		fact("a", "anna", "visited", "gym", "", day(0), "e1"),
		fact("b", "anna", "visited", "gym", "", day(0).Add(time.Minute), "e2"),
		fact("c", "anna", "visited", "gym", "", day(0).Add(time.Hour), "e3"),
	}
	if got := Detect(one, 3); len(got) != 0 {
		t.Fatalf("one day: got %v", kinds(got))
	}
	// Three Mondays but one episode: not a routine.
	same := []facts.Fact{
		fact("a", "anna", "visited", "gym", "", day(0), "e1"),
		fact("b", "anna", "visited", "gym", "", day(7), "e1"),
		fact("c", "anna", "visited", "gym", "", day(14), "e1"),
	}
	if got := Detect(same, 3); len(got) != 0 {
		t.Fatalf("one episode: got %v", kinds(got))
	}
}

func TestDetectFrequentChange(t *testing.T) {
	mid := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cities := []string{"berlin", "paris", "rome", "berlin"}
	moves := func(n int) []facts.Fact {
		var fs []facts.Fact
		for i := 0; i < n; i++ {
			fs = append(fs, fact(string(rune('a'+i)), "anna", "lives_in", cities[i], "", mid.AddDate(0, i, 0), "ep"+string(rune('1'+i))))
		}
		return fs
	}
	if got := Detect(moves(2), 3); len(got) != 0 {
		t.Fatalf("one change: want none, got %v", kinds(got))
	}
	got := Detect(moves(3), 3)
	if len(got) != 1 || got[0].Kind != FrequentChange {
		t.Fatalf("two changes: got %+v", got)
	}
	if !reflect.DeepEqual(got[0].Values, []string{"berlin", "paris", "rome"}) || got[0].Object != "" {
		t.Fatalf("change = %+v", got[0])
	}
	// The same value restated is not a change.
	fs := []facts.Fact{
		fact("a", "anna", "lives_in", "berlin", "", mid, "e1"),
		fact("b", "anna", "lives_in", "berlin", "", mid.AddDate(0, 1, 0), "e2"),
		fact("c", "anna", "lives_in", "paris", "", mid.AddDate(0, 2, 0), "e3"),
	}
	if got := Detect(fs, 3); len(got) != 0 {
		t.Fatalf("restated: got %v", kinds(got))
	}
	// Multi-valued predicates never change.
	var multi []facts.Fact
	for i, v := range []string{"a", "b", "c"} {
		multi = append(multi, fact(v, "anna", "speaks", "", v, mid.AddDate(0, i, 0), "e"+v))
	}
	if got := Detect(multi, 3); len(got) != 0 {
		t.Fatalf("multi: got %v", kinds(got))
	}
	// Two changes all from one episode: not frequent.
	fs = []facts.Fact{
		fact("a", "anna", "lives_in", "berlin", "", mid, "e1"),
		fact("b", "anna", "lives_in", "paris", "", mid.AddDate(0, 1, 0), "e1"),
		fact("c", "anna", "lives_in", "rome", "", mid.AddDate(0, 2, 0), "e1"),
	}
	if got := Detect(fs, 3); len(got) != 0 {
		t.Fatalf("one episode: got %v", kinds(got))
	}
}

// TestDetectWithResolve runs real facts.Resolve plans: three moves produce
// invalidated facts, which still count as history.
func TestDetectWithResolve(t *testing.T) {
	var held []facts.Fact
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, city := range []string{"berlin", "paris", "rome"} {
		at := start.AddDate(0, 6*i, 0)
		obs := facts.Observation{Fact: facts.Fact{ID: string(rune('a' + i)), Subject: "anna", Predicate: "lives_in",
			Object: city, Episodes: []string{"ep" + city}}, Reference: at}
		plan, err := facts.Resolve(held, obs, at, true)
		if err != nil {
			t.Fatal(err)
		}
		held = plan.Apply(held)
	}
	got := Detect(held, 3)
	if len(got) != 1 || got[0].Kind != FrequentChange || !got[0].Current {
		t.Fatalf("got %+v", got)
	}
}

func TestDetectDeterministicOrder(t *testing.T) {
	mid := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	var fs []facts.Fact
	for i := 0; i < 3; i++ {
		at := mid.AddDate(0, 0, 8*i)
		ep := "ep" + string(rune('1'+i))
		fs = append(fs,
			fact("p"+ep, "ben", "likes", "", "tea", at, ep),
			fact("q"+ep, "anna", "likes", "", "tea", at, ep),
			fact("r"+ep, "anna", "dislikes", "", "rain", at, ep),
			fact("s"+ep, "anna", "job_title", "", []string{"cook", "nurse", "pilot"}[i], at, ep),
			fact("t"+ep, "anna", "plays", "", "chess", day(7*i), ep),
		)
	}
	want := Detect(fs, 3)
	if len(want) != 7 {
		t.Fatalf("want 7 patterns, got %v", kinds(want))
	}
	for i := 0; i < 20; i++ {
		// Reverse and rotate the input: the answer must not move.
		perm := make([]facts.Fact, len(fs))
		for j := range fs {
			perm[(j*7+i)%len(fs)] = fs[len(fs)-1-j]
		}
		if got := Detect(perm, 3); !reflect.DeepEqual(got, want) {
			t.Fatalf("order %d differs:\n%v\n%v", i, kinds(got), kinds(want))
		}
	}
	for i := 1; i < len(want); i++ {
		if less(want[i], want[i-1]) {
			t.Fatalf("not sorted at %d: %v", i, kinds(want))
		}
	}
}

// TestDetectResolvedRestatementIsNotRoutine pins the limit docs/OBSERVE.md
// names: facts.Resolve merges "I play tennis" restated on three Mondays into
// one fact (one ValidAt, three episodes), which is a recurring preference
// and, lacking distinct days, not a routine.
func TestDetectResolvedRestatementIsNotRoutine(t *testing.T) {
	var held []facts.Fact
	for i := 0; i < 3; i++ {
		at := day(7 * i)
		obs := facts.Observation{Fact: facts.Fact{ID: string(rune('a' + i)), Subject: "anna", Predicate: "plays",
			Value: "tennis", Episodes: []string{"ep" + string(rune('1'+i))}}, Reference: at}
		plan, err := facts.Resolve(held, obs, at, false)
		if err != nil {
			t.Fatal(err)
		}
		held = plan.Apply(held)
	}
	if len(held) != 1 {
		t.Fatalf("want one merged fact, got %d", len(held))
	}
	got := Detect(held, 3)
	if !reflect.DeepEqual(kinds(got), []string{"recurring_preference/"}) {
		t.Fatalf("got %v", kinds(got))
	}
}
