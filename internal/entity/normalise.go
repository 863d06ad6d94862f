package entity

import (
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalise returns the key under which two spellings of one name are equal:
//
//   - invalid UTF-8 becomes a space, then Unicode NFC and full case folding
//     ("ÉCOLE" and "école" agree; "Straße" folds to "strasse");
//   - format characters (zero-width joiners, soft hyphens) are dropped;
//     every kind of whitespace, control character and dash separates words, so
//     "Jean-Luc" and "Jean Luc" agree;
//   - typographic apostrophes become "'", and each word loses the
//     punctuation around it ("(Acme, Inc.)" → "acme inc"), except # & @ % *,
//     which are part of names such as "C#" or "AT&T"; punctuation inside a
//     word stays ("o'brien", "u.s");
//   - a possessive 's on the last word is dropped ("Alice's" → "alice");
//   - leading "the" is dropped while another word remains ("The Beatles" →
//     "beatles", but "The" stays "the").
//
// Diacritics stay distinct: "José" and "Jose" have different keys, because
// folding them would also merge names that differ only by their accents in
// languages where the accent is the name ("Müller"/"Muller" may be one family,
// "Peña"/"Pena" are not one word). Resolve reports such a pair as Uncertain
// (reason ReasonAccents), so a user can merge them.
//
// Normalise is idempotent: Normalise(Normalise(s)) == Normalise(s). It returns
// "" for a name with no words.
func Normalise(s string) string {
	// One pass is enough for ordinary names; the loop covers contrived input
	// where a pass exposes new work for the next (dropping a format character
	// between a letter and a combining mark lets NFC compose them).
	for range 8 {
		next := normaliseOnce(s)
		if next == s {
			break
		}
		s = next
	}
	return s
}

func normaliseOnce(s string) string {
	s = foldCase(strings.Map(mapRune, strings.ToValidUTF8(s, " ")))
	words := trimWords(strings.Fields(strings.Map(mapRune, s)))
	// The last word loses a possessive and the punctuation that exposes or
	// follows it ("alice's." → "alice's" → "alice"); a word left empty is
	// dropped and the one before it is examined. Each step shortens a word
	// by a slice, so this is linear in the name's length.
	for len(words) > 0 {
		w := words[len(words)-1]
		for {
			next := strings.TrimFunc(stripPossessive(w), trimmable)
			if next == w {
				break
			}
			w = next
		}
		if w == "" {
			words = words[:len(words)-1]
			continue
		}
		words[len(words)-1] = w
		break
	}
	for len(words) > 1 && words[0] == "the" {
		words = words[1:]
	}
	return strings.Join(words, " ")
}

// foldCase applies NFC and full Unicode case folding until both are stable:
// folding can produce a decomposed sequence that NFC recomposes into a
// character with its own folding.
func foldCase(s string) string {
	for range 4 {
		next := norm.NFC.String(cases.Fold().String(s))
		if next == s {
			break
		}
		s = next
	}
	return s
}

// mapRune maps whitespace, separators and dashes to a space, typographic
// apostrophes to "'", and drops control and format characters.
func mapRune(r rune) rune {
	switch {
	case r == '\u2019' || r == '\u2018' || r == '\u02bc' || r == '\u2032' || r == '`' || r == '\u00b4':
		return '\''
	case unicode.IsSpace(r) || unicode.In(r, unicode.Z, unicode.Pd, unicode.Cc):
		return ' '
	case unicode.In(r, unicode.Cf, unicode.Co, unicode.Cs):
		return -1
	case r == unicode.ReplacementChar:
		return ' '
	}
	return r
}

// trimmable reports whether r is punctuation that surrounds a word rather
// than belonging to it.
func trimmable(r rune) bool {
	switch r {
	case '#', '&', '@', '%', '*':
		return false
	}
	return unicode.IsPunct(r)
}

// trimWords strips surrounding punctuation from each word and drops words
// that were only punctuation.
func trimWords(words []string) []string {
	out := words[:0]
	for _, w := range words {
		if w = strings.TrimFunc(w, trimmable); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// stripPossessive drops a trailing "'s" from a word longer than it.
func stripPossessive(w string) string {
	if len(w) > 2 && strings.HasSuffix(w, "'s") {
		return w[:len(w)-2]
	}
	return w
}

// titles are the personal titles and post-nominal letters dropped from a
// person's name. Generational suffixes (jr, sr, iii) are kept: "John Smith
// Jr." and "John Smith" are two people. Titles that are also common given
// names or name parts ("lady", "lord", "father") are not listed ("Lady Gaga").
var (
	leadingTitles = set("dr", "doctor", "mr", "mister", "mrs", "ms", "miss", "mx", "prof", "professor",
		"sir", "dame", "rev", "revd", "reverend", "hon", "herr", "frau", "mme", "mlle", "dra", "sra")
	trailingTitles = set("phd", "ph.d", "md", "m.d", "esq", "dphil")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// StripTitles drops personal titles from the front of a normalised name and
// post-nominal letters from its end ("dr alice smith phd" → "alice smith"),
// always leaving at least one word. It applies only to names of persons: for
// a product, "Dr Pepper" keeps its "dr".
func StripTitles(key string) string {
	words := strings.Fields(key)
	for len(words) > 1 && leadingTitles[words[0]] {
		words = words[1:]
	}
	for len(words) > 1 && trailingTitles[words[len(words)-1]] {
		words = words[:len(words)-1]
	}
	return strings.Join(words, " ")
}

// foldAccents removes combining marks from a normalised name ("josé" →
// "jose"). It is used only to find and report near candidates, never to match.
func foldAccents(key string) string {
	d := norm.NFD.String(key)
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return norm.NFC.String(b.String())
}
