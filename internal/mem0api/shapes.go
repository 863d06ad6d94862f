package mem0api

import (
	"time"

	"github.com/engram-memory/engram"
)

// memory is a memory as the mem0 platform returns it (output format v1.1).
// Absent scope ids are null, as mem0 sends them.
type memory struct {
	ID             string         `json:"id"`
	Memory         string         `json:"memory"`
	UserID         *string        `json:"user_id"`
	AgentID        *string        `json:"agent_id"`
	AppID          *string        `json:"app_id"`
	RunID          *string        `json:"run_id"`
	Metadata       map[string]any `json:"metadata"`
	Categories     []string       `json:"categories"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	ExpirationDate *string        `json:"expiration_date"`
	Score          *float64       `json:"score,omitempty"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func toMemory(m *engram.Memory) memory {
	return memory{
		ID: m.ID, Memory: m.Content, UserID: nullable(m.UserID), AgentID: nullable(m.AgentID), RunID: nullable(m.RunID),
		Metadata: m.Metadata, Categories: []string{}, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		ExpirationDate: expiration(m.ExpirationDate),
	}
}

// expiration is mem0's expiration_date: a date when the memory expires at
// a midnight UTC (it was given as a date), else the RFC 3339 time.
func expiration(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.UTC().Format(time.RFC3339Nano)
	if t.UTC().Truncate(24 * time.Hour).Equal(*t) {
		// The last day it lives through (ParseExpiration's inverse).
		s = t.UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	}
	return &s
}

// addResult is one memory an add touched, in mem0's event vocabulary.
type addResult struct {
	ID     string `json:"id"`
	Event  string `json:"event"`
	Memory string `json:"memory"`
	Data   struct {
		Memory string `json:"memory"`
	} `json:"data"`
}

// event maps Engram's events onto mem0's: a duplicate that changed nothing
// is mem0's NOOP.
func event(e engram.Event) string {
	if e == engram.EventNone {
		return "NOOP"
	}
	return string(e)
}

// historyEntry is one change as mem0's history endpoint returns it.
type historyEntry struct {
	ID         string    `json:"id"`
	MemoryID   string    `json:"memory_id"`
	Input      []any     `json:"input"`
	OldMemory  *string   `json:"old_memory"`
	NewMemory  *string   `json:"new_memory"`
	UserID     *string   `json:"user_id"`
	Categories []string  `json:"categories"`
	Event      string    `json:"event"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// entity is a user, agent or run as /v1/entities/ lists it. mem0's id is
// an opaque number; here it is the scope id itself, so that the
// entity-delete paths built from it address the right entity.
type entity struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Type          string    `json:"type"`
	TotalMemories int       `json:"total_memories"`
	Owner         *string   `json:"owner"`
	Metadata      any       `json:"metadata"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// page is mem0's paginated envelope; next and previous are URLs or null.
type page[T any] struct {
	Count    int     `json:"count"`
	Next     *string `json:"next"`
	Previous *string `json:"previous"`
	Results  []T     `json:"results"`
}

type message struct {
	Message string `json:"message"`
}
