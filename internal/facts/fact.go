package facts

import (
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Fact is one (subject, predicate, object-or-value) statement with its two
// time axes. Exactly one of Object (an entity id) and Value (a literal) is
// set.
type Fact struct {
	ID        string
	Subject   string // entity id
	Predicate string // canonical name, e.g. "lives_in"
	Object    string // entity id, or "" when Value is set
	Value     string // literal, or "" when Object is set
	Sentence  string
	ValidAt   time.Time  // world time the fact became true
	InvalidAt *time.Time // world time it stopped being true; nil while true
	CreatedAt time.Time  // when Engram learned it
	ExpiredAt *time.Time // when a rule retired it; nil while current knowledge
	Episodes  []string   // episodes that stated (or ended) it
}

// Errors Resolve returns for a malformed observation. They never carry the
// observation's text.
var (
	ErrNoSubject   = errors.New("facts: subject is empty")
	ErrNoPredicate = errors.New("facts: predicate is empty")
	ErrNoObject    = errors.New("facts: a fact needs exactly one of object and value")
	ErrNoID        = errors.New("facts: a new fact needs an id")
	ErrInterval    = errors.New("facts: invalid_at is before valid_at")
	ErrNoTime      = errors.New("facts: no valid_at, reference time or now")
)

// Clone returns a deep copy, so that plans never alias the caller's facts.
func (f Fact) Clone() Fact {
	if f.InvalidAt != nil {
		t := *f.InvalidAt
		f.InvalidAt = &t
	}
	if f.ExpiredAt != nil {
		t := *f.ExpiredAt
		f.ExpiredAt = &t
	}
	f.Episodes = slices.Clone(f.Episodes)
	return f
}

// TrueAt reports whether the fact held in the world at t: ValidAt ≤ t <
// InvalidAt. An empty interval (InvalidAt = ValidAt, the loser of a tie) is
// never true.
func (f Fact) TrueAt(t time.Time) bool {
	return !t.Before(f.ValidAt) && (f.InvalidAt == nil || t.Before(*f.InvalidAt))
}

// KnownAt reports whether Engram held the fact at t: CreatedAt ≤ t <
// ExpiredAt.
func (f Fact) KnownAt(t time.Time) bool {
	return !t.Before(f.CreatedAt) && (f.ExpiredAt == nil || t.Before(*f.ExpiredAt))
}

// empty reports a zero-length world interval: a fact that lost a tie or was
// ended at the instant it began. It makes no claim about any world time, so
// it never cuts another fact short.
func (f Fact) empty() bool {
	return f.InvalidAt != nil && !f.InvalidAt.After(f.ValidAt)
}

// SameValue reports whether two facts state the same object: the same entity
// id, or literals equal after folding case and collapsing white space
// ("Vegetarian " and "vegetarian"). Subject and predicate are not compared.
func SameValue(a, b Fact) bool {
	if a.Object != "" || b.Object != "" {
		return a.Object == b.Object
	}
	return a.Value == b.Value || strings.EqualFold(collapse(a.Value), collapse(b.Value))
}

// collapse trims white space and turns each run of it into one space. It
// returns s itself when s is already so, the common case, to spare Resolve an
// allocation per comparison.
func collapse(s string) string {
	clean := true
	prevSpace := true // a leading space is not clean
	for _, r := range s {
		sp := unicode.IsSpace(r)
		if sp && (prevSpace || r != ' ') {
			clean = false
			break
		}
		prevSpace = sp
	}
	if clean && !prevSpace || s == "" {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// overlaps reports whether world intervals [a0,a1) and [b0,b1) share an
// instant; a nil end is open. An empty interval overlaps nothing.
func overlaps(a0 time.Time, a1 *time.Time, b0 time.Time, b1 *time.Time) bool {
	endsBy := func(end *time.Time, t time.Time) bool { return end != nil && !end.After(t) }
	if endsBy(a1, a0) || endsBy(b1, b0) {
		return false
	}
	return !endsBy(a1, b0) && !endsBy(b1, a0)
}

func addEpisodes(dst []string, src []string) []string {
	for _, e := range src {
		if e != "" && !slices.Contains(dst, e) {
			dst = append(dst, e)
		}
	}
	return dst
}

func timePtr(t time.Time) *time.Time { return &t }
