package store

import (
	"context"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
)

// VisibilityTx reads memories as one actor may see them: a memory has an
// author and is shared or private (docs/IDENTITY.md, "RBAC enforcement"),
// and f (rbac.Filter) says which of them the actor may read. The filter is
// part of the query, before ordering and limits, so a page is never short
// of records the actor may see. The methods without a filter
// (ListMemories, SearchPostings, MemoryByMAC) see everything: the
// operator's paths and reach Any.
type VisibilityTx interface {
	// ListVisibleMemories is ListMemories restricted to f.
	ListVisibleMemories(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, before string, limit int) ([]Memory, error)
	// SearchVisiblePostings is SearchPostings whose matches are restricted
	// to f. The corpus statistics (Docs, TotalLen) stay the scope's, so a
	// memory scores the same whoever searches.
	SearchVisiblePostings(ctx context.Context, tenantID string, scope engram.Scope, f rbac.Filter, tokens [][]byte) (*Postings, error)
	// MemoryByMACAs is MemoryByMAC among the memories a write by authorID
	// with this visibility would duplicate: the shared ones when shared,
	// the author's private ones when private.
	MemoryByMACAs(ctx context.Context, tenantID string, scope engram.Scope, mac []byte, authorID string, private bool) (*Memory, error)
}

// RecordOf is a memory as internal/rbac judges it.
func RecordOf(m *Memory) rbac.Record { return rbac.Record{AuthorID: m.AuthorID, Private: m.Private} }
