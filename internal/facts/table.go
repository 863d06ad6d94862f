package facts

// Cardinality says how new values of a predicate treat old ones.
type Cardinality int

const (
	// Multi predicates accumulate: "likes jazz" does not end "likes rock".
	Multi Cardinality = iota
	// Single predicates hold one value at a time: a new value ends the old.
	Single
)

// Table maps canonical predicate names to their cardinality. A predicate
// that is not in the table is Multi: accumulating never ends a true fact by
// mistake, while a wrong Single would.
type Table map[string]Cardinality

// Single reports whether the predicate is single-valued in t.
func (t Table) Single(predicate string) bool { return t[predicate] == Single }

// DefaultTable returns a fresh copy of the built-in table: the canonical
// predicates the built-in extractor emits plus a few common single-valued
// ones. Callers may change their copy.
//
// married_to is Single (one spouse at a time); partner_of is Multi because it
// also means business partners, and a wrong Single would end a true fact.
// born_in is Single: a second value is a correction, which ends the first at
// the correction's valid_at (see docs/OBSERVE.md on what that does not do).
func DefaultTable() Table {
	return Table{
		"lives_in":            Single,
		"based_in":            Single,
		"works_at":            Single,
		"job_title":           Single,
		"diet":                Single,
		"relationship_status": Single,
		"reports_to":          Single,
		"married_to":          Single,
		"born_in":             Single,
		"studies_at":          Single,
		"phone":               Single,
		"email":               Single,
		"age":                 Single,

		"likes":       Multi,
		"dislikes":    Multi,
		"allergic_to": Multi,
		"has_pet":     Multi,
		"has_sibling": Multi,
		"partner_of":  Multi,
		"plays":       Multi,
		"hobby":       Multi,
		"speaks":      Multi,
		"owns":        Multi,
		"visited":     Multi,
	}
}
