package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/extract"
	"github.com/engram-memory/engram/internal/extract/llm"
	"github.com/engram-memory/engram/internal/store"
)

// ConversationExtractor reads a conversation into entity mentions and
// candidate facts: an LLM (internal/extract/llm) when one is configured.
type ConversationExtractor interface {
	ExtractConversation(ctx context.Context, msgs []extract.Message) (extract.Result, error)
}

// LLMOptions configure asynchronous extraction by an LLM.
type LLMOptions struct {
	Extractor ConversationExtractor
	// Name is recorded in episodes ("llm:MODEL"); never a key or URL.
	Name string
	// Workers extract concurrently (default 2).
	Workers int
	// MaxAttempts before an episode fails for good (default 5); only
	// transient failures (timeouts, unreachable server, 429, 5xx) retry.
	MaxAttempts int
	// Budget caps the extractions a tenant may start per hour (0: no cap).
	// Over budget an episode waits, visibly, with error code
	// extractor_budget, and is extracted when the budget allows.
	Budget int
	// Timeout bounds one extraction (default 2 minutes).
	Timeout time.Duration
	// Poll is how often the queue is read for retries (default 1 s).
	Poll time.Duration
	// RetryAfter is the wait after a first failed attempt, doubling with
	// each further one up to 5 minutes (default 2 s).
	RetryAfter time.Duration
}

// WithLLMExtractor makes Observe asynchronous: it stores the turns and a
// pending episode and answers at once; workers started by StartExtraction
// run the LLM and apply its result.
func WithLLMExtractor(o LLMOptions) Option {
	return func(e *Engine) {
		if o.Workers <= 0 {
			o.Workers = 2
		}
		if o.MaxAttempts <= 0 {
			o.MaxAttempts = 5
		}
		if o.Timeout <= 0 {
			o.Timeout = 2 * time.Minute
		}
		if o.Poll <= 0 {
			o.Poll = time.Second
		}
		if o.Name == "" {
			o.Name = "llm"
		}
		if o.RetryAfter <= 0 {
			o.RetryAfter = 2 * time.Second
		}
		e.llm = &llmQueue{opts: o, wake: make(chan struct{}, 1), inflight: map[string]bool{}, spent: map[string][]time.Time{}}
	}
}

// llmQueue is the state of asynchronous extraction on this node. The
// queue itself is the store (episodes with status pending), so a restart
// or another node picks up what was left.
type llmQueue struct {
	opts     LLMOptions
	wake     chan struct{}
	mu       sync.Mutex
	inflight map[string]bool
	spent    map[string][]time.Time // tenant -> extraction starts in the last hour
}

func (q *llmQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// allow takes one extraction from the tenant's hourly budget.
func (q *llmQueue) allow(tenantID string, now time.Time) bool {
	if q.opts.Budget <= 0 {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	recent := q.spent[tenantID][:0]
	for _, t := range q.spent[tenantID] {
		if now.Sub(t) < time.Hour {
			recent = append(recent, t)
		}
	}
	if len(recent) >= q.opts.Budget {
		q.spent[tenantID] = recent
		return false
	}
	q.spent[tenantID] = append(recent, now)
	return true
}

// backoff is how long a pending episode waits after n failed attempts.
func (q *llmQueue) backoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := q.opts.RetryAfter << min(n-1, 8)
	return min(d, 5*time.Minute)
}

// StartExtraction runs the extraction workers until ctx ends (a no-op
// without an LLM extractor); wait returns once they stopped, so the store
// can close after it. Episodes left pending by a crash or another node are
// picked up.
func (e *Engine) StartExtraction(ctx context.Context) (wait func()) {
	q := e.llm
	if q == nil {
		return func() {}
	}
	stopped := make(chan struct{})
	jobs := make(chan store.Episode)
	var wg sync.WaitGroup
	for range q.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ep := range jobs {
				e.extractEpisode(ctx, ep)
				q.mu.Lock()
				delete(q.inflight, ep.ID)
				q.mu.Unlock()
				q.signal()
			}
		}()
	}
	go func() {
		defer func() { close(jobs); wg.Wait(); close(stopped) }()
		t := time.NewTicker(q.opts.Poll)
		defer t.Stop()
		for {
			e.dispatch(ctx, jobs)
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
			case <-t.C:
			}
		}
	}()
	return func() { <-stopped }
}

// dispatch hands the due pending episodes to the workers.
func (e *Engine) dispatch(ctx context.Context, jobs chan<- store.Episode) {
	q := e.llm
	var eps []store.Episode
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		eps, err = tx.PendingEpisodes(ctx, 200)
		return err
	}); err != nil {
		return
	}
	now := e.clock()
	for _, ep := range eps {
		if ep.Extractor == extractorBuiltin || now.Before(ep.UpdatedAt.Add(q.backoff(ep.Attempts))) {
			continue
		}
		q.mu.Lock()
		busy := q.inflight[ep.ID]
		if !busy {
			q.inflight[ep.ID] = true
		}
		q.mu.Unlock()
		if busy {
			continue
		}
		select {
		case jobs <- ep:
		case <-ctx.Done():
			return
		}
	}
}

// errorCode classifies an extraction failure: a stable code, and whether
// trying again may help.
func errorCode(err error) (code string, transient bool) {
	var se *llm.StatusError
	var ne net.Error
	switch {
	case errors.Is(err, llm.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return "extractor_timeout", true
	case errors.As(err, &se):
		return "extractor_unavailable", se.Status == 429 || se.Status >= 500
	case errors.Is(err, llm.ErrTransport), errors.As(err, &ne):
		return "extractor_unavailable", true
	case errors.Is(err, llm.ErrMalformed), errors.Is(err, llm.ErrRefused):
		return "extractor_invalid_output", false
	}
	return "extractor_failed", false
}

// extractEpisode runs the LLM on one pending episode and records the
// outcome. Every outcome is visible on the episode: done, failed with a
// code, or pending with the code of the last failure.
func (e *Engine) extractEpisode(ctx context.Context, ep store.Episode) {
	q := e.llm
	// The dispatcher's list may predate an attempt that finished since
	// (its worker cleared the in-flight mark after committing): check the
	// episode is still the one listed before spending a model call on it.
	fresh := false
	_ = e.st.Read(ctx, func(tx store.Tx) error {
		cur, err := tx.Episode(ctx, ep.TenantID, ep.ID)
		fresh = err == nil && cur.Status == engram.EpisodePending && cur.Attempts == ep.Attempts &&
			cur.UpdatedAt.Equal(ep.UpdatedAt)
		return nil
	})
	if !fresh {
		return
	}
	o := e.opener(ctx, ep.TenantID)
	msgs, err := o.episodeMessages(&ep)
	if err != nil || msgs == nil {
		// Erased meanwhile (then there is nothing to record: recording
		// would fetch, and so re-create, the erased user's key), or
		// unreadable: nothing can be extracted.
		gone := false
		_ = e.st.Read(ctx, func(tx store.Tx) error {
			_, err := tx.Episode(ctx, ep.TenantID, ep.ID)
			gone = isNotFound(err)
			return nil
		})
		if !gone {
			e.finishEpisode(ctx, ep, engram.EpisodeFailed, "unreadable", nil)
		}
		return
	}
	if !q.allow(ep.TenantID, e.clock()) {
		if ep.ErrorCode != "extractor_budget" {
			e.finishEpisode(ctx, ep, engram.EpisodePending, "extractor_budget", nil)
		}
		return
	}
	in := make([]extract.Message, len(msgs))
	for i, m := range msgs {
		in[i] = extract.Message{Role: m.Role, Name: m.Name, Text: m.Content}
		if m.Timestamp != nil {
			in[i].Time = *m.Timestamp
		}
	}
	xctx, cancel := context.WithTimeout(ctx, q.opts.Timeout)
	res, err := q.opts.Extractor.ExtractConversation(xctx, in)
	cancel()
	if ctx.Err() != nil {
		return // shutting down: the episode stays pending for the next start
	}
	if err != nil {
		code, transient := errorCode(err)
		status := engram.EpisodePending
		if !transient || ep.Attempts+1 >= q.opts.MaxAttempts {
			status = engram.EpisodeFailed
		}
		e.finishEpisode(ctx, ep, status, code, nil)
		return
	}
	e.finishEpisode(ctx, ep, engram.EpisodeDone, "", &pendingResult{in: in, res: res})
}

type pendingResult struct {
	in  []extract.Message
	res extract.Result
}

// finishEpisode records an attempt's outcome, applying the extraction when
// there is one, in one transaction that first checks the episode is still
// the pending one this worker read (another node, or an erasure, may have
// moved it on).
func (e *Engine) finishEpisode(ctx context.Context, seen store.Episode, status, code string, pr *pendingResult) {
	var prev episodeResult
	if err := json.Unmarshal(seen.Result, &prev); err != nil {
		return
	}
	mems := make([]engram.AddResult, len(prev.Memories))
	for i, m := range prev.Memories {
		mems[i] = engram.AddResult{ID: m.ID, Event: m.Event}
	}
	var vecs map[string][]float32
	var b *blinds
	var err error
	if pr != nil {
		if vecs, err = e.factVectors(ctx, pr.res.Facts); err != nil {
			status, code, pr = engram.EpisodePending, "extractor_failed", nil
		}
	}
	if b, err = e.blinds(ctx, seen.TenantID); err != nil {
		return
	}
	scope := engram.Scope{UserID: seen.UserID, AgentID: seen.AgentID, RunID: seen.RunID}
	err = retry(func() error {
		w, err := e.writer(ctx, seen.TenantID, seen.Subject)
		if err != nil {
			return err
		}
		tk, err := e.ring.TenantKey(ctx, seen.TenantID)
		if err != nil {
			return keyFailure(err)
		}
		return e.st.Write(ctx, func(tx store.Tx) error {
			if err := w.check(ctx, tx); err != nil {
				return err
			}
			cur, err := tx.Episode(ctx, seen.TenantID, seen.ID)
			if err != nil {
				return err
			}
			if cur.Status != engram.EpisodePending || cur.Attempts != seen.Attempts {
				return errStale
			}
			now := e.clock()
			cur.Status, cur.ErrorCode, cur.UpdatedAt = status, code, now
			if code != "extractor_budget" {
				cur.Attempts++
			}
			if pr != nil {
				plan, err := e.understand(ctx, tx, w, tk, b, scope, cur.ID, pr.in, pr.res, mems, vecs, now)
				if err != nil {
					return err
				}
				cur.Result = encodeEpisodeResult(plan, mems)
				discard, err := e.discardText(ctx, tx, cur.TenantID)
				if err != nil {
					return err
				}
				if discard {
					cur.Messages = nil
				}
			}
			return tx.UpdateEpisode(ctx, cur)
		})
	})
	if errors.Is(err, errStale) || isNotFound(err) {
		return
	}
	if status != engram.EpisodePending || err != nil {
		if err == nil && status == engram.EpisodeFailed {
			err = engram.Errorf(engram.CodeUnavailable, "extraction failed: %s", code)
		}
		actx := engram.WithOrigin(ctx, engram.Origin{Transport: "extractor"})
		_ = e.operator(actx, seen.TenantID, engram.AuditEpisodeExtract, engram.TargetEpisode, seen.ID, err)
	}
}

var errStale = fmt.Errorf("engine: episode changed since it was read")
