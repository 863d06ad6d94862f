package entity

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mention is a name found in text, with the type the extractor gave it.
type Mention struct {
	Name string
	Type Type
}

// Entity is what the resolver knows of a stored entity: its id, name,
// aliases (other spellings it was seen under), type and mention count.
type Entity struct {
	ID       string
	Name     string
	Aliases  []string
	Type     Type
	Mentions int64
}

// Outcome is the resolver's decision for one mention.
type Outcome int

const (
	// New: no known entity is this one or near it; create an entity.
	New Outcome = iota
	// Match: the mention is the entity Decision.ID.
	Match
	// Uncertain: create a new entity, and offer Decision.Near to a user as
	// entities it may be the same as (a merge is one request away).
	Uncertain
)

func (o Outcome) String() string {
	switch o {
	case Match:
		return "match"
	case Uncertain:
		return "uncertain"
	}
	return "new"
}

// Reason names the rule behind a match or a near candidate.
type Reason string

const (
	ReasonExact     Reason = "exact"     // equal normalised names (titles stripped for persons)
	ReasonFuzzy     Reason = "fuzzy"     // 3-gram Jaccard ≥ FuzzyJaccard
	ReasonTypo      Reason = "typo"      // one long word one inner edit apart, the rest equal
	ReasonType      Reason = "type"      // the same name, but an incompatible type
	ReasonAccents   Reason = "accents"   // equal once diacritics are removed
	ReasonPartial   Reason = "partial"   // one name's words are a part of the other's ("Alice"/"Alice Smith")
	ReasonSimilar   Reason = "similar"   // Jaccard ≥ NearJaccard, or one word ≤ 2 edits apart
	ReasonAmbiguous Reason = "ambiguous" // more than one entity matches
)

// Near is a candidate the mention may be, reported with an Uncertain
// decision. Score is the 3-gram Jaccard of the two names (1 for an exact
// name).
type Near struct {
	ID     string
	Score  float64
	Reason Reason
}

// Decision is the outcome for one mention. ID is set for Match, Near for
// Uncertain (best first); Reason says which rule decided.
type Decision struct {
	Outcome Outcome
	ID      string
	Reason  Reason
	Near    []Near
}

// The strength of a relation between a mention and one name of a candidate.
const (
	levelNone = iota
	levelNear
	levelFuzzy
	levelExact
)

type relation struct {
	level  int
	score  float64
	reason Reason
}

func (r relation) better(s relation) bool {
	return r.level > s.level || (r.level == s.level && r.score > s.score)
}

// Resolve decides whether mention m is one of cands (typically what an
// Index returned for it). The rules, in order:
//
//  1. Exact: the normalised names (or an alias) are equal and the types are
//     compatible; personal titles are ignored when either side is a Person
//     ("Dr. Alice Smith" is "Alice Smith"). One such candidate is a Match; with
//     several, the one of the very same type wins, else Uncertain.
//  2. Fuzzy, only when both names pass the entropy gate (MinEntropy bits per
//     character, and MinFuzzyLength characters or MinFuzzyTokens words),
//     have compatible types and the same numbers: a 3-gram Jaccard ≥
//     FuzzyJaccard, or a typo (same words but one, both at least 5 letters
//     long, no digits, one edit apart inside the word, first and last letters
//     equal: "Jonathon Smith" / "Jonathan Smith"). The single best such candidate is a Match; two or
//     more are Uncertain.
//  3. Near: the same name with an incompatible type, equal without
//     diacritics, one name a part of the other ("Alice" / "Alice Smith"), or
//     similar (both past the gate with a Jaccard ≥ NearJaccard, or names of
//     two or more words one word ≤ 2 edits apart). Any near candidate makes
//     the decision Uncertain.
//  4. Otherwise New.
//
// A mention with no words is New with no candidates: the caller should
// refuse such a name before resolving it. The cost is linear in the length
// of the names (edit distances only look at words of up to 32 letters);
// the caller caps names (a few hundred bytes is plenty for a name).
func Resolve(m Mention, cands []Entity) Decision {
	mKey := Normalise(m.Name)
	if mKey == "" {
		return Decision{Outcome: New}
	}
	best := map[string]relation{}
	for _, c := range cands {
		r := relation{}
		for _, name := range append([]string{c.Name}, c.Aliases...) {
			if s := compare(mKey, m.Type, name, c.Type); s.better(r) {
				r = s
			}
		}
		if old, seen := best[c.ID]; r.level > levelNone && (!seen || r.better(old)) {
			best[c.ID] = r
		}
	}
	types := map[string]Type{}
	for _, c := range cands {
		types[c.ID] = c.Type.canonical()
	}
	var exact, fuzzy, near []Near
	for id, r := range best {
		n := Near{ID: id, Score: r.score, Reason: r.reason}
		switch r.level {
		case levelExact:
			exact = append(exact, n)
		case levelFuzzy:
			fuzzy = append(fuzzy, n)
		default:
			near = append(near, n)
		}
	}
	for _, list := range [][]Near{exact, fuzzy, near} {
		sortNear(list)
	}
	if len(exact) > 1 {
		var same []Near
		for _, n := range exact {
			if types[n.ID] == m.Type.canonical() {
				same = append(same, n)
			}
		}
		if len(same) == 1 {
			exact = same
		}
	}
	switch {
	case len(exact) == 1:
		return Decision{Outcome: Match, ID: exact[0].ID, Reason: ReasonExact}
	case len(exact) > 1:
		return Decision{Outcome: Uncertain, Reason: ReasonAmbiguous, Near: concatNear(exact, fuzzy, near)}
	case len(fuzzy) == 1:
		return Decision{Outcome: Match, ID: fuzzy[0].ID, Reason: fuzzy[0].Reason}
	case len(fuzzy) > 1:
		return Decision{Outcome: Uncertain, Reason: ReasonAmbiguous, Near: concatNear(fuzzy, near)}
	case len(near) > 0:
		return Decision{Outcome: Uncertain, Reason: near[0].Reason, Near: near}
	}
	return Decision{Outcome: New}
}

func sortNear(list []Near) {
	slices.SortFunc(list, func(a, b Near) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

func concatNear(lists ...[]Near) []Near {
	var out []Near
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// compare relates a mention (already normalised) to one name of a candidate.
func compare(mKey string, mt Type, name string, ct Type) relation {
	cKey := Normalise(name)
	if cKey == "" {
		return relation{}
	}
	// Titles are dropped only when one side is known to be a person: for two
	// unclassified names, "Dr Pepper" may be a drink.
	if personLike(mt) && personLike(ct) && (mt.canonical() == Person || ct.canonical() == Person) {
		mKey, cKey = StripTitles(mKey), StripTitles(cKey)
	}
	compatible := Compatible(mt, ct)
	if mKey == cKey {
		if compatible {
			return relation{levelExact, 1, ReasonExact}
		}
		return relation{levelNear, 1, ReasonType}
	}
	if !compatible {
		return relation{}
	}
	if foldAccents(mKey) == foldAccents(cKey) {
		return relation{levelNear, 1, ReasonAccents}
	}
	mf, cf := fuzzyForm(mKey), fuzzyForm(cKey)
	j := jaccard(shingles(mf), shingles(cf))
	if fuzzyEligible(mf) && fuzzyEligible(cf) && digitRuns(mf) == digitRuns(cf) {
		if j >= FuzzyJaccard {
			return relation{levelFuzzy, j, ReasonFuzzy}
		}
		if isTypo(mf, cf) {
			return relation{levelFuzzy, j, ReasonTypo}
		}
	}
	if isPart(mf, cf) {
		return relation{levelNear, j, ReasonPartial}
	}
	// Similarity is reported only where an index finds it: through a shared
	// word (names of two or more words, one word apart) or through LSH bands
	// (names that pass the entropy gate).
	if oneWordApart(mf, cf, 2) || (j >= NearJaccard && fuzzyEligible(mf) && fuzzyEligible(cf)) {
		return relation{levelNear, j, ReasonSimilar}
	}
	return relation{}
}

// differingWord returns the one word in which two names of the same word
// count differ, and false when they differ in none or in more than one.
func differingWord(a, b string) (string, string, bool) {
	wa, wb := strings.Fields(a), strings.Fields(b)
	if len(wa) != len(wb) {
		return "", "", false
	}
	at := -1
	for i := range wa {
		if wa[i] != wb[i] {
			if at >= 0 {
				return "", "", false
			}
			at = i
		}
	}
	if at < 0 {
		return "", "", false
	}
	return wa[at], wb[at], true
}

// isTypo is the narrow typo rule: one word differs by one edit, both
// spellings are long enough that an edit is more likely a slip than another
// name ("Jon"/"John" are two names), hold no digits, and share their first
// and last letters: the edit is inside the word. Edits at the ends of a word
// make other names and forms far more often than typos: "Catherine" /
// "Katherine", "Daniel" / "Daniela", "Clark" / "Clarke", "Hawking" /
// "Hawkins", "Sweden" / "Swedes" (measured on testdata/pairs.tsv).
func isTypo(a, b string) bool {
	x, y, ok := differingWord(a, b)
	if !ok || !typoLength(x) || !typoLength(y) {
		return false
	}
	if strings.IndexFunc(x+y, unicode.IsDigit) >= 0 {
		return false
	}
	fx, _ := utf8.DecodeRuneInString(x)
	fy, _ := utf8.DecodeRuneInString(y)
	lx, _ := utf8.DecodeLastRuneInString(x)
	ly, _ := utf8.DecodeLastRuneInString(y)
	return fx == fy && lx == ly && osaDistance(x, y) == 1
}

func typoLength(w string) bool {
	n := utf8.RuneCountInString(w)
	return n >= minTypoWordRunes && n <= maxTypoWordRunes
}

// oneWordApart reports whether two names of two or more words differ in
// one word, by at most maxEdits edits ("Jon Smith"/"John Smith").
func oneWordApart(a, b string, maxEdits int) bool {
	x, y, ok := differingWord(a, b)
	if !ok || strings.Count(a, " ") == 0 {
		return false
	}
	nx, ny := utf8.RuneCountInString(x), utf8.RuneCountInString(y)
	if nx > maxTypoWordRunes || ny > maxTypoWordRunes || nx-ny > maxEdits || ny-nx > maxEdits {
		return false
	}
	return osaDistance(x, y) <= maxEdits
}

// isPart reports whether the words of one name are all among the words of
// the other, which has more: "Alice" and "Alice Smith", "Acme" and "Acme
// Corp".
func isPart(a, b string) bool {
	wa, wb := strings.Fields(a), strings.Fields(b)
	if len(wa) == len(wb) || len(wa) == 0 || len(wb) == 0 {
		return false
	}
	if len(wa) > len(wb) {
		wa, wb = wb, wa
	}
	for _, w := range wa {
		if !slices.Contains(wb, w) {
			return false
		}
	}
	return true
}
