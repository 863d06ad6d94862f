package engine

import (
	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// Memories have an author and a visibility (docs/IDENTITY.md, "RBAC
// enforcement"). Per-record operations check rbac.Allows on the stored
// record; lists and searches hand rbac.Filter to the store or the
// in-memory indexes, before ranking and limits.

// filterOf is what p may see of memories at reach.
func filterOf(p *engram.Principal, reach rbac.Reach) rbac.Filter {
	return rbac.Filter{Reach: reach, AuthorID: p.AccountID}
}

// reachable decides a per-record operation on a memory: nil when reach
// lets p touch rec; not_found, exactly as for another tenant's memory,
// when p may not even read it; forbidden when p reads it but may not do
// this to it.
func reachable(p *engram.Principal, reach rbac.Reach, rec rbac.Record) error {
	if rbac.Allows(reach, p.AccountID, rec) {
		return nil
	}
	if r, err := rbac.Authorize(actorOf(p), rbac.MemoryRead); err == nil && rbac.Allows(r, p.AccountID, rec) {
		return engram.Errorf(engram.CodeForbidden, "the %s role may change only its own memories", p.Role)
	}
	return engram.Errorf(engram.CodeNotFound, "memory not found")
}

// privateOf validates a requested visibility: "" is def.
func privateOf(v engram.Visibility, def bool) (bool, error) {
	switch {
	case v == "":
		return def, nil
	case !v.Valid():
		return false, invalid("visibility must be %q or %q", engram.VisibilityShared, engram.VisibilityPrivate)
	}
	return v == engram.VisibilityPrivate, nil
}

func visibilityOf(private bool) engram.Visibility {
	if private {
		return engram.VisibilityPrivate
	}
	return engram.VisibilityShared
}

// contextFilter is which earlier memories may be embedded as context with
// a memory (vectors.go): a shared memory's context is shared memories only,
// so a private note never colours what everyone searches; a private one's
// also its author's own.
func contextFilter(rec rbac.Record) rbac.Filter {
	if rec.Private {
		return rbac.Filter{Reach: rbac.Shared, AuthorID: rec.AuthorID}
	}
	return rbac.Filter{Reach: rbac.Shared}
}

// historyRecord is what decides who reads a memory's history: the memory
// while it exists, else its last history entry (the deletion, written
// with the memory's visibility at that time).
func historyRecord(m *store.Memory, rows []store.History) rbac.Record {
	if m != nil {
		return store.RecordOf(m)
	}
	last := rows[len(rows)-1]
	return rbac.Record{AuthorID: last.AuthorID, Private: last.Private}
}

// mayUpdate decides an update of m by p at reach: reachable, and a change
// of visibility only by the author or reach Any (anyone else making a
// memory private would hide it from themselves and everyone but its
// author; making another's private note shared would publish it).
func mayUpdate(p *engram.Principal, reach rbac.Reach, m *store.Memory, v engram.Visibility) error {
	rec := store.RecordOf(m)
	if err := reachable(p, reach, rec); err != nil {
		return err
	}
	private, err := privateOf(v, m.Private)
	if err != nil || private == m.Private || reach == rbac.Any {
		return err
	}
	if m.AuthorID == "" || m.AuthorID != p.AccountID {
		return engram.Errorf(engram.CodeForbidden, "only a memory's author may change its visibility")
	}
	return nil
}

// observed is the record of a memory Observe writes: the caller's, and
// shared, because the knowledge graph built from it is the tenant's.
func observed(p *engram.Principal) rbac.Record { return rbac.Record{AuthorID: p.AccountID} }

// idemPrincipal is whose Idempotency-Key space a request uses: its API
// key's, or, for a person's session (no key id), its account's, so that
// two members never replay each other's answers (which could carry the id
// of a private memory).
func idemPrincipal(p *engram.Principal) string {
	if p.KeyID != "" {
		return p.KeyID
	}
	return "account:" + p.AccountID
}
