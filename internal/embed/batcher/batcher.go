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
	ctx    context.Context
	texts  []string
	wantSt bool          // EmbedStates
	vecs   [][]float32   // Embed's answer
	states []embed.State // EmbedStates' answer
	err    error
	done   chan error
	lead   bool // handed the lead (under Batcher.mu)
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
	if len(texts) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return b.emb.Embed(ctx, texts)
	}
	c, err := b.do(ctx, texts, false)
	if err != nil {
		return nil, err
	}
	return c.vecs, nil
}

// States is the wrapped embedder as an embed.StateEmbedder, or nil when it
// is not one.
func (b *Batcher) States() embed.StateEmbedder {
	if _, ok := b.emb.(embed.StateEmbedder); !ok {
		return nil
	}
	return stateBatcher{b}
}

// stateBatcher is a Batcher whose embedder computes states: EmbedStates
// calls share passes with Embed calls (a pass with any of them computes
// states, and finishes the Embed callers' texts alone, which gives the
// same vectors).
type stateBatcher struct{ *Batcher }

var _ embed.StateEmbedder = stateBatcher{}

// EmbedStates returns one state per text, in order, as the wrapped
// embedder would; it fails as Embed does.
func (b stateBatcher) EmbedStates(ctx context.Context, texts []string) ([]embed.State, error) {
	if len(texts) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, nil
	}
	c, err := b.do(ctx, texts, true)
	if err != nil {
		return nil, err
	}
	return c.states, nil
}

// Mix is the wrapped embedder's (no model pass: not batched).
func (b stateBatcher) Mix(s embed.State, ctx []embed.State, w []float32) []float32 {
	return b.emb.(embed.StateEmbedder).Mix(s, ctx, w)
}

// do queues one call and waits for its answer.
func (b *Batcher) do(ctx context.Context, texts []string, states bool) (*call, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &call{ctx: ctx, texts: texts, wantSt: states, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if b.running {
		b.mu.Unlock()
		select {
		case err := <-c.done:
			if err != errLead { // answered: c.vecs, c.states or c.err
				return c, c.err
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
	return c, c.err
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
		c.err = b.embed(c.ctx, []*call{c})
		return
	}
	// The pass stops only when every caller in it has gone.
	pctx, cancel := context.WithCancel(context.WithoutCancel(batch[0].ctx))
	defer cancel()
	var (
		mu   sync.Mutex
		left = len(batch)
	)
	for _, c := range batch {
		stop := context.AfterFunc(c.ctx, func() {
			mu.Lock()
			defer mu.Unlock()
			if left--; left == 0 {
				cancel()
			}
		})
		defer stop()
	}
	if b.embed(pctx, batch) == nil {
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
			c.err = b.embed(c.ctx, []*call{c})
		}()
	}
	wg.Wait()
}

// embed runs one pass of the wrapped embedder over the texts of calls
// and sets their vecs or states; with an embed.StateEmbedder and any call
// wanting states, the pass computes states and finishes the others'.
func (b *Batcher) embed(ctx context.Context, calls []*call) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var texts []string
	states := false
	for _, c := range calls {
		texts = append(texts, c.texts...)
		states = states || c.wantSt
	}
	if se, ok := b.emb.(embed.StateEmbedder); ok && states {
		sts, err := se.EmbedStates(ctx, texts)
		if err != nil {
			return err
		}
		if len(sts) != len(texts) {
			return errWrongCount
		}
		for _, c := range calls {
			c.states, sts = sts[:len(c.texts):len(c.texts)], sts[len(c.texts):]
			if !c.wantSt {
				c.vecs = make([][]float32, len(c.states))
				for i, s := range c.states {
					c.vecs[i] = se.Mix(s, nil, nil)
				}
				c.states = nil
			}
		}
		return nil
	}
	vecs, err := b.emb.Embed(ctx, texts)
	if err != nil {
		return err
	}
	if len(vecs) != len(texts) {
		return errWrongCount
	}
	for _, c := range calls {
		c.vecs, vecs = vecs[:len(c.texts):len(c.texts)], vecs[len(c.texts):]
	}
	return nil
}

var errWrongCount = errors.New("batcher: the embedder returned a wrong number of vectors")
