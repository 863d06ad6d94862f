package entity_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/engram-memory/engram/internal/entity"
)

func TestNormalise(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Alice Smith", "alice smith"},
		{"  ALICE\t\n  smith ", "alice smith"},
		{"Alice\u00a0Smith", "alice smith"},      // no-break space
		{"Alice\u200bSmith", "alicesmith"},       // zero-width space is a format character: dropped
		{"Alice's", "alice"},                     // possessive
		{"Alice\u2019s", "alice"},                // typographic apostrophe
		{"James'", "james"},                      // plural possessive: the apostrophe is punctuation
		{"Alice's.", "alice"},                    // punctuation, then possessive
		{"O'Brien", "o'brien"},                   // an apostrophe inside a word stays
		{"\"Acme, Inc.\"", "acme inc"},           // surrounding punctuation
		{"(Acme)", "acme"},                       // brackets
		{"The Beatles", "beatles"},               // leading article
		{"the the Beatles", "beatles"},           // repeatedly
		{"The", "the"},                           // but never down to nothing
		{"Bank of the West", "bank of the west"}, // only a leading article
		{"Jean-Luc Picard", "jean luc picard"},   // dashes separate words
		{"Jean\u2013Luc", "jean luc"},            // en dash too
		{"C#", "c#"},                             // name characters kept
		{"AT&T", "at&t"},                         //
		{"U.S.", "u.s"},                          // inner dot stays, trailing goes
		{"Straße", "strasse"},                    // full case folding
		{"ÉCOLE", "école"},                       //
		{"E\u0301cole", "école"},                 // NFC: decomposed input composes
		{"José", "josé"},                         // diacritics stay distinct
		{"Jose", "jose"},                         //
		{"Dr. Alice Smith", "dr alice smith"},    // titles are stripped only for persons (StripTitles)
		{"...", ""},                              // no words
		{"", ""},                                 //
		{"\xff\xfeBob", "bob"},                   // invalid UTF-8 becomes a separator
		{"Zoë\x00Saldaña", "zoë saldaña"},        // control characters dropped
		{"東京", "東京"},                             // other scripts pass through
		{"Ölüdeniz's beach", "ölüdeniz's beach"}, // possessive only on the last word
		{"Trader Joe's", "trader joe"},           //
		{"«Le Monde»", "le monde"},               // guillemets
		{"İstanbul", "i̇stanbul"},                // full folding keeps the dot as a combining mark
		{"ﬁnance", "finance"},                    // ligature folds
		{"Ａｃｍｅ", "ａｃｍｅ"},                         // fullwidth letters fold case but stay fullwidth
		{"Zoe\u0308", "zoë"},                     // combining diaeresis composes
		{"alice\u00adsmith", "alicesmith"},       // soft hyphen dropped
		{"'s", "s"},                              // the leading apostrophe is punctuation
		{"Mr. & Mrs. Smith", "mr & mrs smith"},   // & kept as a word
		{"  the   THE ", "the"},                  //
		{"Apple Inc.'s", "apple inc"},            // dot, then possessive
		{"(The) Who", "who"},                     // punctuation around an article
		{"Ph.D.", "ph.d"},                        //
		{"e\u200d\u0301", "é"},                   // dropping a joiner lets NFC compose
		{"A\u030a\u0323", "ạ̊"},                  // canonical order of marks
		{"hello\u2028world", "hello world"},      // line separator
		{"tab\u000bvertical", "tab vertical"},    // vertical tab is space
		{"Ǆemal", "ǆemal"},                       // digraph
	}
	for _, tt := range tests {
		if got := entity.Normalise(tt.in); got != tt.want {
			t.Errorf("Normalise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestStripTitles(t *testing.T) {
	tests := []struct{ in, want string }{
		{"dr alice smith", "alice smith"},
		{"prof dr alice smith", "alice smith"},
		{"alice smith phd", "alice smith"},
		{"mrs smith", "smith"},
		{"dr", "dr"},                       // always one word left
		{"john smith jr", "john smith jr"}, // generations are different people
		{"lady gaga", "lady gaga"},         // not a title we strip
		{"alice smith", "alice smith"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := entity.StripTitles(tt.in); got != tt.want {
			t.Errorf("StripTitles(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzNormalise(f *testing.F) {
	for _, s := range []string{"Alice's", "The the The", "Jean-Luc", "E\u0301cole", "\xff", "e\u200d\u0301",
		"Straße", "İ", "'s's's", "((a))", "the 's", "ǅ\u0345", "ΐ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := entity.Normalise(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalise(%q) = %q is not UTF-8", s, n)
		}
		if again := entity.Normalise(n); again != n {
			t.Fatalf("not idempotent: Normalise(%q) = %q, Normalise of that = %q", s, n, again)
		}
		st := entity.StripTitles(n)
		if again := entity.StripTitles(st); again != st {
			t.Fatalf("StripTitles not idempotent on %q", n)
		}
		_ = entity.Keys(s)
	})
}

// TestNormaliseLongPossessiveChain guards the linear possessive loop: an
// earlier version re-scanned every word per stripped "'s" and took minutes on
// this input.
func TestNormaliseLongPossessiveChain(t *testing.T) {
	in := "the " + strings.Repeat("the ", 20000) + "a" + strings.Repeat("'s.", 20000)
	if got := entity.Normalise(in); got != "a" {
		t.Fatalf("Normalise(long chain) = %.20q…, want %q", got, "a")
	}
}
