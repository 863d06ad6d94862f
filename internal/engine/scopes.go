package engine

import (
	"cmp"
	"context"
	"slices"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// scopePage is how many stored rows one read transaction of Entities and
// DeleteAll walks; small enough that no transaction holds the store long.
const scopePage = 500

// Entities lists the user, agent and run ids that have memories the caller
// may read, counting only those. It reads only the plaintext scope columns
// and timestamps: nothing is decrypted.
func (e *Engine) Entities(ctx context.Context) (_ []engram.ScopeEntity, err error) {
	a := e.begin(ctx, engram.AuditMemoryList, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	p, reach, err := a.can(rbac.ScopeList)
	if err != nil {
		return nil, err
	}
	type key struct{ kind, id string }
	seen := map[key]*engram.ScopeEntity{}
	note := func(kind, id string, m *store.Memory) {
		if id == "" {
			return
		}
		k := key{kind, id}
		s := seen[k]
		if s == nil {
			s = &engram.ScopeEntity{Kind: kind, ID: id, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt}
			seen[k] = s
		}
		s.Memories++
		if m.CreatedAt.Before(s.CreatedAt) {
			s.CreatedAt = m.CreatedAt
		}
		if m.UpdatedAt.After(s.UpdatedAt) {
			s.UpdatedAt = m.UpdatedAt
		}
	}
	err = e.eachMemory(ctx, p.TenantID, engram.Scope{}, filterOf(p, reach), func(m *store.Memory) error {
		note(engram.ScopeUser, m.UserID, m)
		note(engram.ScopeAgent, m.AgentID, m)
		note(engram.ScopeRun, m.RunID, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]engram.ScopeEntity, 0, len(seen))
	for _, s := range seen {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(x, y engram.ScopeEntity) int {
		return cmp.Or(cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.ID, y.ID))
	})
	return out, nil
}

// DeleteAll deletes the memories of a scope one by one through Delete, so
// each deletion has the same history, index update and audit entry as a
// single delete. Memories added after it started are left alone, and so
// are those the caller could not delete one by one (reach: a member's
// own; an operator's or admin's, the shared ones and their own).
func (e *Engine) DeleteAll(ctx context.Context, scope engram.Scope) (int, error) {
	p, reach, err := can(ctx, rbac.MemoryDeleteAll)
	if err != nil {
		// Recorded as a refused delete, like a refused single delete.
		return 0, e.begin(ctx, engram.AuditMemoryDelete, engram.TargetMemory, "").finish(err)
	}
	scope, err = cleanScope(scope)
	if err != nil {
		return 0, err
	}
	if scope.IsZero() {
		return 0, invalid("user_id, agent_id or run_id is required")
	}
	var ids []string
	if err := e.eachMemory(ctx, p.TenantID, scope, filterOf(p, reach), func(m *store.Memory) error {
		ids = append(ids, m.ID)
		return nil
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		switch err := e.Delete(ctx, id); engram.ErrorCode(err) {
		case "":
			n++
		case engram.CodeNotFound:
			// Deleted concurrently: the goal holds.
		default:
			return n, err
		}
	}
	return n, nil
}

// eachMemory calls fn for every stored memory of the tenant within scope
// that f selects, newest first, one page per read transaction.
func (e *Engine) eachMemory(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, fn func(*store.Memory) error) error {
	before := ""
	for {
		var rows []store.Memory
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			rows, err = tx.ListVisibleMemories(ctx, tenantID, scope, f, before, scopePage)
			return err
		}); err != nil {
			return err
		}
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		if len(rows) < scopePage {
			return nil
		}
		before = rows[len(rows)-1].ID
	}
}

var _ engram.ScopeService = (*Engine)(nil)
