package topics

import (
	"math"
	"sort"

	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/extract"
)

// Evidence says what kind of evidence gave a topic its strongest weight.
type Evidence string

// The kinds of evidence, strongest first.
const (
	EvidenceFact    Evidence = "fact"    // a fact's predicate
	EvidenceEntity  Evidence = "entity"  // an entity's type
	EvidenceKeyword Evidence = "keyword" // a word of the lexicon
)

// Topic is one label of a memory.
type Topic struct {
	Name     string   `json:"name"`
	Score    float64  `json:"score"`    // in [0,1]; 1 - Π(1 - w) over the evidence weights
	Evidence Evidence `json:"evidence"` // the strongest kind that contributed
}

// Weights of one piece of evidence, and the score a topic needs to be
// returned. One fact labels; one keyword labels; a place or an organisation
// alone does not (see entityTopics).
const (
	factWeight    = 1.0
	keywordWeight = 0.4
	// MinScore is the lowest score Label returns.
	MinScore = 0.35
	// maxKeywordHits caps how many hits of one topic count, so a long text
	// repeating a word does not saturate a topic that one fact would.
	maxKeywordHits = 3
)

var evidenceRank = map[Evidence]int{EvidenceFact: 3, EvidenceEntity: 2, EvidenceKeyword: 1}

type acc struct {
	miss     float64 // Π(1 - w): the chance every piece of evidence is wrong
	evidence Evidence
	hits     int
}

// Label returns the topics of one memory: its text, the facts extracted from
// it and the entities mentioned in it (facts and mentions may be nil). The
// result is ordered by score, highest first, then by name, and holds each
// topic at most once. Negated facts count: "I no longer eat meat" is still
// about food.
func Label(text string, facts []extract.Fact, mentions []extract.Mention) []Topic {
	accs := make(map[string]*acc)
	add := func(topic string, w float64, ev Evidence) {
		a := accs[topic]
		if a == nil {
			a = &acc{miss: 1}
			accs[topic] = a
		}
		if ev == EvidenceKeyword {
			if a.hits >= maxKeywordHits {
				return
			}
			a.hits++
		}
		a.miss *= 1 - w
		if evidenceRank[ev] > evidenceRank[a.evidence] {
			a.evidence = ev
		}
	}

	// Objects of facts whose predicate already says what a place or an
	// organisation is (lives_in, works_at, …) are not counted again by type:
	// "I live in Paris" is not travel.
	explained := make(map[string]bool)
	for _, f := range facts {
		ts := predicateTopics[f.Predicate]
		for _, t := range ts {
			add(t, factWeight, EvidenceFact)
		}
		if len(ts) > 0 && f.Object != "" {
			explained[entity.Normalise(f.Object)] = true
		}
	}
	for _, m := range mentions {
		et, ok := entityTopics[m.Type]
		if !ok || explained[m.Norm] || explained[entity.Normalise(m.Name)] {
			continue
		}
		add(et.topic, et.weight, EvidenceEntity)
	}
	for _, tok := range tokens(text) {
		for _, t := range lexicon[tok] {
			add(t, keywordWeight, EvidenceKeyword)
		}
	}

	out := make([]Topic, 0, len(accs))
	for name, a := range accs {
		score := round(1 - a.miss)
		if score < MinScore {
			continue
		}
		out = append(out, Topic{Name: name, Score: score, Evidence: a.evidence})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// round keeps three decimals, so scores compare equal across platforms
// whatever order the products were taken in.
func round(x float64) float64 {
	x = math.Round(x*1000) / 1000
	if x > 1 {
		return 1
	}
	if x < 0 {
		return 0
	}
	return x
}

// Count returns, for each topic, how many memories carry it: the input is
// one []Topic per memory (as Label returns them). A topic listed twice for
// one memory counts once.
func Count(labels [][]Topic) map[string]int {
	counts := make(map[string]int)
	for _, ts := range labels {
		seen := make(map[string]bool, len(ts))
		for _, t := range ts {
			if !seen[t.Name] {
				seen[t.Name] = true
				counts[t.Name]++
			}
		}
	}
	return counts
}
