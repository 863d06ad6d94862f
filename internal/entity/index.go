package entity

import (
	"slices"
	"strings"
	"sync"
)

// Index holds the entities of one scope (one tenant, one user) in memory,
// keyed by EntityKeys, and finds the candidates of a mention. It is the
// reference for what a store does with blinded keys: Add writes one row per
// key, Candidates looks up each of Keys(mention) and opens the entities it
// finds. An Index must never hold entities of two tenants or scopes: keys
// are plain text here, and a mention would find the other scope's entities.
//
// It is safe for concurrent use.
type Index struct {
	mu       sync.RWMutex
	entities map[string]Entity
	postings map[string]map[string]struct{} // key → entity ids
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{entities: map[string]Entity{}, postings: map[string]map[string]struct{}{}}
}

// Add indexes e under EntityKeys(e), replacing any entity with the same ID
// (so an entity that gained an alias is re-added). The entity is copied.
func (x *Index) Add(e Entity) {
	e.Aliases = slices.Clone(e.Aliases)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(e.ID)
	x.entities[e.ID] = e
	for _, k := range EntityKeys(e) {
		ids := x.postings[k]
		if ids == nil {
			ids = map[string]struct{}{}
			x.postings[k] = ids
		}
		ids[e.ID] = struct{}{}
	}
}

// Remove drops the entity with this id; an unknown id is a no-op.
func (x *Index) Remove(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(id)
}

func (x *Index) removeLocked(id string) {
	old, ok := x.entities[id]
	if !ok {
		return
	}
	for _, k := range EntityKeys(old) {
		delete(x.postings[k], id)
		if len(x.postings[k]) == 0 {
			delete(x.postings, k)
		}
	}
	delete(x.entities, id)
}

// Len returns the number of entities held.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.entities)
}

// Candidates returns the entities that share at least one key with the
// mention, sorted by ID, as copies. Type plays no part here: Resolve judges
// type compatibility, so a same-named entity of another type is still
// reported as a near candidate.
func (x *Index) Candidates(m Mention) []Entity {
	x.mu.RLock()
	defer x.mu.RUnlock()
	seen := map[string]struct{}{}
	for _, k := range Keys(m.Name) {
		for id := range x.postings[k] {
			seen[id] = struct{}{}
		}
	}
	out := make([]Entity, 0, len(seen))
	for id := range seen {
		e := x.entities[id]
		e.Aliases = slices.Clone(e.Aliases)
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entity) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Resolve is Resolve(m, x.Candidates(m)).
func (x *Index) Resolve(m Mention) Decision {
	return Resolve(m, x.Candidates(m))
}
