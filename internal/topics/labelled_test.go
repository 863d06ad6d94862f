package topics

import (
	"bufio"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/extract"
)

type labelled struct {
	text string
	gold map[string]bool
}

func loadLabelled(t *testing.T, name string) []labelled {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []labelled
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		text, gold, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("bad line %q", line)
		}
		g := map[string]bool{}
		if gold != "-" {
			for _, n := range strings.Split(gold, ",") {
				g[n] = true
			}
		}
		out = append(out, labelled{text, g})
	}
	return out
}

type prf struct{ tp, fp, fn int }

func (s prf) precision() float64 { return float64(s.tp) / float64(s.tp+s.fp) }
func (s prf) recall() float64    { return float64(s.tp) / float64(s.tp+s.fn) }

func score(t *testing.T, set []labelled, withFacts bool) prf {
	t.Helper()
	var s prf
	for _, c := range set {
		var fs []extract.Fact
		var ms []extract.Mention
		if withFacts {
			res, err := extract.Extract(extract.Message{Role: "user", Text: c.text})
			if err != nil {
				t.Fatal(err)
			}
			fs, ms = res.Facts, res.Entities
		}
		got := map[string]bool{}
		for _, tp := range Label(c.text, fs, ms) {
			got[tp.Name] = true
		}
		var miss, extra []string
		for n := range got {
			if c.gold[n] {
				s.tp++
			} else {
				s.fp++
				extra = append(extra, n)
			}
		}
		for n := range c.gold {
			if !got[n] {
				s.fn++
				miss = append(miss, n)
			}
		}
		if len(miss)+len(extra) > 0 {
			sort.Strings(miss)
			sort.Strings(extra)
			t.Logf("facts=%v %q: missed %v, extra %v", withFacts, c.text, miss, extra)
		}
	}
	return s
}

// TestLabelledSet reports micro precision and recall on testdata/labelled.tsv
// and testdata/heldout.tsv
// (docs/OBSERVE.md quotes them) and holds a floor under each, with the
// extractor's facts and entities and with text alone.
func TestLabelledSet(t *testing.T) {
	for _, tc := range []struct {
		file      string
		withFacts bool
		minP      float64
		minR      float64
	}{
		{"testdata/labelled.tsv", true, 0.85, 0.82},
		{"testdata/labelled.tsv", false, 0.85, 0.80},
		{"testdata/heldout.tsv", true, 0.85, 0.75},
		{"testdata/heldout.tsv", false, 0.85, 0.72},
	} {
		set := loadLabelled(t, tc.file)
		s := score(t, set, tc.withFacts)
		t.Logf("%s facts=%v: %d sentences, precision %.3f, recall %.3f (tp %d fp %d fn %d)",
			tc.file, tc.withFacts, len(set), s.precision(), s.recall(), s.tp, s.fp, s.fn)
		if s.precision() < tc.minP || s.recall() < tc.minR {
			t.Errorf("facts=%v: precision %.3f / recall %.3f under the floor %.2f / %.2f",
				tc.withFacts, s.precision(), s.recall(), tc.minP, tc.minR)
		}
	}
}
