package extract

import (
	"slices"
	"sort"
	"strings"

	"github.com/engram-memory/engram/internal/facts"
)

// table is the contradiction rules' predicate table, the one reference for which predicates exist and which
// hold one value at a time. The extractor reads it only to decide whether an object may be a list ("speaks
// English and French"): a single-valued predicate takes one object.
var table = facts.DefaultTable()

// objKind says what follows a phrase: an entity of a type, or a literal value.
type objKind struct {
	entity EntityType // "" for a value
	value  bool       // always a literal, even when capitalised ("speaks French")
}

// rule is one phrasing of a predicate. The phrase is a sequence of words; "a|an" means either word.
type rule struct {
	pred   string
	words  [][]string
	obj    objKind
	negate bool     // the phrase itself ends the fact ("quit my job at")
	fixed  string   // a value set by the phrase itself ("got married" → married)
	only   []string // when set, the object's head must be one of these words
}

var (
	place  = objKind{entity: Place}
	org    = objKind{entity: Organisation}
	person = objKind{entity: Person}
	value  = objKind{value: true}
	// product: a capitalised object is a product ("own a Tesla"); a lower-case one a value ("bought a bike").
	product = objKind{entity: Product}
	thing   = objKind{} // an entity when capitalised, its type found elsewhere; else a value
)

var animals = []string{"dog", "dogs", "cat", "cats", "puppy", "kitten", "hamster", "parrot", "rabbit", "bunny", "horse", "turtle", "goldfish", "fish", "snake", "lizard", "guinea", "pig", "bird", "budgie", "ferret", "retriever", "labrador", "poodle", "terrier", "beagle", "spaniel", "shepherd", "collie", "husky", "dachshund", "pug", "tabby"}
var diets = []string{"vegetarian", "vegan", "pescatarian", "keto", "gluten-free", "paleo"}
var statuses = []string{"single", "married", "engaged", "divorced", "widowed", "separated", "dating"}

// lexicon: phrasings → predicates. Longer phrases win over shorter ones that start at the same word.
var lexicon = compile([]rule{
	{pred: "lives_in", words: ws("live|lives|living|lived in"), obj: place},
	{pred: "lives_in", words: ws("moved|move|moves to"), obj: place},
	{pred: "lives_in", words: ws("relocated|relocate to"), obj: place},
	{pred: "lives_in", words: ws("based in"), obj: place},
	{pred: "lives_in", words: ws("settled in"), obj: place},
	{pred: "lives_in", words: ws("reside|resides|residing in"), obj: place},
	{pred: "works_at", words: ws("work|works|working|worked at|for"), obj: org},
	{pred: "works_at", words: ws("joined"), obj: org},
	{pred: "works_at", words: ws("started at"), obj: org},
	{pred: "works_at", words: ws("started working|work at|for"), obj: org},
	{pred: "works_at", words: ws("got a job at|with"), obj: org},
	{pred: "works_at", words: ws("new job at|with"), obj: org},
	{pred: "works_at", words: ws("got a new job at|with"), obj: org},
	{pred: "works_at", words: ws("employed by|at"), obj: org},
	{pred: "works_at", words: ws("hired by"), obj: org},
	{pred: "works_at", words: ws("quit my|his|her job at"), obj: org, negate: true},
	{pred: "works_at", words: ws("left my|his|her job at"), obj: org, negate: true},
	{pred: "works_at", words: ws("was laid off from"), obj: org, negate: true},
	{pred: "diet", words: ws("am|is|been|became|went a|an"), obj: value, only: diets},
	{pred: "diet", words: ws("am|is|been|became|went|eat|eats"), obj: value, only: diets},
	{pred: "job_title", words: ws("work|works|working as a|an"), obj: value},
	{pred: "job_title", words: ws("work|works|working as"), obj: value},
	{pred: "job_title", words: ws("am|is|was a|an"), obj: value},
	{pred: "job_title", words: ws("became a|an"), obj: value},
	{pred: "job_title", words: ws("promoted to"), obj: value},
	{pred: "likes", words: ws("love|loves|loved|adore|adores"), obj: thing},
	{pred: "likes", words: ws("like|likes|enjoy|enjoys"), obj: thing},
	{pred: "likes", words: ws("am|is really|totally into"), obj: thing},
	{pred: "likes", words: ws("am|is into"), obj: thing},
	{pred: "likes", words: ws("into"), obj: thing}, // "I'm not into X anymore": the left walk takes "am not"
	{pred: "likes", words: ws("am|is a big|huge fan of"), obj: thing},
	{pred: "likes", words: ws("am|is a fan of"), obj: thing},
	{pred: "likes", words: ws("favorite|favourite"), obj: thing},
	{pred: "dislikes", words: ws("hate|hates|dislike|dislikes|detest|detests"), obj: thing},
	{pred: "dislikes", words: ws("do|does not like|enjoy"), obj: thing},
	{pred: "dislikes", words: ws("can not stand"), obj: thing},
	{pred: "allergic_to", words: ws("allergic to"), obj: value},
	{pred: "allergic_to", words: ws("allergy to"), obj: value},
	{pred: "has_pet", words: ws("have|has|got|adopted|own|owns a|an|two|three"), obj: value, only: animals},
	{pred: "plays", words: ws("play|plays|playing|played the"), obj: value},
	{pred: "plays", words: ws("play|plays|playing|played"), obj: value},
	{pred: "hobby", words: ws("took|take|takes up"), obj: value},
	{pred: "hobby", words: ws("my hobby is"), obj: value},
	{pred: "hobby", words: ws("hobbies are"), obj: value},
	{pred: "hobby", words: ws("started doing|practicing|practising"), obj: value},
	{pred: "hobby", words: ws("do|does|doing|practice|practise|practices yoga|pilates|karate|judo|crossfit|pottery"), fixed: "$last"},
	{pred: "born_in", words: ws("born in"), obj: place},
	{pred: "born_in", words: ws("grew|grow up in"), obj: place},
	{pred: "born_in", words: ws("originally from"), obj: place},
	{pred: "studies_at", words: ws("study|studies|studying|studied at"), obj: org},
	{pred: "studies_at", words: ws("student at"), obj: org},
	{pred: "studies_at", words: ws("enrolled at|in"), obj: org},
	{pred: "studies_at", words: ws("graduated from"), obj: org, negate: true},
	{pred: "speaks", words: ws("speak|speaks|speaking"), obj: value},
	{pred: "speaks", words: ws("fluent in"), obj: value},
	{pred: "speaks", words: ws("speak|speaks fluent"), obj: value},
	{pred: "owns", words: ws("own|owns a|an"), obj: product},
	{pred: "owns", words: ws("bought|buy a|an"), obj: product},
	{pred: "owns", words: ws("drive|drives a|an"), obj: product},
	{pred: "visited", words: ws("visited|visit|visiting"), obj: place},
	{pred: "visited", words: ws("travelled|traveled|went to"), obj: place},
	{pred: "visited", words: ws("been to"), obj: place},
	{pred: "visited", words: ws("trip to"), obj: place},
	{pred: "married_to", words: ws("married to"), obj: person},
	{pred: "married_to", words: ws("married"), obj: person},
	{pred: "relationship_status", words: ws("got|get married"), fixed: "married"},
	{pred: "relationship_status", words: ws("got|get engaged"), fixed: "engaged"},
	{pred: "relationship_status", words: ws("got|get divorced"), fixed: "divorced"},
	{pred: "relationship_status", words: ws("am|is single|married|engaged|divorced|widowed|separated"), fixed: "$last"},
	{pred: "relationship_status", words: ws("am|is in a relationship"), fixed: "in a relationship"},
	{pred: "partner_of", words: ws("dating"), obj: person},
	{pred: "partner_of", words: ws("broke up with"), obj: person, negate: true},
	{pred: "partner_of", words: ws("split up with"), obj: person, negate: true},
})

// ws parses "a|b c" into [[a b] [c]].
func ws(s string) [][]string {
	var out [][]string
	for _, f := range strings.Fields(s) {
		out = append(out, strings.Split(f, "|"))
	}
	return out
}

func compile(rs []rule) []rule {
	for _, r := range rs {
		mustBeInTable(r.pred)
	}
	// Longest first, stable, so that "work as a" beats "work as" and the result does not depend on map order.
	sort.SliceStable(rs, func(i, j int) bool { return len(rs[i].words) > len(rs[j].words) })
	return rs
}

// mustBeInTable stops the process at start-up when a rule names a predicate the contradiction rules do not
// know: there it would silently be multi-valued.
func mustBeInTable(pred string) {
	if _, ok := table[pred]; !ok {
		panic("extract: predicate missing from facts.DefaultTable(): " + pred)
	}
}

// emitted is every predicate a rule can produce: the lexicon's and the relation nouns'.
var emitted = func() []string {
	var ps []string
	for _, r := range lexicon {
		ps = append(ps, r.pred)
	}
	for _, r := range relations {
		mustBeInTable(r.pred)
		ps = append(ps, r.pred)
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}()

// Predicates returns, sorted, the canonical predicates the built-in extractor can emit. Each is in
// facts.DefaultTable(), whose cardinality the caller applies; the table also holds predicates only other
// sources state (email, age, …).
func Predicates() []string { return slices.Clone(emitted) }

// IsPredicate reports whether the built-in extractor can emit p.
func IsPredicate(p string) bool {
	_, ok := slices.BinarySearch(emitted, p)
	return ok
}

// match reports how many toks of ts the rule's phrase covers, or 0.
func (r rule) match(ts []tok) int {
	if len(ts) < len(r.words) {
		return 0
	}
	for k, alts := range r.words {
		if ts[k].punct || !contains(alts, ts[k].low) {
			return 0
		}
	}
	return len(r.words)
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// relations: "my sister Anna", "my dog Max" name an entity and state a fact in one noun phrase.
var relations = map[string]struct {
	pred string
	typ  EntityType
}{
	"sister": {"has_sibling", Person}, "brother": {"has_sibling", Person}, "sibling": {"has_sibling", Person},
	"wife": {"married_to", Person}, "husband": {"married_to", Person}, "spouse": {"married_to", Person},
	"girlfriend": {"partner_of", Person}, "boyfriend": {"partner_of", Person}, "partner": {"partner_of", Person},
	"fiance": {"partner_of", Person}, "fiancé": {"partner_of", Person}, "fiancee": {"partner_of", Person}, "fiancée": {"partner_of", Person},
}
