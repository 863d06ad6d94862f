package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

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
	// Observe ingests each session through Observe (its turns with the
	// speakers' names and times, so entities, facts and mentions exist)
	// instead of one Add per turn. The memories' text is the same.
	Observe bool

	mu      sync.Mutex
	tenants map[string]context.Context // conversation → context with its owner
	// diaIDs maps the memories Observe wrote to their turns: an episode's
	// metadata is shared by all its turns, so they cannot carry dia_id.
	diaIDs map[string]string
	// observeLat holds, per Observe call, its time divided by its turns.
	observeLat []time.Duration
}

var _ System = (*EngineSystem)(nil)

// Ingest creates the conversation's tenant and adds each turn as a memory
// with its time and dia_id (through Observe when s.Observe).
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
	if s.Observe {
		if err := s.observe(pctx, conv); err != nil {
			return err
		}
	} else {
		for _, t := range conv.Turns {
			at := t.Time
			if _, err := s.Engine.Add(pctx, engram.AddRequest{Content: t.Content(), Metadata: t.Metadata(), Timestamp: &at}); err != nil {
				return fmt.Errorf("%s %s: %w", conv.ID, t.DiaID, err)
			}
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
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, h := range hits {
		if id, ok := h.Metadata["dia_id"].(string); ok {
			ids = append(ids, id)
		} else if id, ok := s.diaIDs[h.ID]; ok {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// observe sends each session of conv to Observe, at most
// engram.MaxMessages turns a call, each turn with its speaker's name and
// time and the protocol's memory text (Turn.Content), and records which
// memory holds which turn.
func (s *EngineSystem) observe(ctx context.Context, conv Conversation) error {
	var batch []Turn
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		msgs := make([]engram.ObserveMessage, len(batch))
		for i, t := range batch {
			at := t.Time
			msgs[i] = engram.ObserveMessage{Role: "user", Content: t.Content(), Name: t.Speaker, Timestamp: &at}
		}
		t0 := time.Now()
		ep, err := s.Engine.Observe(ctx, engram.ObserveRequest{Messages: msgs, Metadata: map[string]any{"session": batch[0].Session}})
		lat := time.Since(t0)
		if err != nil {
			return fmt.Errorf("%s session %d: %w", conv.ID, batch[0].Session, err)
		}
		if len(ep.Memories) != len(batch) {
			return fmt.Errorf("%s session %d: %d memories for %d turns", conv.ID, batch[0].Session, len(ep.Memories), len(batch))
		}
		s.mu.Lock()
		if s.diaIDs == nil {
			s.diaIDs = map[string]string{}
		}
		for i, m := range ep.Memories {
			if _, dup := s.diaIDs[m.ID]; !dup { // a repeated turn keeps its first, as Add's metadata does
				s.diaIDs[m.ID] = batch[i].DiaID
			}
		}
		s.observeLat = append(s.observeLat, lat/time.Duration(len(batch)))
		s.mu.Unlock()
		batch = batch[:0]
		return nil
	}
	for _, t := range conv.Turns {
		if len(batch) > 0 && (t.Session != batch[0].Session || len(batch) == engram.MaxMessages) {
			if err := flush(); err != nil {
				return err
			}
		}
		batch = append(batch, t)
	}
	return flush()
}

// ObserveLatency summarises the time of an Observe call per turn it
// carried (zero when ingest used Add).
func (s *EngineSystem) ObserveLatency() Latency {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Summarise(s.observeLat)
}
