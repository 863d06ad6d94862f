package store

import (
	"context"
	"time"
)

// ObserveTx is what Observe (docs/OBSERVE.md) needs from a transaction:
// episodes, entities with their blind name index, facts, the links between
// memories and entities, topic labels and tenant settings. Every method
// takes the tenant and never crosses it.
type ObserveTx interface {
	InsertEpisode(ctx context.Context, e *Episode) error
	Episode(ctx context.Context, tenantID, id string) (*Episode, error)
	// UpdateEpisode rewrites status, extractor, messages (nil discards
	// them), key version, result, error code, attempts and UpdatedAt.
	UpdateEpisode(ctx context.Context, e *Episode) error
	// ListEpisodes returns up to limit episodes matching every non-empty
	// scope field, id descending, after the id `before` when not empty.
	ListEpisodes(ctx context.Context, tenantID string, userID, agentID, runID, before string, limit int) ([]Episode, error)
	// PendingEpisodes returns up to limit episodes of any tenant with
	// status "pending", oldest first: the extraction queue.
	PendingEpisodes(ctx context.Context, limit int) ([]Episode, error)

	// InsertEntity stores an entity and its blind keys.
	InsertEntity(ctx context.Context, e *Entity, keys [][]byte) error
	// UpdateEntity rewrites type, body, key version, mentions and
	// UpdatedAt, and replaces its keys (nil keys: keep them; empty: none),
	// indexed under the entity's stored user.
	UpdateEntity(ctx context.Context, e *Entity, keys [][]byte) error
	Entity(ctx context.Context, tenantID, id string) (*Entity, error)
	// Entities returns those among ids that exist, in no order.
	Entities(ctx context.Context, tenantID string, ids []string) ([]Entity, error)
	// EntitiesByKeys returns the ids of the user's entities that hold any
	// of the tokens, sorted.
	EntitiesByKeys(ctx context.Context, tenantID, userID string, tokens [][]byte) ([]string, error)
	// ListEntities returns up to limit entities of the user (every user
	// when all is set), id descending, of type typ when not empty, after
	// before when not empty.
	ListEntities(ctx context.Context, tenantID, userID string, all bool, typ, before string, limit int) ([]Entity, error)
	// DeleteEntity removes an entity, its keys, its mentions, every fact
	// naming it, and every version of its subject key. ErrNotFound when
	// missing, having deleted nothing.
	DeleteEntity(ctx context.Context, tenantID, id string) (*EntityErasure, error)

	InsertFact(ctx context.Context, f *Fact) error
	// UpdateFact rewrites everything but the id, tenant and scope.
	UpdateFact(ctx context.Context, f *Fact) error
	Fact(ctx context.Context, tenantID, id string) (*Fact, error)
	// FactsOf returns the facts whose subject or object is among entity
	// ids, id order.
	FactsOf(ctx context.Context, tenantID string, entityIDs []string) ([]Fact, error)
	// ListFacts returns up to limit facts matching f, id descending.
	ListFacts(ctx context.Context, tenantID string, f FactFilter) ([]Fact, error)
	DeleteFact(ctx context.Context, tenantID, id string) error
	// MoveEntityFacts points every fact of entity `from` (as subject or
	// object) at entity `to`: a merge.
	MoveEntityFacts(ctx context.Context, tenantID, from, to string) error

	// AddMentions links memories to the entities they mention (existing
	// links are kept).
	AddMentions(ctx context.Context, tenantID string, ms []EntityMention) error
	// MentionedIn returns up to limit links of the memories that mention
	// any of the entities, newest memory first.
	MentionedIn(ctx context.Context, tenantID string, entityIDs []string, limit int) ([]EntityMention, error)
	// MoveMentions points the mentions of entity `from` at `to`.
	MoveMentions(ctx context.Context, tenantID, from, to string) error

	// SetTopics labels a memory with blind topic tokens.
	SetTopics(ctx context.Context, tenantID, memoryID, userID string, tokens [][]byte) error
	// TopicCounts counts the memories of the user per topic token (every
	// user when all is set).
	TopicCounts(ctx context.Context, tenantID, userID string, all bool) ([]TopicCount, error)

	// DeleteUserObservations erases the user's entities (with every
	// version of their keys), facts, episodes and topic labels.
	DeleteUserObservations(ctx context.Context, tenantID, userID string) (*Erasure, error)

	// TenantSetting returns a setting's value; ErrNotFound when unset.
	TenantSetting(ctx context.Context, tenantID, name string) (string, error)
	PutTenantSetting(ctx context.Context, tenantID, name, value string) error
}

// Episode as stored: Messages is sealed under Subject (nil once discarded);
// Result holds ids and events as JSON, never text.
type Episode struct {
	ID         string
	TenantID   string
	UserID     string
	AgentID    string
	RunID      string
	Subject    string
	KeyVersion int
	Status     string
	Extractor  string
	Messages   []byte
	Result     []byte
	ErrorCode  string
	Attempts   int
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Entity as stored: Body (name, aliases, label) is sealed under the
// entity's own key, subject "e:"+ID.
type Entity struct {
	ID         string
	TenantID   string
	UserID     string
	Subject    string
	KeyVersion int
	Type       string
	Body       []byte
	Mentions   int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Fact as stored: Body (predicate, value, sentence) and Vector are sealed
// under Subject; PredicateTok is the predicate's blind token.
type Fact struct {
	ID            string
	TenantID      string
	UserID        string
	AgentID       string
	RunID         string
	Subject       string
	KeyVersion    int
	SubjectEntity string
	ObjectEntity  string
	PredicateTok  []byte
	Body          []byte
	Episodes      []string
	ValidAt       time.Time
	InvalidAt     *time.Time
	CreatedAt     time.Time
	ExpiredAt     *time.Time
	Vector        []byte
	VectorModel   string
}

// FactFilter selects facts; empty fields match everything. Current keeps
// only facts with neither invalid_at nor expired_at.
type FactFilter struct {
	UserID       string
	AllUsers     bool
	EntityID     string
	PredicateTok []byte
	Current      bool
	Before       string
	Limit        int
}

// EntityMention links a memory to an entity it mentions.
type EntityMention struct {
	EntityID string
	MemoryID string
}

// TopicCount is how many memories carry a topic token.
type TopicCount struct {
	Token    []byte
	Memories int
}

// EntityErasure counts what forgetting an entity removed.
type EntityErasure struct {
	Facts    int
	Mentions int
	Keys     int
}
