package entity

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// Key prefixes. Every key is a string with its kind in front, so a store can
// blind all of them with one HMAC key and keep them in one column without
// two kinds ever colliding.
const (
	prefixExact  = "x:" // the normalised name (also with personal titles stripped)
	prefixFolded = "f:" // the normalised name without diacritics: finds "Jose" for "José"
	prefixWord   = "w:" // one word of the name: finds "Alice Smith" for "Alice"
	// Band keys are "b" + a letter naming the band + ":" + 16 hex digits.
)

// Keys returns the index keys of one name: what a store writes for an
// entity's name and each alias, and looks up for a mention. Two names that
// Resolve could relate (Match or a near candidate) always share at least one
// key, except fuzzy pairs that no LSH band catches (rare; see
// docs/OBSERVE.md for the measured rate). The keys are sorted and distinct;
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
