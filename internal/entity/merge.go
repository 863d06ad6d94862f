package entity

import "math"

// Merge folds b into a, as POST /v1/entities/{id}/merge does when a user
// confirms an Uncertain decision: the result keeps a's ID and name; its
// aliases are a's, then b's name and aliases, without any spelling whose
// normalised key is already held (or empty); mention counts are summed
// (negative counts count as zero; the sum saturates); the type is kept when
// equal, else the more specific one (any type over Other). Two different
// specific types keep a's: the user chose a as the survivor, and a merge
// they asked for is not refused over a type the extractor guessed.
func Merge(a, b Entity) Entity {
	out := Entity{ID: a.ID, Name: a.Name, Type: a.Type.canonical()}
	held := map[string]bool{Normalise(a.Name): true}
	for _, alias := range append(append(append([]string{}, a.Aliases...), b.Name), b.Aliases...) {
		k := Normalise(alias)
		if k == "" || held[k] {
			continue
		}
		held[k] = true
		out.Aliases = append(out.Aliases, alias)
	}
	ma, mb := max(a.Mentions, 0), max(b.Mentions, 0)
	if ma > math.MaxInt64-mb {
		out.Mentions = math.MaxInt64
	} else {
		out.Mentions = ma + mb
	}
	if out.Type == Other {
		out.Type = b.Type.canonical()
	}
	return out
}

// WithAlias returns e with name added to its aliases, unless its normalised
// key is already e's name or an alias (or empty). After a fuzzy Match the
// caller records the new spelling, so the next mention of it matches
// exactly.
func WithAlias(e Entity, name string) Entity {
	k := Normalise(name)
	if k == "" || k == Normalise(e.Name) {
		return e
	}
	for _, a := range e.Aliases {
		if Normalise(a) == k {
			return e
		}
	}
	e.Aliases = append(append([]string{}, e.Aliases...), name)
	return e
}
