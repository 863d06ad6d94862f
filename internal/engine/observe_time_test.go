package engine_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
)

// factWith returns the one fact of user (current or not) whose predicate
// and object or value are pred and val, failing when there is not exactly
// one.
func factWith(t *testing.T, e *engine.Engine, ctx context.Context, user, pred, val string) engram.Fact {
	t.Helper()
	fs, err := e.Facts(ctx, engram.FactQuery{UserID: user, IncludeInvalid: true, Limit: engram.MaxFactLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []engram.Fact
	for _, f := range fs {
		if f.Predicate == pred && valueOf(f) == val {
			out = append(out, f)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d facts %s=%s, want 1 (of %v)", len(out), pred, val, factSet(fs))
	}
	return out[0]
}

// factsAsOf is the user's facts true at day d, as predicate=value.
func factsAsOf(t *testing.T, e *engine.Engine, ctx context.Context, user, d string) []string {
	t.Helper()
	q := engram.FactQuery{UserID: user, Limit: engram.MaxFactLimit}
	if d != "" {
		q.AsOf = day(d)
	}
	fs, err := e.Facts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	return factSet(fs)
}

func eventOf(ep *engram.Episode, id string) string {
	for _, f := range ep.Facts {
		if f.ID == id {
			return f.Event
		}
	}
	return ""
}

func sameDay(got *time.Time, want string) bool { return got != nil && got.Equal(*day(want)) }

// TestObserveNegationEndsAFact: "I no longer play the cello" ends the
// cello at the day it is said; before it the cello was played, after it
// not, and the ended fact stays listed with include_invalid.
func TestObserveNegationEndsAFact(t *testing.T) {
	e, _, _ := observeEngine(t)
	_, ctx := owner(t, e)
	observe(t, e, ctx, "ana", "I play the cello and I live in Porto.", "2024-01-10")
	ep := observe(t, e, ctx, "ana", "I no longer play the cello.", "2024-06-01")
	cello := factWith(t, e, ctx, "ana", "plays", "cello")
	if ev := eventOf(ep, cello.ID); ev != engram.FactEnd {
		t.Errorf("the negation reports %q for the cello, want %q", ev, engram.FactEnd)
	}
	if !sameDay(cello.InvalidAt, "2024-06-01") || cello.ExpiredAt == nil {
		t.Errorf("cello invalid_at %v expired_at %v, want 2024-06-01 and set", cello.InvalidAt, cello.ExpiredAt)
	}
	if !slices.Contains(cello.Episodes, ep.ID) {
		t.Error("the ending episode is not among the fact's episodes")
	}
	for d, want := range map[string]bool{"2024-03-01": true, "2024-06-02": false, "": false} {
		if got := slices.Contains(factsAsOf(t, e, ctx, "ana", d), "plays=cello"); got != want {
			t.Errorf("as of %q: cello played %v, want %v", d, got, want)
		}
	}
	if !slices.Contains(factsAsOf(t, e, ctx, "ana", ""), "lives_in=porto") {
		t.Error("the negation ended another fact")
	}
	// Saying it again ends nothing more.
	ep = observe(t, e, ctx, "ana", "I don't play the cello anymore.", "2024-07-01")
	if again := factWith(t, e, ctx, "ana", "plays", "cello"); !sameDay(again.InvalidAt, "2024-06-01") {
		t.Errorf("a second negation moved the end to %v", again.InvalidAt)
	}
	if eventOf(ep, cello.ID) != "" {
		t.Errorf("a second negation reports %q", eventOf(ep, cello.ID))
	}
}

// TestObserveOutOfOrderAndDuplicates: an old statement learned after a
// newer one is born invalid (ended where the newer begins) and the newer
// stays current; a statement made again merges into the fact, adding its
// episode.
func TestObserveOutOfOrderAndDuplicates(t *testing.T) {
	e, _, _ := observeEngine(t)
	_, ctx := owner(t, e)
	berlin := observe(t, e, ctx, "ben", "I live in Berlin.", "2024-06-01")
	paris := observe(t, e, ctx, "ben", "I live in Paris.", "2024-01-10") // an older message, learned late
	p := factWith(t, e, ctx, "ben", "lives_in", "paris")
	b := factWith(t, e, ctx, "ben", "lives_in", "berlin")
	if eventOf(paris, p.ID) != engram.FactAdd || eventOf(paris, b.ID) != "" {
		t.Errorf("the late statement reports %q for Paris and %q for Berlin", eventOf(paris, p.ID), eventOf(paris, b.ID))
	}
	if !sameDay(&p.ValidAt, "2024-01-10") || !sameDay(p.InvalidAt, "2024-06-01") || p.ExpiredAt == nil {
		t.Errorf("Paris valid %v..%v expired %v, want born invalid 2024-01-10..2024-06-01", p.ValidAt, p.InvalidAt, p.ExpiredAt)
	}
	if b.InvalidAt != nil || b.ExpiredAt != nil || !slices.Equal(b.Episodes, []string{berlin.ID}) {
		t.Errorf("Berlin after the late statement: invalid %v expired %v episodes %v", b.InvalidAt, b.ExpiredAt, b.Episodes)
	}
	for d, want := range map[string]string{"2024-03-01": "lives_in=paris", "2024-06-01": "lives_in=berlin", "": "lives_in=berlin"} {
		got := factsAsOf(t, e, ctx, "ben", d)
		if !slices.Equal(got, []string{want}) {
			t.Errorf("as of %q: %v, want [%s]", d, got, want)
		}
	}
	if got := factsAsOf(t, e, ctx, "ben", "2023-12-31"); len(got) != 0 {
		t.Errorf("as of before anything was true: %v", got)
	}

	first := observe(t, e, ctx, "ben", "I work at Initech.", "2024-02-01")
	second := observe(t, e, ctx, "ben", "By the way, I work at Initech.", "2024-08-01")
	w := factWith(t, e, ctx, "ben", "works_at", "initech")
	if eventOf(first, w.ID) != engram.FactAdd || eventOf(second, w.ID) != engram.FactMerge {
		t.Errorf("events %q then %q, want add then merge", eventOf(first, w.ID), eventOf(second, w.ID))
	}
	if !slices.Equal(w.Episodes, []string{first.ID, second.ID}) || !sameDay(&w.ValidAt, "2024-02-01") || w.InvalidAt != nil {
		t.Errorf("merged fact: episodes %v valid %v invalid %v", w.Episodes, w.ValidAt, w.InvalidAt)
	}
	// The earlier statement of the same fact, learned last, moves its start back.
	observe(t, e, ctx, "ben", "I work at Initech, I have for ages.", "2024-01-15")
	if w = factWith(t, e, ctx, "ben", "works_at", "initech"); !sameDay(&w.ValidAt, "2024-01-15") || len(w.Episodes) != 3 {
		t.Errorf("after an earlier duplicate: valid %v, %d episodes", w.ValidAt, len(w.Episodes))
	}
	all, err := e.Facts(ctx, engram.FactQuery{UserID: "ben", IncludeInvalid: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := factSet(all); !slices.Equal(got, []string{"lives_in=berlin", "lives_in=paris", "works_at=initech"}) {
		t.Errorf("include_invalid: %v", got)
	}
}

// TestObserveFactsByHand: valid_at and invalid_at of a fact stated by
// hand, a newer value ending it, and negation by hand.
func TestObserveFactsByHand(t *testing.T) {
	e, _, _ := observeEngine(t)
	_, ctx := owner(t, e)
	rome, err := e.AddFact(ctx, engram.NewFact{UserID: "cy", Subject: "Cy", Predicate: "lives_in", Object: "Rome",
		ValidAt: day("2020-01-01"), InvalidAt: day("2021-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	if !sameDay(&rome.ValidAt, "2020-01-01") || !sameDay(rome.InvalidAt, "2021-01-01") || rome.Subject.Name != "Cy" ||
		rome.Object == nil || rome.Object.Name != "Rome" {
		t.Fatalf("fact by hand: %+v", rome)
	}
	milan, err := e.AddFact(ctx, engram.NewFact{UserID: "cy", Subject: "Cy", Predicate: "lives_in", Object: "Milan",
		ValidAt: day("2022-03-01")})
	if err != nil {
		t.Fatal(err)
	}
	naples, err := e.AddFact(ctx, engram.NewFact{UserID: "cy", Subject: "cy", Predicate: "lives_in", Object: "Naples",
		ValidAt: day("2023-05-01")})
	if err != nil {
		t.Fatal(err)
	}
	if naples.Subject.ID != milan.Subject.ID || rome.Subject.ID != milan.Subject.ID {
		t.Error("the same subject name made several entities")
	}
	if m, err := e.GetFact(ctx, milan.ID); err != nil || !sameDay(m.InvalidAt, "2023-05-01") {
		t.Fatalf("Milan after Naples: %v %v", m, err)
	}
	for d, want := range map[string][]string{
		"2019-06-01": nil, "2020-06-01": {"lives_in=rome"}, "2021-06-01": nil,
		"2022-06-01": {"lives_in=milan"}, "2024-01-01": {"lives_in=naples"}, "": {"lives_in=naples"},
	} {
		if got := factsAsOf(t, e, ctx, "cy", d); !slices.Equal(got, want) {
			t.Errorf("as of %q: %v, want %v", d, got, want)
		}
	}
	// Negation by hand ends the matching value at its valid_at.
	if _, err := e.AddFact(ctx, engram.NewFact{UserID: "cy", Subject: "Cy", Predicate: "likes", Value: "jazz", ValidAt: day("2021-01-01")}); err != nil {
		t.Fatal(err)
	}
	ended, err := e.AddFact(ctx, engram.NewFact{UserID: "cy", Subject: "Cy", Predicate: "likes", Value: "jazz", Negated: true,
		ValidAt: day("2024-02-01")})
	if err != nil {
		t.Fatal(err)
	}
	if ended.Value != "jazz" || !sameDay(ended.InvalidAt, "2024-02-01") {
		t.Errorf("negation by hand: %+v", ended)
	}
	if !slices.Contains(factsAsOf(t, e, ctx, "cy", "2023-01-01"), "likes=jazz") || slices.Contains(factsAsOf(t, e, ctx, "cy", ""), "likes=jazz") {
		t.Error("jazz is not ended at the negation")
	}
	_, err = e.AddFact(ctx, engram.NewFact{UserID: "cy", Subject: "Cy", Predicate: "likes", Value: "opera", Negated: true})
	obsWantCode(t, err, engram.CodeNotFound)
	// Without an object a negation ends every value ("I moved out").
	if _, err := e.AddFact(ctx, engram.NewFact{UserID: "cy", Subject: "Cy", Predicate: "lives_in", Negated: true, ValidAt: day("2024-06-01")}); err != nil {
		t.Fatal(err)
	}
	if got := factsAsOf(t, e, ctx, "cy", ""); len(got) != 0 {
		t.Errorf("after ending every value: %v", got)
	}
	for _, bad := range []engram.NewFact{
		{UserID: "cy", Subject: "Cy", Predicate: "lives_in", Object: "Oslo", ValidAt: day("2024-01-01"), InvalidAt: day("2023-01-01")},
		{UserID: "cy", Subject: "Cy", Predicate: "lives_in", Object: "Oslo", Value: "Oslo"},
		{UserID: "cy", Subject: "Cy", Predicate: "lives_in"},
		{UserID: "cy", Subject: " ", Predicate: "lives_in", Object: "Oslo"},
	} {
		_, err := e.AddFact(ctx, bad)
		obsWantCode(t, err, engram.CodeInvalid)
	}
}

// TestObserveMergeEntities folds one entity into another: its facts and
// mentions move, its name becomes an alias that resolution finds, and its
// key is destroyed.
func TestObserveMergeEntities(t *testing.T) {
	e, dir, st := observeEngine(t)
	nt, ctx := owner(t, e)
	// A common first name makes the extractor type both as persons in
	// every sentence (a random word alone is sometimes taken for a place,
	// and an incompatible type is another entity by design).
	keep, fold := "Anna "+marker(t), "Maria "+marker(t)
	observe(t, e, ctx, "dee", "My friend "+keep+" lives in Lisbon.", "2024-01-10")
	observe(t, e, ctx, "dee", "My friend "+fold+" works at Globex. "+fold+" plays the piano.", "2024-02-10")
	observe(t, e, ctx, "dee", "I met "+fold+" and "+keep+" for lunch.", "2024-03-10")
	if _, err := e.AddFact(ctx, engram.NewFact{UserID: "dee", Subject: keep, Predicate: "knows", Object: fold}); err != nil {
		t.Fatal(err)
	}
	k, f := entityNamed(t, e, ctx, "dee", keep), entityNamed(t, e, ctx, "dee", fold)
	before := traceEntity(t, st, dir, nt.Tenant.ID, k.ID)
	gone := traceEntity(t, st, dir, nt.Tenant.ID, f.ID)
	memories := map[string]bool{}
	err := st.Read(ctx, func(tx store.Tx) error {
		ms, err := tx.MentionedIn(ctx, nt.Tenant.ID, []string{k.ID, f.ID}, 1000)
		for _, m := range ms {
			memories[m.MemoryID] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	_, err = e.MergeEntities(ctx, k.ID, k.ID)
	obsWantCode(t, err, engram.CodeInvalid)
	merged, err := e.MergeEntities(ctx, k.ID, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	if merged.ID != k.ID || merged.Name != keep || !slices.Contains(merged.Aliases, fold) {
		t.Errorf("merged entity %s %v", merged.Name, merged.Aliases)
	}
	_, err = e.GetEntity(ctx, f.ID)
	obsWantCode(t, err, engram.CodeNotFound)
	full, err := e.GetEntity(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, fa := range full.Facts {
		ids = append(ids, fa.ID)
		if fa.Subject.ID == f.ID || (fa.Object != nil && fa.Object.ID == f.ID) {
			t.Errorf("fact %s still names the folded entity", fa.ID)
		}
	}
	for id := range gone.facts {
		if !slices.Contains(ids, id) {
			t.Errorf("fact %s of the folded entity did not move", id)
		}
	}
	for id := range before.facts {
		if !slices.Contains(ids, id) {
			t.Errorf("fact %s of the kept entity is lost", id)
		}
	}
	err = st.Read(ctx, func(tx store.Tx) error {
		ms, err := tx.MentionedIn(ctx, nt.Tenant.ID, []string{k.ID}, 1000)
		if err != nil {
			return err
		}
		if len(ms) != len(memories) {
			t.Errorf("the kept entity has %d mentions, want the %d memories of both", len(ms), len(memories))
		}
		if left, _ := tx.MentionedIn(ctx, nt.Tenant.ID, []string{f.ID}, 1000); len(left) != 0 {
			t.Errorf("%d mentions of the folded entity remain", len(left))
		}
		ks, err := tx.Keys(ctx, nt.Tenant.ID, store.PurposeSubject)
		for _, key := range ks {
			if key.Owner == "e:"+f.ID {
				t.Error("the folded entity's key remains")
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// The old name now resolves to the kept entity.
	if found, err := e.ListEntities(ctx, engram.EntityQuery{UserID: "dee", Query: fold}); err != nil || len(found.Results) == 0 ||
		found.Results[0].ID != k.ID {
		t.Errorf("the folded name does not find the kept entity first: %v", err)
	}
	observe(t, e, ctx, "dee", fold+" moved to Madrid.", "2024-04-10")
	if again := oneNamed(t, e, ctx, "dee", fold); again.ID != k.ID {
		t.Error("a mention of the folded name made a new entity")
	}
	needles := map[string][]byte{"body": gone.body}
	for i, w := range gone.keys {
		needles["wrapped key "+string(rune('a'+i))] = w
	}
	scanDataDir(t, dir, needles, func(file, name string) { t.Errorf("%s still holds the folded entity's %s", file, name) })
}

// TestObserveAsOfBeyondAPage: time travel is a condition of the query, not
// a filter over the newest page of facts, so a fact true at T is found
// behind thousands of newer facts that were not (they are planted in the
// store: they need not open, they must not be reached).
func TestObserveAsOfBeyondAPage(t *testing.T) {
	e, _, st := observeEngine(t)
	nt, ctx := owner(t, e)
	old, err := e.AddFact(ctx, engram.NewFact{UserID: "eve", Subject: "Eve", Predicate: "lives_in", Object: "Lund",
		ValidAt: day("2020-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	later := *day("2030-01-01")
	err = st.Write(ctx, func(tx store.Tx) error {
		for i := range engram.MaxFactLimit*10 + 100 {
			if err := tx.InsertFact(ctx, &store.Fact{ID: fmt.Sprintf("zz-%05d", i), TenantID: nt.Tenant.ID, UserID: "eve",
				Subject: "u:eve", KeyVersion: 1, SubjectEntity: old.Subject.ID, PredicateTok: []byte("p"), Body: []byte("x"),
				ValidAt: later, CreatedAt: later}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []engram.FactQuery{{UserID: "eve", AsOf: day("2021-01-01")}, {UserID: "eve", AsOf: day("2021-01-01"), Limit: 1}} {
		fs, err := e.Facts(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 || fs[0].ID != old.ID {
			t.Errorf("as of 2021 (limit %d): %d facts, want the one true then", q.Limit, len(fs))
		}
	}
	hits, err := e.SearchFacts(ctx, engram.FactSearch{UserID: "eve", Query: "where does Eve live", AsOf: day("2021-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].ID != old.ID {
		t.Errorf("fact search as of 2021: %d hits, want the one true then", len(hits))
	}
}

// TestObserveMergeSettlesSingleValues: two entities that were one person
// each had a current city; after the merge only the newer city is current
// and the older ends where it begins, as if both had been learned about one
// entity. Multi-valued facts all stay.
func TestObserveMergeSettlesSingleValues(t *testing.T) {
	e, _, _ := observeEngine(t)
	_, ctx := owner(t, e)
	add := func(subject, pred, obj, val, from string) *engram.Fact {
		t.Helper()
		f, err := e.AddFact(ctx, engram.NewFact{UserID: "fay", Subject: subject, Predicate: pred, Object: obj, Value: val, ValidAt: day(from)})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	rome := add("Anna Berg", "lives_in", "Rome", "", "2020-01-01")
	add("Anna Berg", "likes", "", "jazz", "2020-01-01")
	oslo := add("Annie Berg", "lives_in", "Oslo", "", "2021-03-01")
	add("Annie Berg", "likes", "", "opera", "2021-03-01")
	early := add("Annie Berg", "works_at", "Acme", "", "2019-01-01")
	late := add("Anna Berg", "works_at", "Initech", "", "2022-01-01")
	if _, err := e.MergeEntities(ctx, rome.Subject.ID, oslo.Subject.ID); err != nil {
		t.Fatal(err)
	}
	if got, want := factsAsOf(t, e, ctx, "fay", ""), []string{"likes=jazz", "likes=opera", "lives_in=oslo", "works_at=initech"}; !slices.Equal(got, want) {
		t.Errorf("current facts after the merge: %v, want %v", got, want)
	}
	if got, want := factsAsOf(t, e, ctx, "fay", "2020-06-01"), []string{"likes=jazz", "lives_in=rome", "works_at=acme"}; !slices.Equal(got, want) {
		t.Errorf("as of mid-2020: %v, want %v", got, want)
	}
	for _, c := range []struct {
		f    *engram.Fact
		ends string
	}{{rome, "2021-03-01"}, {early, "2022-01-01"}} {
		got, err := e.GetFact(ctx, c.f.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameDay(got.InvalidAt, c.ends) || got.ExpiredAt == nil {
			t.Errorf("%s ends %v, want %s", got.Fact, got.InvalidAt, c.ends)
		}
	}
	if got, err := e.GetFact(ctx, late.ID); err != nil || got.InvalidAt != nil {
		t.Errorf("the newest job was ended: %v", err)
	}
}
