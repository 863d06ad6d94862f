package topics

import (
	"strings"
	"unicode"

	"github.com/kljensen/snowball/english"
)

// lexiconWords are the keywords of each topic, written as plain words and
// stemmed once at start-up, so "cooking", "cooked" and "cooks" all hit
// "cook". Words are chosen to be specific to their topic: a word that is
// common in any conversation ("time", "good", "go") would label everything.
var lexiconWords = map[string][]string{
	FoodDiet: {
		"food", "eat", "ate", "eaten", "meal", "dinner", "lunch", "breakfast", "cook", "recipe",
		"restaurant", "vegetarian", "vegan", "diet", "pizza", "pasta", "sushi", "coffee", "tea",
		"bread", "cheese", "meat", "chicken", "fish", "fruit", "vegetable", "salad", "dessert",
		"cake", "chocolate", "peanut", "gluten", "dairy", "snack", "bake", "kitchen", "wine",
		"beer", "soup", "rice", "spicy", "taste", "delicious", "hungry", "calorie", "keto",
	},
	Health: {
		"health", "doctor", "hospital", "sick", "ill", "illness", "disease", "allergy", "allergic",
		"medicine", "medication", "pill", "symptom", "pain", "headache", "migraine", "injury",
		"surgery", "therapy", "therapist", "diagnosis", "diagnosed", "asthma", "diabetes",
		"cancer", "flu", "fever", "cold", "clinic", "dentist", "sleep", "insomnia", "anxiety",
		"depression", "stress", "blood", "vaccine", "pregnant", "nurse", "physiotherapy",
	},
	WorkCareer: {
		"work", "job", "career", "office", "boss", "manager", "colleague", "coworker", "salary",
		"promotion", "promoted", "hired", "interview", "employer", "employee", "company",
		"startup", "client", "meeting", "project", "deadline", "team", "engineer", "developer",
		"teacher", "nurse", "lawyer", "resign", "fired", "intern", "internship", "profession",
		"business", "shift", "workplace", "contract", "freelance", "freelancer",
	},
	HomeLocation: {
		"home", "house", "apartment", "flat", "live", "lived", "living", "move", "moved",
		"neighbourhood", "neighborhood", "neighbour", "neighbor", "rent", "landlord", "garden",
		"city", "town", "village", "street", "suburb", "downtown", "relocate", "hometown",
		"bedroom", "roommate", "flatmate",
	},
	Family: {
		"family", "mother", "father", "mom", "mum", "dad", "parent", "son", "daughter",
		"child", "children", "kid", "baby", "brother", "sister", "sibling", "wife", "husband",
		"spouse", "partner", "girlfriend", "boyfriend", "married", "marriage", "wedding",
		"divorce", "divorced", "grandmother", "grandfather", "grandma", "grandpa", "aunt",
		"uncle", "cousin", "niece", "nephew", "engaged", "fiance", "fiancee", "relationship", "dating",
	},
	Pets: {
		"pet", "dog", "puppy", "cat", "kitten", "hamster", "parrot", "rabbit", "bunny",
		"goldfish", "vet", "veterinarian", "leash", "adopted", "breed", "tortoise", "pony",
	},
	HobbiesSport: {
		"hobby", "sport", "tennis", "football", "soccer", "basketball", "baseball", "golf",
		"swim", "swimming", "marathon", "jog", "jogging", "gym", "yoga",
		"climb", "climbing", "hike", "hiking", "cycle", "cycling", "bike", "ski", "skiing",
		"surf", "surfing", "chess", "guitar", "piano", "violin", "cello", "drums", "paint",
		"painting", "draw", "drawing", "knit", "knitting", "garden", "gardening", "photography",
		"dance", "dancing", "sing", "singing", "band", "choir", "game", "gaming",
		"match", "league", "workout", "training", "pottery", "crochet", "read",
		"reading", "novel",
	},
	Travel: {
		"travel", "trip", "vacation", "holiday", "flight", "fly", "flew", "airport", "hotel",
		"visit", "visited", "abroad", "tour", "tourist", "passport", "visa", "beach", "cruise",
		"backpack", "backpacking", "journey", "luggage", "destination", "sightseeing", "resort",
	},
	Education: {
		"school", "university", "college", "study", "studying", "student", "class", "course",
		"exam", "degree", "phd", "master", "bachelor", "thesis", "homework", "lecture",
		"professor", "teacher", "learn", "learning", "language", "grade", "semester",
		"graduate", "graduated", "tuition", "scholarship", "campus", "fluent",
	},
	Finance: {
		"money", "bank", "loan", "mortgage", "debt", "save", "saving", "savings", "invest",
		"investment", "stock", "shares", "budget", "tax", "taxes", "salary", "income",
		"expense", "expensive", "afford", "pension", "retirement", "insurance", "bill",
		"credit", "crypto", "bitcoin", "paid", "pay", "price", "cost", "euro", "dollar",
	},
	Technology: {
		"computer", "laptop", "phone", "smartphone", "software", "app", "code", "coding",
		"program", "programming", "python", "golang", "javascript", "linux",
		"server", "database", "internet", "website", "ai", "robot", "gadget",
		"tablet", "iphone", "android", "keyboard", "algorithm", "cloud", "tech", "technology",
	},
	EventsPlans: {
		"plan", "planning", "tomorrow", "tonight", "weekend", "next", "appointment",
		"birthday", "party", "concert", "festival", "conference", "ceremony", "anniversary",
		"schedule", "scheduled", "reservation", "booked", "ticket", "event", "celebrate",
		"celebration", "upcoming", "reunion",
	},
	Preferences: {
		"love", "loves", "prefer", "favourite", "favorite", "enjoy", "hate",
		"dislike", "fan", "adore", "fond",
	},
}

// lexicon maps a stem onto the topics it is evidence of, built once from
// lexiconWords. A stem may belong to several topics ("teacher": work and
// education; "salary": work and finance).
var lexicon = buildLexicon()

func buildLexicon() map[string][]string {
	lx := make(map[string][]string)
	for _, topic := range Taxonomy {
		for _, w := range lexiconWords[topic] {
			for _, t := range tokens(w) {
				if !contains(lx[t], topic) {
					lx[t] = append(lx[t], topic)
				}
			}
		}
	}
	return lx
}

// tokens lower-cases text, splits it into runs of letters and digits and
// stems each run. It is the only reading of text the package does.
func tokens(text string) []string {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && unicode.IsLetter(r))
	})
	out := fields[:0]
	for _, f := range fields {
		if len(f) > 40 { // no English keyword is this long; skip stemming junk
			continue
		}
		out = append(out, english.Stem(f, false))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
