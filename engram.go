// Package engram is the vocabulary of Engram, secure memory for AI agents:
// the records it keeps (memories, their history, tenants, accounts, API
// keys), the identity that travels with every request (Principal), the
// errors clients see (Error) and the service interfaces that every transport
// (REST, MCP, CLI) consumes.
//
// It imports only the standard library. Implementations live under
// internal/; the wiring lives in cmd/engram.
package engram

import "time"

// Scope names who a memory is about and where it came from. Every field is
// optional; together with the tenant they partition memories. Scope ids are
// identifiers chosen by the caller (not content): they are stored in clear so
// that they can be filtered on, and must not carry secrets.
type Scope struct {
	UserID  string `json:"user_id,omitempty"`
	AgentID string `json:"agent_id,omitempty"`
	RunID   string `json:"run_id,omitempty"`
}

// IsZero reports whether no scope field is set.
func (s Scope) IsZero() bool { return s == Scope{} }

// Event says what a write did to a memory.
type Event string

// Events recorded in results and in a memory's history.
const (
	EventAdd    Event = "ADD"
	EventUpdate Event = "UPDATE"
	EventDelete Event = "DELETE"
	// EventNone means the write changed nothing: the same content already
	// exists in the same scope, and the existing memory is returned.
	EventNone Event = "NONE"
)

// Clock tells the time. Services take one so that tests control expiry.
type Clock func() time.Time
