package entity

import "strings"

// Type is an entity's kind. The zero value behaves as Other.
type Type string

// The entity types. Other is the type of anything the extractor could not
// classify; it is compatible with every type, so an unclassified mention can
// still join a classified entity.
const (
	Person       Type = "person"
	Organisation Type = "organisation"
	Place        Type = "place"
	Product      Type = "product"
	Pet          Type = "pet"
	Event        Type = "event"
	Other        Type = "other"
)

// typeNames maps the spellings extractors use (prose's NER labels, the
// official MCP memory server's free-form entityType, American spelling) onto
// Engram's types.
var typeNames = map[string]Type{
	"person": Person, "people": Person, "per": Person, "human": Person,
	"organisation": Organisation, "organization": Organisation, "org": Organisation,
	"company": Organisation, "corporation": Organisation,
	"place": Place, "location": Place, "loc": Place, "gpe": Place, "city": Place,
	"country": Place, "facility": Place, "fac": Place,
	"product": Product, "pet": Pet, "animal": Pet, "event": Event,
	"other": Other, "misc": Other, "": Other,
}

// ParseType maps a type name (any case) onto a Type; a name it does not know
// is Other, so untrusted input never yields a type outside the table.
func ParseType(s string) Type {
	if t, ok := typeNames[strings.ToLower(strings.TrimSpace(s))]; ok {
		return t
	}
	return Other
}

// canonical turns the zero value and unknown strings into Other.
func (t Type) canonical() Type {
	switch t {
	case Person, Organisation, Place, Product, Pet, Event:
		return t
	}
	return Other
}

// Compatible reports whether entities of types a and b may be the same
// entity: equal types, or either one Other. Distinct specific types are never
// compatible ("Paris" the person is not "Paris" the place), so a name shared
// across types yields a separate entity reported as a near candidate.
func Compatible(a, b Type) bool {
	a, b = a.canonical(), b.canonical()
	return a == b || a == Other || b == Other
}

// personLike reports whether a name of type t may carry a personal title
// ("Dr.", "Mrs."): persons, and unclassified mentions that might be persons.
func personLike(t Type) bool {
	t = t.canonical()
	return t == Person || t == Other
}
