package topics

import "github.com/engram-memory/engram/internal/extract"

// The topics of the taxonomy. The names are stable identifiers: they are
// what GET /v1/topics will report, so renaming one is a format change.
const (
	FoodDiet     = "food_diet"
	Health       = "health"
	WorkCareer   = "work_career"
	HomeLocation = "home_location"
	Family       = "family_relationships"
	Pets         = "pets"
	HobbiesSport = "hobbies_sport"
	Travel       = "travel"
	Education    = "education"
	Finance      = "finance"
	Technology   = "technology"
	EventsPlans  = "events_plans"
	Preferences  = "preferences"
)

// Taxonomy is every topic Label can return, in a fixed order.
var Taxonomy = []string{
	FoodDiet, Health, WorkCareer, HomeLocation, Family, Pets, HobbiesSport,
	Travel, Education, Finance, Technology, EventsPlans, Preferences,
}

// predicateTopics maps a canonical predicate (extract.Predicates()) onto its
// topics. A fact is the best evidence there is: the extractor already read
// the sentence's structure, so one fact is enough to label.
var predicateTopics = map[string][]string{
	"lives_in":            {HomeLocation},
	"born_in":             {HomeLocation},
	"works_at":            {WorkCareer},
	"job_title":           {WorkCareer},
	"diet":                {FoodDiet},
	"allergic_to":         {Health},
	"married_to":          {Family},
	"partner_of":          {Family},
	"relationship_status": {Family},
	"has_sibling":         {Family},
	"studies_at":          {Education},
	"likes":               {Preferences},
	"dislikes":            {Preferences},
	"has_pet":             {Pets},
	"plays":               {HobbiesSport},
	"hobby":               {HobbiesSport},
	"speaks":              {Education},
	"visited":             {Travel},
	// owns says nothing by itself (a car, a flat, a company): the keywords
	// of the object decide.
}

// entityTopics maps an entity type onto a topic and its weight. Places are
// weak evidence of travel (they are also where people live, which a fact
// says better), so alone they do not label; an organisation is usually an
// employer or a school, so it only adds weight to other evidence.
var entityTopics = map[extract.EntityType]struct {
	topic  string
	weight float64
}{
	extract.Pet:          {Pets, 0.6},
	extract.Event:        {EventsPlans, 0.5},
	extract.Place:        {Travel, 0.25},
	extract.Organisation: {WorkCareer, 0.25},
}
