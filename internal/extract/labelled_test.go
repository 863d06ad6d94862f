package extract_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/extract"
	"github.com/engram-memory/engram/internal/facts"
)

// labelledCase is one conversation of testdata/labelled.json with what a careful reader extracts from it.
type labelledCase struct {
	Messages []struct {
		Role, Name, Text string
	}
	Entities []struct{ Name, Type string }
	Facts    []struct {
		Subject, Predicate, Object, Negated string
		ValidAt                             string `json:"valid_at"`
	}
}

// labelledRef is every message's timestamp: a Sunday, so "last Friday" and "in May" (last year) both test.
var labelledRef = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// floors sit a little under the measured figures (docs/OBSERVE.md) so a regression fails the test.
// labelled.json is the development set the rules were tuned on. heldout.json and heldout2.json were each
// written before the extractor saw them; their first-run figures (docs/OBSERVE.md) are the honest ones, and
// heldout2.json is the least tuned on.
var floors = []struct {
	file                     string
	entP, entR, factP, factR float64
}{
	{"testdata/labelled.json", 0.95, 0.95, 0.95, 0.95},
	{"testdata/heldout.json", 0.90, 0.90, 0.93, 0.85},
	{"testdata/heldout2.json", 0.72, 0.72, 0.85, 0.50},
}

func TestLabelled(t *testing.T) {
	for _, f := range floors {
		t.Run(f.file[len("testdata/"):], func(t *testing.T) {
			eP, eR, fP, fR := measure(t, f.file)
			if eP < f.entP || eR < f.entR || fP < f.factP || fR < f.factR {
				t.Errorf("below the floors: entities P %.3f/%.2f R %.3f/%.2f; facts P %.3f/%.2f R %.3f/%.2f",
					eP, f.entP, eR, f.entR, fP, f.factP, fR, f.factR)
			}
		})
	}
}

func measure(t *testing.T, file string) (eP, eR, fP, fR float64) {
	t.Helper()
	cases := loadCases(t, file)
	table := facts.DefaultTable()
	var eTP, ePred, eGold, fTP, fPred, fGold int
	for i, c := range cases {
		res, err := extract.ExtractConversation(c.messages())
		if err != nil {
			t.Fatal(err)
		}
		var gotE, wantE, gotF, wantF []string
		for _, e := range res.Entities {
			gotE = append(gotE, e.Norm+":"+string(e.Type))
		}
		for _, e := range c.Entities {
			wantE = append(wantE, entity.Normalise(e.Name)+":"+e.Type)
		}
		for _, f := range res.Facts {
			gotF = append(gotF, factKey(f))
			if _, ok := table[f.Predicate]; !ok || !extract.IsPredicate(f.Predicate) {
				t.Errorf("case %d: emitted predicate %q is not in facts.DefaultTable()", i, f.Predicate)
			}
		}
		for _, f := range c.Facts {
			gotNeg := f.Negated == "neg"
			wantF = append(wantF, key(f.Subject, f.Predicate, f.Object, gotNeg, f.ValidAt))
		}
		tp := overlap(gotE, wantE)
		eTP, ePred, eGold = eTP+tp, ePred+len(gotE), eGold+len(wantE)
		ftp := overlap(gotF, wantF)
		fTP, fPred, fGold = fTP+ftp, fPred+len(gotF), fGold+len(wantF)
		if tp != len(gotE) || tp != len(wantE) || ftp != len(gotF) || ftp != len(wantF) {
			t.Logf("case %d %q\n  entities got %v want %v\n  facts got %v\n        want %v", i, c.Messages[len(c.Messages)-1].Text, gotE, wantE, gotF, wantF)
		}
	}
	eP, eR = ratio(eTP, ePred), ratio(eTP, eGold)
	fP, fR = ratio(fTP, fPred), ratio(fTP, fGold)
	t.Logf("%d cases: entities P=%.3f R=%.3f (tp/predicted/gold %d/%d/%d); facts P=%.3f R=%.3f (%d/%d/%d)",
		len(cases), eP, eR, eTP, ePred, eGold, fP, fR, fTP, fPred, fGold)
	return eP, eR, fP, fR
}

func loadCases(t testing.TB, file string) []labelledCase {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cases []labelledCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

// messages is the case's conversation, every message at labelledRef.
func (c labelledCase) messages() []extract.Message {
	var msgs []extract.Message
	for _, m := range c.Messages {
		msgs = append(msgs, extract.Message{Role: m.Role, Name: m.Name, Text: m.Text, Time: labelledRef})
	}
	return msgs
}

// factKey is strict: subject, predicate, object or value, negation and the day of valid_at must all agree.
func factKey(f extract.Fact) string {
	obj := f.Object
	if obj == "" {
		obj = f.Value
	}
	d := ""
	if f.ValidAt != nil {
		d = f.ValidAt.Format("2006-01-02")
	}
	return key(f.Subject, f.Predicate, obj, f.Negated, d)
}

func key(s, p, o string, neg bool, d string) string {
	return fmt.Sprintf("%s|%s|%s|%v|%s", strings.ToLower(s), p, entity.Normalise(o), neg, d)
}

// overlap counts matches between two multisets.
func overlap(got, want []string) int {
	left := map[string]int{}
	for _, w := range want {
		left[w]++
	}
	n := 0
	for _, g := range got {
		if left[g] > 0 {
			left[g]--
			n++
		}
	}
	return n
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}
