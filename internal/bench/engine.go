package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
)

// EngineSystem runs the benchmark through the engine's real write and
// search paths (validation, encryption, blind index, embeddings, vector
// index): one tenant per conversation, so nothing crosses between them.
type EngineSystem struct {
	Engine *engine.Engine
	// Mode is engram.SearchHybrid, SearchBM25 or SearchVector.
	Mode string
	// Threshold is the searches' threshold (nil: the engine's default).
	Threshold *float64

	mu      sync.Mutex
	tenants map[string]context.Context // conversation → context with its owner
}

var _ System = (*EngineSystem)(nil)

// Ingest creates the conversation's tenant and adds each turn as a memory
// with its time and dia_id.
func (s *EngineSystem) Ingest(ctx context.Context, conv Conversation) error {
	nt, err := s.Engine.CreateTenant(ctx, "locomo-"+strings.ToLower(conv.ID))
	if err != nil {
		return fmt.Errorf("tenant for %s: %w", conv.ID, err)
	}
	p, err := s.Engine.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		return err
	}
	pctx := engram.WithPrincipal(ctx, p)
	for _, t := range conv.Turns {
		at := t.Time
		if _, err := s.Engine.Add(pctx, engram.AddRequest{Content: t.Content(), Metadata: t.Metadata(), Timestamp: &at}); err != nil {
			return fmt.Errorf("%s %s: %w", conv.ID, t.DiaID, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tenants == nil {
		s.tenants = map[string]context.Context{}
	}
	s.tenants[conv.ID] = pctx
	return nil
}

// Search asks the question in the conversation's tenant and maps results
// back to dia_ids.
func (s *EngineSystem) Search(_ context.Context, conv, question string, k int) ([]string, error) {
	s.mu.Lock()
	pctx, ok := s.tenants[conv]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("conversation %s was not ingested", conv)
	}
	hits, err := s.Engine.Search(pctx, engram.SearchRequest{Query: question, Limit: k, Mode: s.Mode, Threshold: s.Threshold})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(hits))
	for _, h := range hits {
		if id, ok := h.Metadata["dia_id"].(string); ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
