package engram

import (
	"context"
	"time"
)

// Memory is one thing an agent learned, as a client sees it (decrypted).
type Memory struct {
	ID       string         `json:"id"`
	Content  string         `json:"memory"`
	UserID   string         `json:"user_id"`
	AgentID  string         `json:"agent_id"`
	RunID    string         `json:"run_id"`
	Metadata map[string]any `json:"metadata"`
	// CreatedAt and UpdatedAt are UTC.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// AuthorID is the account that wrote it (empty for memories written
	// before accounts); Visibility is shared or private.
	AuthorID   string     `json:"author_id,omitempty"`
	Visibility Visibility `json:"visibility"`
	// ExpirationDate is when the memory expires (UTC; absent: never). An
	// expired memory is invisible at once and deleted by the next
	// retention sweep.
	ExpirationDate *time.Time `json:"expiration_date,omitempty"`
}

// Scope returns the memory's scope.
func (m *Memory) Scope() Scope {
	return Scope{UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID}
}

// Message is one turn of a conversation handed to Add.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// AddRequest stores one memory from Content, or one memory per non-empty
// message from Messages (exactly one of the two is set).
type AddRequest struct {
	Content  string
	Messages []Message
	Scope    Scope
	Metadata map[string]any
	// IdempotencyKey, when set, makes a retried request return the first
	// request's result instead of writing again.
	IdempotencyKey string
	// Timestamp, when set, is when the memory happened (an imported
	// conversation's date); it becomes the memory's created_at and feeds
	// time-aware ranking. Default: now.
	Timestamp *time.Time
	// Visibility of the new memories: shared (the default, when empty) or
	// private (only the author and the tenant's owners read them).
	Visibility Visibility
	// ExpirationDate (mem0's field), when set, is an RFC 3339 date
	// (the memory lives through that day, UTC) or date-time after which
	// the memories expire.
	ExpirationDate string
}

// AddResult is one memory touched by Add.
type AddResult struct {
	ID      string `json:"id"`
	Content string `json:"memory"`
	Event   Event  `json:"event"`
}

// UpdateRequest replaces a memory's content and, when Metadata is non-nil,
// its metadata.
type UpdateRequest struct {
	Content  string
	Metadata map[string]any
	// Visibility, when set, changes the memory's (empty: unchanged).
	Visibility Visibility
	// ExpirationDate, when set, changes the memory's expiry (as in
	// AddRequest; empty: unchanged).
	ExpirationDate string
}

// ListRequest selects memories by scope, newest first.
type ListRequest struct {
	Scope  Scope
	Limit  int
	Cursor string
}

// ListResult is one page of memories. NextCursor is empty on the last page.
type ListResult struct {
	Memories   []Memory
	NextCursor string
}

// HistoryEntry is one change to a memory. OldMemory is empty for ADD,
// NewMemory for DELETE.
type HistoryEntry struct {
	MemoryID  string    `json:"memory_id"`
	OldMemory string    `json:"old_memory"`
	NewMemory string    `json:"new_memory"`
	Event     Event     `json:"event"`
	CreatedAt time.Time `json:"created_at"`
}

// Search modes: how candidates are found and ranked.
const (
	SearchHybrid = "hybrid" // keyword + semantic + time, fused (default)
	SearchBM25   = "bm25"   // keyword only (blind-token BM25)
	SearchVector = "vector" // semantic only
)

// SearchRequest asks for the memories that best match Query within Scope.
type SearchRequest struct {
	Query string
	Scope Scope
	// Filters restrict results: metadata keys and created_at/updated_at,
	// with operators eq, ne, in, nin, gt, gte, lt, lte, contains, and
	// AND/OR/NOT (see docs/API.md).
	Filters map[string]any
	Limit   int
	// Mode is SearchHybrid (default), SearchBM25 or SearchVector.
	Mode string
	// Explain adds each signal's contribution to every hit.
	Explain bool
	// Threshold drops hits whose Score is below it: nil means
	// DefaultSearchThreshold, 0 keeps every hit. It must be in [0, 1].
	Threshold *float64
	// Include lists what the answer carries: SearchIncludeMemories (the
	// default, when empty) and SearchIncludeFacts (the scope's user's
	// current facts ranked by ObserveService.SearchFacts, beside the
	// memories). Search itself returns memories only; a transport that
	// answers with facts calls SearchFacts for them.
	Include []string
}

// What a search answer may include (SearchRequest.Include).
const (
	SearchIncludeMemories = "memories"
	SearchIncludeFacts    = "facts"
)

// Includes reports whether the request asks for part (memories when
// Include is empty). It does not validate; Search rejects unknown parts.
func (r SearchRequest) Includes(part string) bool {
	if len(r.Include) == 0 {
		return part == SearchIncludeMemories
	}
	for _, p := range r.Include {
		if p == part {
			return true
		}
	}
	return false
}

// DefaultSearchThreshold is the Score under which a search drops a hit when
// the request names no threshold: chosen on LoCoMo so that most questions
// about things never stored come back empty while relevant memories stay
// (docs/BENCHMARKS.md, "Absolute scores").
const DefaultSearchThreshold = 0.25

// SearchHit is a memory with its relevance score in [0, 1], higher is
// better. The score is absolute, comparable across queries and tenants:
// it is built from the cosine similarity of the query and the memory and
// from a saturating transform of BM25, never from the hit's rank (see
// docs/API.md, "Scores").
type SearchHit struct {
	Memory
	Score   float64  `json:"score"`
	Explain *Explain `json:"explain,omitempty"`
}

// Explain shows how a hit's score was made. Ranks are 1-based positions in
// each signal's own list (0: not in it).
type Explain struct {
	BM25       float64 `json:"bm25"`
	BM25Rank   int     `json:"bm25_rank"`
	Vector     float64 `json:"vector"`
	VectorRank int     `json:"vector_rank"`
	// Time is the time signal in [0, 1]: closeness to a date the query
	// names, or recency when it asks for the latest.
	Time float64 `json:"time"`
	// Graph is the graph signal in [0, 1]: the memory mentions an entity
	// the query names, or one linked to it by a current fact (Observe;
	// docs/API.md "Scores"). It orders hits and never changes Score.
	Graph float64 `json:"graph"`
	// Fused orders the hits: the weighted sum of the signals' parts, each
	// scaled within this query's candidates (relative, not comparable
	// across queries).
	Fused float64 `json:"fused"`
	// Cosine is the cosine similarity of the memory's embedding and the
	// query's (before pseudo-relevance feedback; 0 without a model).
	Cosine float64 `json:"cosine"`
	// KeywordPart and SemanticPart are the absolute parts of Score, each
	// in [0, 1]: BM25 over the sum of the idf of the query's terms (about
	// the share of the query the memory matches), and cosine/0.7.
	KeywordPart  float64 `json:"keyword_part"`
	SemanticPart float64 `json:"semantic_part"`
	// Known is (1 + k)/2, k the share of the query's idf carried by terms
	// that some memory in scope holds: it scales Score, so that questions
	// about things never stored score low (0 in vector mode: not used).
	Known float64 `json:"known"`
	// Score is the hit's absolute score (SearchHit.Score): in hybrid mode
	// (KeywordPart + SemanticPart)/2 · Known; keyword only (bm25 mode, no
	// model) sqrt(KeywordPart) · Known; vector mode SemanticPart.
	Score float64 `json:"score"`
}

// MemoryService stores and retrieves memories for the principal in ctx.
// Every method returns *Error with CodeUnauthenticated when ctx holds no
// principal, CodeForbidden when the principal lacks the permission,
// CodeInvalid for bad input and CodeNotFound for a record that does not
// exist in the principal's tenant.
type MemoryService interface {
	Add(ctx context.Context, req AddRequest) ([]AddResult, error)
	Get(ctx context.Context, id string) (*Memory, error)
	List(ctx context.Context, req ListRequest) (*ListResult, error)
	Update(ctx context.Context, id string, req UpdateRequest) (*Memory, error)
	Delete(ctx context.Context, id string) error
	History(ctx context.Context, id string) ([]HistoryEntry, error)
	Search(ctx context.Context, req SearchRequest) ([]SearchHit, error)
}
