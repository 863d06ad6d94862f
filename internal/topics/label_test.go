package topics

import (
	"reflect"
	"testing"

	"github.com/engram-memory/engram/internal/extract"
)

func names(ts []Topic) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func TestLabel(t *testing.T) {
	fact := func(pred, obj, val string) extract.Fact {
		return extract.Fact{Subject: "<speaker>", Predicate: pred, Object: obj, Value: val}
	}
	tests := []struct {
		name     string
		text     string
		facts    []extract.Fact
		mentions []extract.Mention
		want     []string // topics in order
		evidence Evidence // of the first topic
	}{
		{"empty", "", nil, nil, []string{}, ""},
		{"no topic words", "Okay, sounds fine to me.", nil, nil, []string{}, ""},
		{"lives_in fact", "I live in Lisbon.", []extract.Fact{fact("lives_in", "Lisbon", "")},
			[]extract.Mention{{Name: "Lisbon", Norm: "lisbon", Type: extract.Place}},
			[]string{HomeLocation}, EvidenceFact},
		{"works_at beats keywords", "I work at Acme.", []extract.Fact{fact("works_at", "Acme", "")},
			[]extract.Mention{{Name: "Acme", Norm: "acme", Type: extract.Organisation}},
			[]string{WorkCareer}, EvidenceFact},
		{"allergy is health, peanut is food", "I am allergic to peanuts.",
			[]extract.Fact{fact("allergic_to", "", "peanuts")}, nil,
			[]string{Health, FoodDiet}, EvidenceFact},
		{"pet by entity type", "Rex chased the ball all afternoon.", nil,
			[]extract.Mention{{Name: "Rex", Norm: "rex", Type: extract.Pet}},
			[]string{Pets}, EvidenceEntity},
		{"a place alone does not label", "Tell me about Paris.", nil,
			[]extract.Mention{{Name: "Paris", Norm: "paris", Type: extract.Place}},
			[]string{}, ""},
		{"place plus keyword is travel", "We flew to Paris.", nil,
			[]extract.Mention{{Name: "Paris", Norm: "paris", Type: extract.Place}},
			[]string{Travel}, EvidenceEntity},
		{"keywords only, stemmed", "She has been cooking vegetarian recipes.", nil, nil,
			[]string{FoodDiet}, EvidenceKeyword},
		{"two topics", "My doctor said I should stop eating so much cheese.", nil, nil,
			[]string{FoodDiet, Health}, EvidenceKeyword},
		{"plays fact", "Every Monday I play tennis.", []extract.Fact{fact("plays", "", "tennis")}, nil,
			[]string{HobbiesSport}, EvidenceFact},
		{"negated fact still labels", "I no longer eat meat.",
			[]extract.Fact{{Subject: "<speaker>", Predicate: "diet", Value: "meat", Negated: true}}, nil,
			[]string{FoodDiet}, EvidenceFact},
		{"unknown predicate ignored", "I own it.", []extract.Fact{fact("owns", "", "it")}, nil,
			[]string{}, ""},
		{"tech keywords", "My laptop crashed while I was coding in Python.", nil, nil,
			[]string{Technology}, EvidenceKeyword},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Label(tc.text, tc.facts, tc.mentions)
			if !reflect.DeepEqual(names(got), tc.want) {
				t.Fatalf("topics = %v, want %v (%+v)", names(got), tc.want, got)
			}
			for _, tp := range got {
				if tp.Score < MinScore || tp.Score > 1 {
					t.Errorf("%s score %v out of [MinScore,1]", tp.Name, tp.Score)
				}
			}
			if len(got) > 0 && got[0].Evidence != tc.evidence {
				t.Errorf("evidence = %q, want %q", got[0].Evidence, tc.evidence)
			}
		})
	}
}

func TestLabelTopicsAreInTaxonomy(t *testing.T) {
	in := map[string]bool{}
	for _, n := range Taxonomy {
		in[n] = true
	}
	for p, ts := range predicateTopics {
		if !extract.IsPredicate(p) {
			t.Errorf("predicate %q is not one the extractor emits", p)
		}
		for _, n := range ts {
			if !in[n] {
				t.Errorf("predicate %q maps to unknown topic %q", p, n)
			}
		}
	}
	for n := range lexiconWords {
		if !in[n] {
			t.Errorf("lexicon topic %q is not in the taxonomy", n)
		}
	}
}

func TestLabelDeterministic(t *testing.T) {
	text := "My sister works as a nurse at the hospital and we went on a trip to Rome for her birthday."
	ms := []extract.Mention{{Name: "Rome", Norm: "rome", Type: extract.Place}}
	first := Label(text, nil, ms)
	if len(first) < 3 {
		t.Fatalf("want several topics, got %v", first)
	}
	for i := 0; i < 50; i++ {
		if got := Label(text, nil, ms); !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d: %v, want %v", i, got, first)
		}
	}
	for i := 1; i < len(first); i++ {
		a, b := first[i-1], first[i]
		if a.Score < b.Score || a.Score == b.Score && a.Name > b.Name {
			t.Fatalf("not ordered: %v", first)
		}
	}
}

func TestCount(t *testing.T) {
	labels := [][]Topic{
		{{Name: FoodDiet}, {Name: Health}},
		{{Name: FoodDiet}, {Name: FoodDiet}}, // listed twice: counts once
		nil,
		{{Name: Pets}},
	}
	want := map[string]int{FoodDiet: 2, Health: 1, Pets: 1}
	if got := Count(labels); !reflect.DeepEqual(got, want) {
		t.Fatalf("Count = %v, want %v", got, want)
	}
	if got := Count(nil); len(got) != 0 {
		t.Fatalf("Count(nil) = %v", got)
	}
}
