package engram

import (
	"context"
	"time"
)

// Scope kinds, as ScopeEntity.Kind names them.
const (
	ScopeUser  = "user"
	ScopeAgent = "agent"
	ScopeRun   = "run"
)

// ScopeEntity is one user, agent or run id that has memories in the
// principal's tenant (mem0 calls these entities).
type ScopeEntity struct {
	Kind     string `json:"type"`
	ID       string `json:"id"`
	Memories int    `json:"total_memories"`
	// CreatedAt is the oldest memory's created_at, UpdatedAt the newest
	// updated_at (UTC).
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ScopeService lists and clears the scopes memories are filed under.
// Errors as MemoryService.
type ScopeService interface {
	// Entities returns every user, agent and run id with at least one
	// memory, ordered by kind then id. Needs memories:read.
	Entities(ctx context.Context) ([]ScopeEntity, error)
	// DeleteAll deletes every memory filed under scope (at least one id
	// set; every set id must match), each as Delete does: a history entry
	// and a memory.delete audit entry per memory. It is not erasure: keys
	// and history stay (see PrivacyService). Needs memories:write. It
	// returns how many memories it deleted.
	DeleteAll(ctx context.Context, scope Scope) (int, error)
}
