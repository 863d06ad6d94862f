package fulltext_test

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/store"
)

// corpus indexes docs (memory id -> text) the way a store does and answers a
// query the way SearchPostings does: every posting of the query tokens, plus
// the statistics of the whole corpus.
type corpus struct {
	b        *fulltext.Blinder
	docs     int
	totalLen int64
	postings map[string][]store.Posting // memory id -> postings
	lens     map[string]int
}

func newCorpus(t testing.TB, docs map[string]string) *corpus {
	c := &corpus{b: newBlinder(t, key(9)), postings: map[string][]store.Posting{}, lens: map[string]int{}}
	for id, text := range docs {
		p, n := c.b.Postings(text)
		c.postings[id], c.lens[id] = p, n
		c.docs++
		c.totalLen += int64(n)
	}
	return c
}

func (c *corpus) search(query string) (*store.Postings, [][]byte) {
	var tokens [][]byte
	for _, term := range fulltext.QueryTerms(query) {
		tokens = append(tokens, c.b.Token(term))
	}
	p := &store.Postings{Docs: c.docs, TotalLen: c.totalLen}
	for id, ps := range c.postings {
		for _, posting := range ps {
			for _, tok := range tokens {
				if string(tok) == string(posting.Token) {
					p.Matches = append(p.Matches, store.Match{MemoryID: id, Token: posting.Token, TF: posting.TF, DocLen: c.lens[id]})
				}
			}
		}
	}
	return p, tokens
}

func TestBM25HandComputed(t *testing.T) {
	c := newCorpus(t, map[string]string{
		"m1": "apple banana apple",        // apple 2, banana 1; length 3
		"m2": "banana cherry",             // banana 1, cherry 1; length 2
		"m3": "cherry cherry cherry date", // cherry 3, date 1; length 4
	})
	p, tokens := c.search("apple cherry")

	const k1, b = 1.2, 0.75
	n, avgdl := 3.0, 9.0/3.0
	idf := func(df float64) float64 { return math.Log(1 + (n-df+0.5)/(df+0.5)) }
	term := func(tf, df, dl float64) float64 {
		return idf(df) * tf * (k1 + 1) / (tf + k1*(1-b+b*dl/avgdl))
	}
	want := []fulltext.Hit{
		// apple: df 1; cherry: df 2.
		{"m1", term(2, 1, 3)}, // ln(8/3)·4.4/3.2 ≈ 1.3486
		{"m3", term(3, 2, 4)}, // ln(1.6)·6.6/4.5 ≈ 0.6893
		{"m2", term(1, 2, 2)}, // ln(1.6)·2.2/1.9 ≈ 0.5442
	}
	// The formula above, checked against the numbers worked by hand.
	for i, v := range []float64{1.3486, 0.6893, 0.5442} {
		if math.Abs(want[i].Score-v) > 1e-4 {
			t.Fatalf("expected score of %s = %.4f, hand computation %.4f", want[i].MemoryID, want[i].Score, v)
		}
	}

	got := fulltext.BM25(p, tokens, 10)
	if len(got) != len(want) {
		t.Fatalf("BM25 = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].MemoryID != want[i].MemoryID || math.Abs(got[i].Score-want[i].Score) > 1e-12 {
			t.Errorf("hit %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestBM25TiesNewerFirst(t *testing.T) {
	c := newCorpus(t, map[string]string{
		"01A": "pottery class",
		"01C": "pottery class",
		"01B": "pottery class",
		"01D": "pottery pottery class",
		"01E": "camping trip",
	})
	p, tokens := c.search("pottery")
	got := fulltext.BM25(p, tokens, 10)
	ids := make([]string, len(got))
	for i, h := range got {
		ids[i] = h.MemoryID
	}
	if want := []string{"01D", "01C", "01B", "01A"}; !slices.Equal(ids, want) {
		t.Errorf("order = %v, want %v", ids, want)
	}
	if got[1].Score != got[2].Score || got[2].Score != got[3].Score {
		t.Errorf("equal documents scored differently: %v", got)
	}
}

func TestBM25Limit(t *testing.T) {
	c := newCorpus(t, map[string]string{
		"m1": "lake lake lake",
		"m2": "lake lake sunset",
		"m3": "lake sunset sunset",
		"m4": "sunset",
	})
	p, tokens := c.search("lake")
	all := fulltext.BM25(p, tokens, 100)
	if len(all) != 3 {
		t.Fatalf("got %d hits, want 3 (m4 has no lake): %v", len(all), all)
	}
	for limit := 1; limit <= 3; limit++ {
		if got := fulltext.BM25(p, tokens, limit); !slices.Equal(got, all[:limit]) {
			t.Errorf("limit %d: %v, want %v", limit, got, all[:limit])
		}
	}
	for _, limit := range []int{0, -1} {
		if got := fulltext.BM25(p, tokens, limit); got != nil {
			t.Errorf("limit %d: %v, want nil", limit, got)
		}
	}
}

func TestBM25Degenerate(t *testing.T) {
	c := newCorpus(t, map[string]string{"m1": "lake sunset", "m2": "lake"})
	p, tokens := c.search("lake sunset")

	if got := fulltext.BM25(nil, tokens, 10); got != nil {
		t.Errorf("nil postings: %v", got)
	}
	if got := fulltext.BM25(&store.Postings{}, tokens, 10); got != nil {
		t.Errorf("empty corpus: %v", got)
	}
	zero := *p
	zero.Docs = 0
	if got := fulltext.BM25(&zero, tokens, 10); got != nil {
		t.Errorf("Docs == 0 with matches: %v", got)
	}
	if got := fulltext.BM25(p, nil, 10); got != nil {
		t.Errorf("no query tokens: %v", got)
	}
	noLen := *p
	noLen.TotalLen = 0
	for _, h := range fulltext.BM25(&noLen, tokens, 10) {
		if math.IsNaN(h.Score) || math.IsInf(h.Score, 0) || h.Score <= 0 {
			t.Errorf("TotalLen 0: score %v", h)
		}
	}
}

func TestBM25DuplicateQueryTokens(t *testing.T) {
	c := newCorpus(t, map[string]string{"m1": "lake sunset", "m2": "lake", "m3": "boat"})
	p, tokens := c.search("lake sunset")
	once := fulltext.BM25(p, tokens, 10)
	twice := fulltext.BM25(p, append(slices.Clone(tokens), tokens...), 10)
	if !slices.Equal(once, twice) {
		t.Errorf("duplicate tokens changed the ranking: %v vs %v", once, twice)
	}
	// A store returning a (memory, token) posting twice changes nothing
	// either.
	dup := *p
	dup.Matches = append(slices.Clone(p.Matches), p.Matches...)
	if got := fulltext.BM25(&dup, tokens, 10); !slices.Equal(got, once) {
		t.Errorf("duplicate matches changed the ranking: %v vs %v", got, once)
	}
}

func TestBM25IgnoresForeignTokens(t *testing.T) {
	c := newCorpus(t, map[string]string{"m1": "lake sunset", "m2": "lake", "m3": "sunset"})
	p, _ := c.search("lake sunset")
	lake := [][]byte{c.b.Token("lake")}
	got := fulltext.BM25(p, lake, 10)
	pLake, _ := c.search("lake")
	if want := fulltext.BM25(pLake, lake, 10); !slices.Equal(got, want) {
		t.Errorf("matches of tokens outside the query counted: %v, want %v", got, want)
	}
}

func TestBM25MatchOrderIrrelevant(t *testing.T) {
	c := newCorpus(t, map[string]string{
		"m1": "lake sunset boat dog",
		"m2": "lake lake boat",
		"m3": "sunset dog dog lake",
		"m4": "boat",
	})
	p, tokens := c.search("lake sunset boat dog")
	want := fulltext.BM25(p, tokens, 10)
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := *p
		shuffled.Matches = slices.Clone(p.Matches)
		r.Shuffle(len(shuffled.Matches), func(i, j int) {
			shuffled.Matches[i], shuffled.Matches[j] = shuffled.Matches[j], shuffled.Matches[i]
		})
		if got := fulltext.BM25(&shuffled, tokens, 10); !slices.Equal(got, want) {
			t.Fatalf("order of matches changed the result: %v vs %v", got, want)
		}
	}
}

// Top keeps exactly what a full sort keeps, ties broken by the larger id.
func TestTopMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		n, limit := r.IntN(300), r.IntN(40)
		all := make([]fulltext.Hit, n)
		for i := range all {
			// Few distinct scores, so ties are common.
			all[i] = fulltext.Hit{MemoryID: fmt.Sprintf("m%05d", r.IntN(100000)), Score: float64(r.IntN(7))}
		}
		top := fulltext.NewTop(limit)
		for _, h := range all {
			top.Offer(h)
		}
		want := slices.Clone(all)
		slices.SortFunc(want, func(x, y fulltext.Hit) int {
			if c := cmp.Compare(y.Score, x.Score); c != 0 {
				return c
			}
			return cmp.Compare(y.MemoryID, x.MemoryID)
		})
		want = want[:min(limit, n)]
		if len(want) == 0 {
			want = nil
		}
		if got := top.Hits(); !slices.Equal(got, want) {
			t.Fatalf("n %d limit %d:\n%v\n%v", n, limit, got, want)
		}
	}
}
