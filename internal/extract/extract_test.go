package extract_test

import (
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/extract"
	"github.com/engram-memory/engram/internal/facts"
)

// ref is a Sunday.
var ref = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

func TestDates(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"I moved to Oslo yesterday.", "2026-03-14"},
		{"I moved to Oslo last week.", "2026-03-08"},
		{"I moved to Oslo last month.", "2026-02-15"},
		{"I moved to Oslo last year.", "2025-03-15"},
		{"I moved to Oslo 3 days ago.", "2026-03-12"},
		{"I moved to Oslo two weeks ago.", "2026-03-01"},
		{"I moved to Oslo a year ago.", "2025-03-15"},
		{"I've lived in Oslo since January.", "2026-01-01"},
		{"I moved to Oslo in May.", "2025-05-01"},      // May has not come yet this year: last May
		{"I moved to Oslo in March.", "2026-03-01"},    // this month
		{"I moved to Oslo in May 2019.", "2019-05-01"}, // an explicit year wins
		{"I've lived in Oslo since 2019.", "2019-01-01"},
		{"I moved to Oslo last Friday.", "2026-03-13"},
		{"I moved to Oslo on Tuesday.", "2026-03-10"}, // when's rule, past only
		{"I live in Oslo.", ""},
		{"I live in Oslo right now.", ""},
		{"I live in Oslo, I moved to Bergen last week.", ""}, // the first clause says no date
	} {
		res, err := extract.Extract(extract.Message{Role: "user", Name: "Sam", Text: c.text, Time: ref})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Facts) == 0 {
			t.Errorf("%q: no fact", c.text)
			continue
		}
		got := ""
		if d := res.Facts[0].ValidAt; d != nil {
			got = d.Format("2006-01-02")
		}
		if got != c.want {
			t.Errorf("%q: valid_at %q, want %q", c.text, got, c.want)
		}
	}
}

func TestNoReferenceTimeNoDate(t *testing.T) {
	res, _ := extract.Extract(extract.Message{Role: "user", Text: "I moved to Oslo last week."})
	if len(res.Facts) != 1 || res.Facts[0].ValidAt != nil {
		t.Fatalf("want one undated fact, got %+v", res.Facts)
	}
}

func TestSubjects(t *testing.T) {
	for _, c := range []struct {
		name     string
		msgs     []extract.Message
		subject  string
		resolved bool
		none     bool
	}{
		{"speaker named", []extract.Message{{Role: "user", Name: "Ana", Text: "I live in Oslo."}}, "Ana", true, false},
		{"speaker unnamed", []extract.Message{{Role: "user", Text: "I live in Oslo."}}, extract.SpeakerSubject, true, false},
		{"assistant first person is no memory", []extract.Message{{Role: "assistant", Text: "I live in Oslo."}}, "", false, true},
		{"she, one woman", []extract.Message{{Role: "user", Text: "I met Laura."}, {Role: "user", Text: "She lives in Oslo."}}, "Laura", true, false},
		{"she, a man and a woman", []extract.Message{{Role: "user", Text: "Tom and Laura came."}, {Role: "user", Text: "She lives in Oslo."}}, "Laura", true, false},
		{"she, two women", []extract.Message{{Role: "user", Text: "Anna and Laura came."}, {Role: "user", Text: "She lives in Oslo."}}, "She", false, false},
		{"he, only a woman", []extract.Message{{Role: "user", Text: "I met Laura."}, {Role: "user", Text: "He lives in Oslo."}}, "He", false, false},
		{"he, a name prose calls a place", []extract.Message{{Role: "user", Text: "Jake and Sam are coming over."}, {Role: "user", Text: "He lives in Oslo."}}, "He", false, false},
		{"she, nobody yet", []extract.Message{{Role: "user", Text: "She lives in Oslo."}}, "She", false, false},
		{"not the speaker herself", []extract.Message{{Role: "user", Name: "Anna", Text: "She lives in Oslo."}}, "She", false, false},
		{"named third person", []extract.Message{{Role: "user", Text: "Kofi lives in Oslo."}}, "Kofi", true, false},
		{"unnamed relative is not guessed", []extract.Message{{Role: "user", Text: "My sister lives in Oslo."}}, "", false, true},
		{"question", []extract.Message{{Role: "user", Text: "Do you live in Oslo?"}}, "", false, true},
		{"conditional", []extract.Message{{Role: "user", Text: "If I lived in Oslo I'd ski."}}, "", false, true},
		{"wish", []extract.Message{{Role: "user", Text: "I want to move to Oslo."}}, "", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, err := extract.ExtractConversation(c.msgs)
			if err != nil {
				t.Fatal(err)
			}
			var lives []extract.Fact
			for _, f := range res.Facts {
				if f.Predicate == "lives_in" {
					lives = append(lives, f)
				}
			}
			if c.none {
				if len(lives) != 0 {
					t.Fatalf("want no fact, got %+v", lives)
				}
				return
			}
			if len(lives) != 1 || lives[0].Subject != c.subject || lives[0].Resolved != c.resolved || lives[0].Object != "Oslo" {
				t.Fatalf("want %s (resolved %v) lives_in Oslo, got %+v", c.subject, c.resolved, lives)
			}
		})
	}
}

func TestNegation(t *testing.T) {
	for _, c := range []struct {
		text, pred string
		neg        bool
	}{
		{"I no longer play the cello.", "plays", true},
		{"I don't play the cello anymore.", "plays", true},
		{"I stopped playing the cello.", "plays", true},
		{"I quit my job at Acme.", "works_at", true},
		{"I used to live in Oslo.", "lives_in", true},
		{"I play the cello.", "plays", false},
		{"I don't like the cello.", "dislikes", false}, // a dislike, not an ended like
		{"I quit my job at Acme, but I still play the cello.", "plays", false},
	} {
		res, _ := extract.Extract(extract.Message{Role: "user", Text: c.text, Time: ref})
		found := false
		for _, f := range res.Facts {
			if f.Predicate == c.pred {
				found = true
				if f.Negated != c.neg {
					t.Errorf("%q: %s negated %v, want %v", c.text, c.pred, f.Negated, c.neg)
				}
			}
		}
		if !found {
			t.Errorf("%q: no %s fact in %+v", c.text, c.pred, res.Facts)
		}
	}
}

// TestPredicatesInFactsTable: the contradiction rules' table is the one reference. Every predicate the
// extractor can emit is in it, so none silently falls back to multi-valued, and the cardinalities the callers
// rely on are the table's.
func TestPredicatesInFactsTable(t *testing.T) {
	table := facts.DefaultTable()
	ps := extract.Predicates()
	if len(ps) < 19 {
		t.Fatalf("only %d predicates: %v", len(ps), ps)
	}
	for _, p := range ps {
		if _, ok := table[p]; !ok {
			t.Errorf("%s: emitted by the extractor, missing from facts.DefaultTable()", p)
		}
		if !extract.IsPredicate(p) {
			t.Errorf("%s: listed but IsPredicate says no", p)
		}
	}
	for _, p := range []string{"lives_in", "works_at", "job_title", "married_to", "born_in"} {
		if !table.Single(p) {
			t.Errorf("%s: want single-valued", p)
		}
	}
	// partner_of also means a business partner: a second partner must not end the first.
	for _, p := range []string{"partner_of", "likes", "hobby", "speaks", "has_sibling"} {
		if table.Single(p) {
			t.Errorf("%s: want multi-valued", p)
		}
	}
	if extract.IsPredicate("email") || extract.IsPredicate("") {
		t.Error("IsPredicate accepts a predicate no rule emits")
	}
	// TestLabelled checks that what the extractor emits over every labelled conversation is in the table, and
	// FuzzExtract that it is in this list.
}

func TestMentionOffsets(t *testing.T) {
	text := "Yesterday my wife Sarah and I visited Rome; Sarah loves Spotify."
	res, _ := extract.Extract(extract.Message{Role: "user", Text: text, Time: ref})
	want := map[string]extract.EntityType{"Sarah": extract.Person, "Rome": extract.Place, "Spotify": extract.Organisation}
	if len(res.Entities) != 4 {
		t.Fatalf("want 4 mentions, got %+v", res.Entities)
	}
	for _, m := range res.Entities {
		if text[m.Start:m.End] != m.Name || want[m.Name] != m.Type {
			t.Errorf("mention %+v", m)
		}
	}
}

// TestMentionNormIsResolvers: a mention's Norm is the resolver's key, so the engine can look it up as is.
func TestMentionNormIsResolvers(t *testing.T) {
	text := "The Beatles played for Jean-Luc's friends at AT&T Stadium; Zoë’s café is in Straße Town."
	res, err := extract.Extract(extract.Message{Role: "user", Text: text, Time: ref})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entities) == 0 {
		t.Fatal("no mentions")
	}
	for _, m := range res.Entities {
		if m.Norm != entity.Normalise(m.Name) {
			t.Errorf("mention %q: Norm %q, want entity.Normalise %q", m.Name, m.Norm, entity.Normalise(m.Name))
		}
	}
}

// TestPartnerOfReadsLists: partner_of is multi-valued in the rules' table, so the extractor reads a list after
// it as it does for any multi-valued predicate, and a single-valued one keeps to one object.
func TestPartnerOfReadsLists(t *testing.T) {
	for _, c := range []struct {
		text string
		want int
	}{
		{"I'm dating Anna and Laura.", 2},
		{"I speak English, French and German.", 3},
		{"I live in Oslo and Bergen.", 1},
	} {
		res, err := extract.Extract(extract.Message{Role: "user", Text: c.text, Time: ref})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Facts) != c.want {
			t.Errorf("%q: %d facts, want %d: %+v", c.text, len(res.Facts), c.want, res.Facts)
		}
	}
}
