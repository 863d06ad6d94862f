package entity

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Key prefixes. Every key is a string with its kind in front, so a store can
// blind all of them with one HMAC key and keep them in one column without
// two kinds ever colliding.
const (
	prefixExact  = "x:" // the normalised name (also with personal titles stripped)
	prefixFolded = "f:" // the normalised name without diacritics: finds "Jose" for "José"
	prefixWord   = "w:" // one word of the name: finds "Alice Smith" for "Alice"
	prefixSlip   = "d:" // a long word, and the word less one inner letter: finds every typo isTypo accepts
	// Band keys are "b" + a letter naming the band + ":" + 16 hex digits.
)

// Keys returns the index keys of one name: what a store writes for an
// entity's name and each alias, and looks up for a mention. Two names that
// Resolve could relate (Match or a near candidate) always share at least one
// key, except a fuzzy pair of Jaccard ≥ FuzzyJaccard that no LSH band
// catches ((1-0.9²)^16, about 3 in 10^12, for 16 bands of 2 rows) and near
// pairs of Jaccard ≥ NearJaccard that none does (0.75^16, about 1 in 100). Typos
// that Resolve matches are always found through deletion keys. The keys are sorted and distinct;
// a name with no words has none.
//
// Every key is derived from the name and must be blinded before it reaches
// storage (HMAC under a per-tenant key, like search tokens): an exact key is
// the name itself, and band keys leak which names are similar to whoever can
// compare them (see docs/OBSERVE.md, "what the index leaks").
func Keys(name string) []string {
	key := Normalise(name)
	if key == "" {
		return nil
	}
	var keys []string
	forms := []string{key}
	if s := StripTitles(key); s != key {
		forms = append(forms, s)
	}
	for _, k := range forms {
		keys = append(keys, prefixExact+k, prefixFolded+foldAccents(k))
		f := fuzzyForm(k)
		for _, w := range strings.Fields(f) {
			if utf8.RuneCountInString(w) >= 2 {
				keys = append(keys, prefixWord+w)
			}
			keys = append(keys, slipKeys(w)...)
		}
		if fuzzyEligible(f) {
			keys = append(keys, bandKeys(signature(shingles(f)))...)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// EntityKeys returns the index keys of an entity: the union of Keys of its
// name and every alias, sorted and distinct.
func EntityKeys(e Entity) []string {
	keys := Keys(e.Name)
	for _, a := range e.Aliases {
		keys = append(keys, Keys(a)...)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// ExactKey returns the blind-index key of a name's exact match: the one key
// a store needs to answer "is there an entity called this?" before any fuzzy
// work. It is "" for a name with no words.
func ExactKey(name string) string {
	if k := Normalise(name); k != "" {
		return prefixExact + k
	}
	return ""
}

// slipKeys returns the deletion neighbourhood of a word that the typo rule
// may apply to (minTypoWordRunes-1 to maxTypoWordRunes letters, no digits): the word
// itself and the word with each inner letter deleted. Two words one inner
// edit apart always share one of these keys (a substitution or a
// transposition deletes to the same word; an insertion's shorter word is
// the longer one less a letter), so the index finds every typo the rules
// accept without relying on LSH luck (the idea of SymSpell).
func slipKeys(w string) []string {
	r := []rune(w)
	if len(r) < minTypoWordRunes-1 || len(r) > maxTypoWordRunes || strings.IndexFunc(w, unicode.IsDigit) >= 0 {
		return nil
	}
	keys := []string{prefixSlip + w}
	if len(r) < minTypoWordRunes {
		return keys // only ever the shorter word of a pair
	}
	for i := 1; i < len(r)-1; i++ {
		keys = append(keys, prefixSlip+string(r[:i])+string(r[i+1:]))
	}
	return keys
}
