package fulltext_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/engram-memory/engram/internal/search/fulltext"
)

func TestTerms(t *testing.T) {
	long := strings.Repeat("x", fulltext.MaxTermBytes)
	tests := []struct {
		name   string
		text   string
		counts map[string]int
		length int
	}{
		{"empty", "", map[string]int{}, 0},
		{"only separators", " \t\n.,;!?-", map[string]int{}, 0},
		{"simple", "Melanie painted a sunrise", map[string]int{"melani": 1, "paint": 1, "sunris": 1}, 3},
		{"repeats counted", "lake, lake LAKE", map[string]int{"lake": 3}, 3},
		{"case", "PoTTery Pottery pottery", map[string]int{"potteri": 3}, 3},
		{"full case folding", "STRASSE straße", map[string]int{"strass": 2}, 2},
		{"Greek final sigma", "ΛΌΓΟΣ λόγος", map[string]int{"λόγοσ": 2}, 2},
		{"Cherokee folds to capitals", "Ꭰ ꭰ ᏸ Ᏸ", map[string]int{"Ꭰ": 2, "Ᏸ": 2}, 4},
		{"NFKC ligature", "ﬁle", map[string]int{"file": 1}, 1},
		{"NFKC full-width letters", "ＦＩＬＥ", map[string]int{"file": 1}, 1},
		{"NFKC full-width digits", "２０２３ 2023", map[string]int{"2023": 2}, 2},
		{"composed and decomposed", "café cafe\u0301", map[string]int{"café": 2}, 2},
		{"letters and digits together", "mp3 v2.0", map[string]int{"mp3": 1, "v2": 1, "0": 1}, 3},
		{"punctuation splits", "e-mail: hi@example.com", map[string]int{"e": 1, "mail": 1, "hi": 1, "exampl": 1, "com": 1}, 5},
		{"stop words dropped", "The cat and the hat is in a box of hers", map[string]int{"cat": 1, "hat": 1, "box": 1, "hers": 1}, 4},
		{"stop words dropped after folding", "THE An OF", map[string]int{}, 0},
		// Apostrophes split; "t" and "s" are stop words, the stems stay.
		{"apostrophe", "don't Anna's", map[string]int{"don": 1, "anna": 1}, 2},
		{"curly apostrophe", "don’t", map[string]int{"don": 1}, 1},
		{"stemming", "run runs running", map[string]int{"run": 3}, 3},
		{"non-ASCII terms are not stemmed", "cafés café", map[string]int{"cafés": 1, "café": 1}, 2},
		{"term of max length kept", long, map[string]int{long: 1}, 1},
		{"longer term dropped", long + "y ok", map[string]int{"ok": 1}, 1},
		{"length limit in bytes", strings.Repeat("é", 33) + " ok", map[string]int{"ok": 1}, 1},
		{"combining marks stay in the run", "हिन्दी", map[string]int{"हिन्दी": 1}, 1},
		{"unsegmented script is one run", "東京に行った", map[string]int{"東京に行った": 1}, 1},
		{"invalid UTF-8 separates", "ab\xffcd", map[string]int{"ab": 1, "cd": 1}, 2},
		{"emoji separates", "tea🍵time", map[string]int{"tea": 1, "time": 1}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			counts, length := fulltext.Terms(tt.text)
			if !maps.Equal(counts, tt.counts) || length != tt.length {
				t.Errorf("Terms(%q) = %v, %d; want %v, %d", tt.text, counts, length, tt.counts, tt.length)
			}
		})
	}
}

func TestQueryTerms(t *testing.T) {
	tests := []struct {
		query string
		want  []string
	}{
		{"", nil},
		{"the of a", nil},
		{"When did Caroline go to the LGBTQ support group?", []string{"carolin", "go", "lgbtq", "support", "group"}},
		{"pottery Pottery camping POTTERY", []string{"potteri", "camp"}},
		{"ﬁle file", []string{"file"}},
	}
	for _, tt := range tests {
		if got := fulltext.QueryTerms(tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("QueryTerms(%q) = %q, want %q", tt.query, got, tt.want)
		}
	}
}

// A query finds a document exactly when they share a term, whatever the
// case or compatibility form each was written in.
func TestQueryMatchesDocument(t *testing.T) {
	counts, _ := fulltext.Terms("Caroline went to the ＬＧＢＴＱ support group on 7 May")
	for _, q := range fulltext.QueryTerms("lgbtq SUPPORT ７ may") {
		if counts[q] == 0 {
			t.Errorf("query term %q not in document terms %v", q, counts)
		}
	}
}

// Every term is its own normal form: typed as a query, it finds itself.
// Checked for every assigned code point alone and followed by a combining mark,
// because a fold that is not idempotent (as cases.Fold is for Cherokee)
// silently splits one word into two terms.
func TestTermsIdempotentAllRunes(t *testing.T) {
	if testing.Short() {
		t.Skip("walks all of Unicode")
	}
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cf) {
			continue // unassigned, private use, surrogate or control
		}
		for _, s := range []string{string(r), string(r) + "\u0301"} {
			counts, _ := fulltext.Terms(s)
			for term := range counts {
				if q := fulltext.QueryTerms(term); len(q) != 1 || q[0] != term {
					t.Errorf("%U: term %q gives query terms %q", r, term, q)
				}
			}
		}
	}
}

func FuzzTerms(f *testing.F) {
	for _, s := range []string{"", "Hello, World!", "ﬁle ＦＩＬＥ ２０２３", "don't", "हिन्दी", "ab\xffcd", "e\u0301\u0301", "İstanbul ǅ ß ſ", strings.Repeat("é", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		counts, length := fulltext.Terms(text)
		sum := 0
		for term, n := range counts {
			if n <= 0 {
				t.Fatalf("term %q has count %d", term, n)
			}
			if term == "" || len(term) > fulltext.MaxTermBytes || !utf8.ValidString(term) {
				t.Fatalf("bad term %q", term)
			}
			sum += n
		}
		if sum != length {
			t.Fatalf("length %d != sum of counts %d", length, sum)
		}
		// A term typed as a query finds itself.
		for term := range counts {
			if q := fulltext.QueryTerms(term); len(q) != 1 || q[0] != term {
				t.Fatalf("QueryTerms(%q) = %q, want the term itself", term, q)
			}
		}
		q := fulltext.QueryTerms(text)
		if len(q) != len(counts) {
			t.Fatalf("QueryTerms gives %d terms, Terms %d", len(q), len(counts))
		}
		for _, term := range q {
			if counts[term] == 0 {
				t.Fatalf("query term %q not among Terms", term)
			}
		}
		// ASCII input takes a fast path; appending a non-ASCII word
		// that normalises to a stop word ("ſ" -> "s") forces the full
		// path and must not change the result.
		if isASCII(text) {
			full, fullLen := fulltext.Terms(text + " ſ")
			if !maps.Equal(full, counts) || fullLen != length {
				t.Fatalf("ASCII fast path %v, %d; full path %v, %d", counts, length, full, fullLen)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
