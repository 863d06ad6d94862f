package engine

import (
	"context"
	"reflect"
	"unicode/utf8"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/store"
)

// filterOverfetch is how many more candidates than asked for a filtered
// search ranks, because metadata is sealed and filtered after decryption.
const filterOverfetch = 10

func (e *Engine) blinder(ctx context.Context, tenantID string) (*fulltext.Blinder, error) {
	k, err := e.ring.Derived(ctx, tenantID, keys.PurposeSearch)
	if err != nil {
		return nil, err
	}
	return fulltext.NewBlinder(k)
}

// Search ranks the memories in scope against the query with BM25 over blind
// tokens: the store sees only keyed hashes of the query's terms.
func (e *Engine) Search(ctx context.Context, req engram.SearchRequest) ([]engram.SearchHit, error) {
	p, err := authorize(ctx, engram.PermMemoriesRead)
	if err != nil {
		return nil, err
	}
	if !utf8.ValidString(req.Query) || len(req.Query) == 0 {
		return nil, invalid("query must be non-empty UTF-8")
	}
	if len(req.Query) > engram.MaxQueryBytes {
		return nil, invalid("query is longer than %d bytes", engram.MaxQueryBytes)
	}
	if err := checkScope(req.Scope); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, engram.DefaultSearchLimit, engram.MaxSearchLimit)
	if err != nil {
		return nil, err
	}
	if _, err := encodeMetadata(req.Filters); err != nil {
		return nil, invalid("filters: %s", engram.ErrorMessage(err))
	}
	b, err := e.blinder(ctx, p.TenantID)
	if err != nil {
		return nil, keyFailure(err)
	}
	terms := fulltext.QueryTerms(req.Query)
	hits := []engram.SearchHit{}
	if len(terms) == 0 {
		return hits, nil
	}
	tokens := make([][]byte, len(terms))
	for i, t := range terms {
		tokens[i] = b.Token(t)
	}
	want := limit
	if len(req.Filters) > 0 {
		want = limit * filterOverfetch
	}
	var ranked []fulltext.Hit
	var rows []store.Memory
	err = e.st.Read(ctx, func(tx store.Tx) error {
		postings, err := tx.SearchPostings(ctx, p.TenantID, req.Scope, tokens)
		if err != nil {
			return err
		}
		ranked = fulltext.BM25(postings, tokens, want)
		ids := make([]string, len(ranked))
		for i, h := range ranked {
			ids[i] = h.MemoryID
		}
		rows, err = tx.Memories(ctx, p.TenantID, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*store.Memory, len(rows))
	for i := range rows {
		byID[rows[i].ID] = &rows[i]
	}
	o := e.opener(ctx, p.TenantID)
	for _, h := range ranked {
		row, ok := byID[h.MemoryID]
		if !ok {
			continue
		}
		m, err := o.memory(row)
		if err != nil {
			return nil, err
		}
		if !matches(m.Metadata, req.Filters) {
			continue
		}
		hits = append(hits, engram.SearchHit{Memory: *m, Score: h.Score})
		if len(hits) == limit {
			break
		}
	}
	return hits, nil
}

// matches reports whether metadata holds every filter key with an equal
// value (JSON equality: numbers compare as float64).
func matches(md, filters map[string]any) bool {
	for k, want := range filters {
		got, ok := md[k]
		if !ok || !reflect.DeepEqual(got, want) {
			return false
		}
	}
	return true
}
