package engram

import (
	"context"
	"time"
)

// Observe: conversations become episodes, entities and facts
// (docs/OBSERVE.md). Every name, alias, sentence, value and message is sealed
// like memory content; ids, scope ids, entity types, canonical predicates and
// times are stored in clear.

// Limits of Observe requests, beside the memory limits (MaxMessages,
// MaxContentBytes per message).
const (
	MaxNameBytes      = 256 // an entity's name or alias, a speaker's name
	MaxPredicateBytes = 64  // a predicate (canonical, e.g. lives_in, or an MCP relation type); sealed
	MaxValueBytes     = 1 << 10
	MaxFactLimit      = 200
	DefaultFactLimit  = 50
	MaxEntityLimit    = 100
	MaxGraphNames     = 100 // names, observations or relations in one MCP graph call
)

// Episode statuses.
const (
	EpisodePending = "pending" // extraction has not run yet (LLM extractor)
	EpisodeDone    = "done"
	EpisodeFailed  = "failed"
)

// Entity types the built-in extractor assigns; any other lower-case word is
// accepted from callers.
const (
	EntityPerson       = "person"
	EntityOrganisation = "organisation"
	EntityPlace        = "place"
	EntityProduct      = "product"
	EntityPet          = "pet"
	EntityEvent        = "event"
	EntityOther        = "other"
)

// Fact and entity events in Observe's answers: what the call did to each.
const (
	FactAdd        = "add"        // a new fact
	FactInvalidate = "invalidate" // a new value ended it (invalid_at set)
	FactMerge      = "merge"      // the statement was already known: episodes added
	FactEnd        = "end"        // a negation ended it
	FactDelete     = "delete"     // deleted by hand
	EntityAdd      = "add"
	EntityUpdate   = "update" // a new spelling became an alias, or mentions grew
	EntityMention  = "mention"
)

// ObserveMessage is one turn of a conversation.
type ObserveMessage struct {
	Role      string     `json:"role"`
	Content   string     `json:"content"`
	Name      string     `json:"name,omitempty"`
	Timestamp *time.Time `json:"timestamp,omitempty"`
}

// ObserveRequest is a conversation to store and understand.
type ObserveRequest struct {
	Messages []ObserveMessage
	Scope    Scope
	// Timestamp is the reference time of messages without their own.
	Timestamp *time.Time
	Metadata  map[string]any
	// IdempotencyKey makes a retried request replay its first answer.
	IdempotencyKey string
}

// EntityRef names an entity in results.
type EntityRef struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Type  string `json:"type,omitempty"`
	Event string `json:"event,omitempty"`
}

// FactRef is a fact in an Observe answer: its sentence and what the call did.
type FactRef struct {
	ID    string `json:"id"`
	Fact  string `json:"fact"`
	Event string `json:"event"`
}

// Episode is one observed conversation and what extraction made of it.
type Episode struct {
	ID        string      `json:"episode_id"`
	Status    string      `json:"status"`
	UserID    string      `json:"user_id,omitempty"`
	AgentID   string      `json:"agent_id,omitempty"`
	RunID     string      `json:"run_id,omitempty"`
	Extractor string      `json:"extractor"`
	Memories  []AddResult `json:"memories"`
	Entities  []EntityRef `json:"entities"`
	Facts     []FactRef   `json:"facts"`
	// Error is a stable code and a message that never quotes the
	// conversation, when Status is failed.
	Error     *EpisodeError `json:"error,omitempty"`
	Attempts  int           `json:"attempts"`
	CreatedAt time.Time     `json:"created_at"`
	UpdatedAt time.Time     `json:"updated_at"`
	// Messages are returned by GET /v1/episodes/{id} unless the tenant
	// discards raw text after extraction (data minimisation).
	Messages []ObserveMessage `json:"messages,omitempty"`
}

// EpisodeError says why extraction failed.
type EpisodeError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Entity is a person, organisation, place, product, pet, event … that
// conversations mention.
type Entity struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Aliases   []string  `json:"aliases"`
	Mentions  int64     `json:"mentions"`
	UserID    string    `json:"user_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Facts are the entity's facts (as subject or object), on GET of one.
	Facts []Fact `json:"facts,omitempty"`
	// Observations are free-text notes (the MCP memory server's
	// observations), on GET of one.
	Observations []string `json:"observations,omitempty"`
}

// Fact is (subject, predicate, object entity or literal value) with the
// sentence it came from and two time axes: ValidAt/InvalidAt (when it was
// true in the world) and CreatedAt/ExpiredAt (when Engram learned and retired
// it).
type Fact struct {
	ID        string     `json:"id"`
	Fact      string     `json:"fact"`
	Subject   EntityRef  `json:"subject"`
	Predicate string     `json:"predicate"`
	Object    *EntityRef `json:"object"`
	Value     string     `json:"value,omitempty"`
	ValidAt   time.Time  `json:"valid_at"`
	InvalidAt *time.Time `json:"invalid_at"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiredAt *time.Time `json:"expired_at"`
	Episodes  []string   `json:"episodes"`
	UserID    string     `json:"user_id,omitempty"`
	Score     *float64   `json:"score,omitempty"`
}

// EntityQuery lists entities of a scope.
type EntityQuery struct {
	UserID string
	Type   string
	Query  string // a name: exact or fuzzy match, as resolution does
	Limit  int
	Cursor string
}

// EntityList is a page of entities.
type EntityList struct {
	Results    []Entity `json:"results"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

// FactQuery lists facts. Current facts only unless IncludeInvalid or AsOf.
type FactQuery struct {
	UserID         string
	EntityID       string
	Predicate      string
	AsOf           *time.Time
	IncludeInvalid bool
	Limit          int
}

// FactSearch ranks facts against a query.
type FactSearch struct {
	Query  string
	UserID string
	AsOf   *time.Time
	Limit  int
}

// NewFact is a fact stated by hand (POST /v1/facts).
type NewFact struct {
	Subject   string     `json:"subject"`
	Predicate string     `json:"predicate"`
	Object    string     `json:"object,omitempty"`
	Value     string     `json:"value,omitempty"`
	ValidAt   *time.Time `json:"valid_at,omitempty"`
	InvalidAt *time.Time `json:"invalid_at,omitempty"`
	Negated   bool       `json:"negated,omitempty"`
	UserID    string     `json:"user_id,omitempty"`
	// Sentence is the statement as written; made from the triple when empty.
	Sentence string `json:"fact,omitempty"`
}

// TopicCount is how many memories of a scope carry a topic.
type TopicCount struct {
	Topic    string `json:"topic"`
	Memories int    `json:"memories"`
}

// Pattern is what recurs across episodes: a preference stated again and
// again, a routine, a value that keeps changing. Facts are the ids it rests on.
type Pattern struct {
	Kind      string     `json:"kind"`
	Subject   EntityRef  `json:"subject"`
	Predicate string     `json:"predicate"`
	Object    *EntityRef `json:"object,omitempty"`
	Value     string     `json:"value,omitempty"`
	// When is a routine's slot ("weekday:monday", "time:evening").
	When string `json:"when,omitempty"`
	// Values are a frequent change's successive values, oldest first.
	Values    []string  `json:"values,omitempty"`
	Facts     []string  `json:"facts"`
	Episodes  []string  `json:"episodes"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Current   bool      `json:"current"`
}

// EntityErasure is the receipt of forgetting one entity.
type EntityErasure struct {
	EntityID    string    `json:"entity_id"`
	Facts       int       `json:"facts_deleted"`
	Mentions    int       `json:"mentions_deleted"`
	Keys        int       `json:"keys_destroyed"`
	CompletedAt time.Time `json:"completed_at"`
}

// ObserveService turns conversations into episodes, entities and facts for
// the principal in ctx. Errors as MemoryService.
type ObserveService interface {
	Observe(ctx context.Context, req ObserveRequest) (*Episode, error)
	Episode(ctx context.Context, id string) (*Episode, error)
	Episodes(ctx context.Context, scope Scope, cursor string, limit int) ([]Episode, string, error)

	ListEntities(ctx context.Context, q EntityQuery) (*EntityList, error)
	GetEntity(ctx context.Context, id string) (*Entity, error)
	MergeEntities(ctx context.Context, id, other string) (*Entity, error)
	ForgetEntity(ctx context.Context, id string) (*EntityErasure, error)

	Facts(ctx context.Context, q FactQuery) ([]Fact, error)
	SearchFacts(ctx context.Context, q FactSearch) ([]Fact, error)
	AddFact(ctx context.Context, f NewFact) (*Fact, error)
	GetFact(ctx context.Context, id string) (*Fact, error)
	DeleteFact(ctx context.Context, id string) error

	Topics(ctx context.Context, userID string) ([]TopicCount, error)
	Patterns(ctx context.Context, userID string) ([]Pattern, error)
}

// The knowledge graph of the official MCP memory server
// (@modelcontextprotocol/server-memory), mapped onto entities and facts: an
// entity is found by its exact name within the scope; an observation is a
// fact with predicate "observation" and the text as its value; a relation is
// a fact whose object is the other entity. Unlike that server, every call is
// one transaction: two concurrent creates of one name make one entity.

// GraphEntity is an entity as that server shapes it.
type GraphEntity struct {
	Name         string   `json:"name"`
	EntityType   string   `json:"entityType"`
	Observations []string `json:"observations"`
}

// GraphRelation links two entities by name.
type GraphRelation struct {
	From         string `json:"from"`
	To           string `json:"to"`
	RelationType string `json:"relationType"`
}

// GraphObservations are observations of one entity.
type GraphObservations struct {
	EntityName string   `json:"entityName"`
	Contents   []string `json:"contents,omitempty"`
	// Observations is the field delete_observations uses.
	Observations []string `json:"observations,omitempty"`
}

// GraphAdded reports the observations add_observations stored.
type GraphAdded struct {
	EntityName        string   `json:"entityName"`
	AddedObservations []string `json:"addedObservations"`
}

// Graph is entities and the relations among them.
type Graph struct {
	Entities  []GraphEntity   `json:"entities"`
	Relations []GraphRelation `json:"relations"`
}

// PredicateObservation is the predicate of facts that hold an entity's
// free-text observations.
const PredicateObservation = "observation"

// GraphService is the MCP memory server's nine operations within a scope of
// the principal's tenant.
type GraphService interface {
	// CreateEntities creates the entities whose names are new and returns
	// them; names that exist are skipped (as that server does).
	CreateEntities(ctx context.Context, scope Scope, es []GraphEntity) ([]GraphEntity, error)
	// CreateRelations creates relations not already present and returns
	// them; an endpoint that does not exist is CodeNotFound (that server
	// accepts dangling relations; Engram does not).
	CreateRelations(ctx context.Context, scope Scope, rs []GraphRelation) ([]GraphRelation, error)
	// AddObservations adds the observations each entity lacks; an unknown
	// entity is CodeNotFound and nothing is written.
	AddObservations(ctx context.Context, scope Scope, obs []GraphObservations) ([]GraphAdded, error)
	// DeleteEntities forgets the named entities (crypto-shredded like
	// ForgetEntity) with their relations; unknown names are ignored.
	DeleteEntities(ctx context.Context, scope Scope, names []string) error
	// DeleteObservations removes the given observations; unknown ones are
	// ignored.
	DeleteObservations(ctx context.Context, scope Scope, dels []GraphObservations) error
	// DeleteRelations removes the given relations; unknown ones are ignored.
	DeleteRelations(ctx context.Context, scope Scope, rs []GraphRelation) error
	ReadGraph(ctx context.Context, scope Scope) (*Graph, error)
	// SearchNodes returns the entities whose name, type or observations
	// contain query (case-insensitive), and the relations with at least one
	// end among them (as server-memory 2026.8.31 does: it lets a caller
	// discover a node's connections).
	SearchNodes(ctx context.Context, scope Scope, query string) (*Graph, error)
	// OpenNodes returns the named entities and the relations with at least
	// one end among them (server-memory 2026.8.31; older releases required
	// both ends).
	OpenNodes(ctx context.Context, scope Scope, names []string) (*Graph, error)
}
