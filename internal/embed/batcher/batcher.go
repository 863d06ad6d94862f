// Package batcher shares an embedding model's passes among concurrent
// callers. A model computes many texts in one pass far faster per text than
// one at a time (the built-in model runs its matrix products on all cores
// only when there are enough rows), and a server embeds one search query or
// one memory per request: concurrent requests are merged into one Embed
// call.
//
// There is no timer and no goroutine. The first caller with no pass running
// becomes the leader and embeds what is queued, its own texts included;
// callers arriving meanwhile queue up, and when the pass ends the oldest of
// them takes the lead and embeds the whole queue at once. A lone caller
// embeds at once, so an idle server adds no latency; under load each caller
// waits at most for the pass in progress and then its own.
package batcher

import (
	"context"
	"errors"
	"sync"

	"github.com/engram-memory/engram/internal/embed"
)

// DefaultMaxTexts bounds the texts of one merged pass (a single call with
// more is still embedded whole, alone).
const DefaultMaxTexts = 256

// Batcher wraps an embedder; it is an embed.Embedder itself and safe for
// concurrent use.
type Batcher struct {
	emb embed.Embedder
	max int

	mu      sync.Mutex
	running bool    // a leader is embedding
	queue   []*call // waiting, oldest first
}

var _ embed.Embedder = (*Batcher)(nil)

// call is one caller's Embed. done receives exactly one value: nil when
// vecs or err is set, or errLead when the caller must lead.
type call struct {
	ctx   context.Context
	texts []string
	vecs  [][]float32
	err   error
	done  chan error
	lead  bool // handed the lead (under Batcher.mu)
}

// errLead is the hand-off signal, never returned to callers.
var errLead = errors.New("batcher: take the lead")

// errAborted is what waiters get when the leader's pass panicked.
var errAborted = errors.New("batcher: the embedding pass was aborted")

// New wraps emb; max bounds the texts merged into one pass (0: DefaultMaxTexts).
func New(emb embed.Embedder, max int) *Batcher {
	if max <= 0 {
		max = DefaultMaxTexts
	}
	return &Batcher{emb: emb, max: max}
}

// Model is the wrapped model's.
func (b *Batcher) Model() string { return b.emb.Model() }

// Dim is the wrapped model's.
func (b *Batcher) Dim() int { return b.emb.Dim() }

// Embed returns one vector per text, in order, exactly as the wrapped
// embedder would for texts alone. It fails as a whole: with ctx.Err() when
// ctx ends while the call waits for a pass (the pass goes on for the other
// callers in it; it stops when they have all gone), or with the wrapped embedder's error for these texts. A
// pass that fails is retried call by call, so one caller's texts never
// fail another's.
func (b *Batcher) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(texts) == 0 {
		return b.emb.Embed(ctx, texts)
	}
	c := &call{ctx: ctx, texts: texts, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if b.running {
		b.mu.Unlock()
		select {
		case err := <-c.done:
			if err != errLead {
				return c.vecs, err
			}
		case <-ctx.Done():
			// Out of the queue (a lead just handed to it passes on), or
			// already in a pass whose answer nobody needs to wait for.
			b.withdraw(c)
			return nil, ctx.Err()
		}
		b.mu.Lock()
	}
	b.running = true
	batch := b.take()
	b.mu.Unlock()
	b.lead(batch)
	<-c.done // c is in batch: the first one queued
	return c.vecs, c.err
}

// withdraw takes a cancelled caller out of the queue, if it is still
// there; if it had just been handed the lead, the lead passes on.
func (b *Batcher) withdraw(c *call) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, q := range b.queue {
		if q == c {
			b.queue = append(b.queue[:i], b.queue[i+1:]...)
			if c.lead {
				b.handOff()
			}
			return
		}
	}
}

// take removes the next pass's calls from the queue: the oldest call, and
// those after it while the texts fit in b.max. Called with b.mu held.
func (b *Batcher) take() []*call {
	n, texts := 0, 0
	for n < len(b.queue) && (n == 0 || texts+len(b.queue[n].texts) <= b.max) {
		texts += len(b.queue[n].texts)
		n++
	}
	batch := append([]*call(nil), b.queue[:n]...)
	b.queue = append(b.queue[:0], b.queue[n:]...)
	return batch
}

// handOff passes the lead to the oldest waiting caller, or ends the
// running state. Called with b.mu held.
func (b *Batcher) handOff() {
	if len(b.queue) == 0 {
		b.running = false
		return
	}
	next := b.queue[0]
	next.lead = true
	next.done <- errLead
}

// lead embeds batch and answers every call in it, then passes the lead on.
func (b *Batcher) lead(batch []*call) {
	answered := false
	defer func() {
		if !answered { // a panic below: nobody in the batch may hang
			for _, c := range batch {
				c.err = errAborted
				c.done <- nil
			}
		}
		b.mu.Lock()
		b.handOff()
		b.mu.Unlock()
	}()
	b.run(batch)
	answered = true
	for _, c := range batch {
		c.done <- nil
	}
}

// run sets vecs or err of every call in batch.
func (b *Batcher) run(batch []*call) {
	if len(batch) == 1 {
		c := batch[0]
		c.vecs, c.err = b.embed(c.ctx, c.texts)
		return
	}
	// The pass stops only when every caller in it has gone.
	pctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	defer cancel()
	var (
		mu   sync.Mutex
		left = len(batch)
	)
	var texts []string
	for _, c := range batch {
		texts = append(texts, c.texts...)
		stop := context.AfterFunc(c.ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if left--; left == 0 {
				cancel()
			}
		})
		defer stop()
	}
	vecs, err := b.embed(pctx, texts)
	if err == nil {
		for _, c := range batch {
			c.vecs, vecs = vecs[:len(c.texts):len(c.texts)], vecs[len(c.texts):]
		}
		return
	}
	// One call's texts may be what failed (an API that refuses one of
	// them): each call is tried alone, side by side, and gets its own
	// answer.
	var wg sync.WaitGroup
	for _, c := range batch {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.vecs, c.err = b.embed(c.ctx, c.texts)
		}()
	}
	wg.Wait()
}

// embed calls the wrapped embedder and checks its answer's length.
func (b *Batcher) embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	vecs, err := b.emb.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(texts) {
		return nil, errors.New("batcher: the embedder returned a wrong number of vectors")
	}
	return vecs, nil
}
