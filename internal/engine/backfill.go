package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/store"
)

// Publication to the audit sinks is at-least-once, from the chain itself
// (a transactional outbox whose outbox is the chain): entries are
// published inline, right after their commit, and a back-fill pass in the
// background publishes whatever was not, in seq order. That covers the
// entries of offline operator commands (another process, no sinks), a
// crash between a commit and its publish, and entries no sink accepted.
//
// Each chain has a publication watermark in the store: every entry up to
// it was accepted by at least one sink. The request path never writes it;
// it only notes in memory which seqs above it a sink accepted inline. A
// pass walks each chain from its watermark, skips the noted seqs,
// publishes the rest and then raises the watermark over the contiguous
// prefix it covered, in one write per pass (or per backfillPage entries).
// It stops at the first entry no sink accepts, so the watermark never
// passes an entry that no sink has.
//
// An entry is re-published by a pass only once it is settled: committed
// before the previous pass read the chain's head (or before the engine
// started). A younger entry may still have its inline publish in flight;
// publishing it too would only make a duplicate, so the pass leaves it,
// and everything after it, to the next pass. An offline entry therefore
// reaches the sinks within two intervals of the loop, one at startup.

const (
	// backfillPage bounds one read of a chain, and the entries covered
	// between two writes of the watermarks.
	backfillPage = 500
	// maxInline bounds the seqs noted per chain between two passes (about
	// 2 MB at most per chain). Beyond it inline publications go unnoted
	// and the pass publishes them again: duplicates, never a loss.
	maxInline = 1 << 16
)

// errNotAccepted is why a pass stops when a best-effort sink refused an
// entry without an error of its own.
var errNotAccepted = errors.New("no sink accepted the entry")

// backfill is the engine's publication state. The zero value is ready.
type backfill struct {
	pass sync.Mutex // one pass at a time

	mu     sync.Mutex
	chains map[string]*pubChain
	passes uint64 // passes started, under mu

	published atomic.Uint64 // entries the back-fill published
}

// pubChain is what the engine knows of one chain's publication.
type pubChain struct {
	mark    uint64              // the stored watermark, as last read or written
	settled uint64              // the head the previous pass read (or Start): older entries are not in flight
	inline  map[uint64]struct{} // seqs above mark a sink accepted inline
	born    uint64              // the pass count when this state was made
}

// chain returns the state of a chain, made on first use. Call with mu held.
func (b *backfill) chain(tenantID string) *pubChain {
	if b.chains == nil {
		b.chains = map[string]*pubChain{}
	}
	c := b.chains[tenantID]
	if c == nil {
		c = &pubChain{inline: map[uint64]struct{}{}, born: b.passes}
		b.chains[tenantID] = c
	}
	return c
}

// noted records that a sink accepted the chain's entry seq: the pass will
// not publish it again. No I/O: this runs on the request path.
func (b *backfill) noted(tenantID string, seq uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.chain(tenantID)
	if seq > c.mark && len(c.inline) < maxInline {
		c.inline[seq] = struct{}{}
	}
}

// raise moves the chain's known watermark up to seq and forgets the
// noted seqs it covers. Call with mu held.
func (c *pubChain) raise(seq uint64) {
	if seq <= c.mark {
		return
	}
	c.mark = seq
	for s := range c.inline {
		if s <= seq {
			delete(c.inline, s)
		}
	}
}

// deliver hands one entry to the sink and says whether a destination
// accepted it (audit.AckSink; otherwise a nil error counts as accepted).
func (e *Engine) deliver(ctx context.Context, r *store.AuditRecord) (bool, error) {
	js := audit.JSON(&r.Entry, r.KeyVersion, r.MAC)
	if a, ok := e.sink.(audit.AckSink); ok {
		return a.PublishAck(ctx, r.Entry.TenantID, r.Entry.Seq, js)
	}
	err := e.sink.Publish(ctx, r.Entry.TenantID, r.Entry.Seq, js)
	return err == nil, err
}

// primeBackfill reads every chain's head and watermark at start: what is
// already committed has no inline publish in flight, so the first pass
// publishes it at once.
func (e *Engine) primeBackfill(ctx context.Context) error {
	var marks []store.AuditWatermark
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		marks, err = tx.AuditWatermarks(ctx)
		return err
	}); err != nil {
		return fmt.Errorf("audit watermarks: %w", err)
	}
	b := &e.pub
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, w := range marks {
		c := b.chain(w.TenantID)
		c.raise(w.Published)
		c.settled = max(c.settled, w.Head)
	}
	return nil
}

// BackfillAudit runs one back-fill pass over every chain and returns the
// number of entries it published. Without a sink it does nothing. Errors
// (a store failure, a chain whose next entry no sink accepted, a gap that
// retention does not explain) are joined; the pass goes on with the other
// chains, and the next pass retries.
func (e *Engine) BackfillAudit(ctx context.Context) (int, error) {
	if e.sink == nil {
		return 0, nil
	}
	b := &e.pub
	b.pass.Lock()
	defer b.pass.Unlock()
	b.mu.Lock()
	b.passes++
	pass := b.passes
	b.mu.Unlock()

	var marks []store.AuditWatermark
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		marks, err = tx.AuditWatermarks(ctx)
		return err
	}); err != nil {
		return 0, fmt.Errorf("audit back-fill: %w", err)
	}
	p := &backfillPass{e: e, ctx: ctx, marks: map[string]uint64{}}
	live := make(map[string]bool, len(marks))
	for _, w := range marks {
		live[w.TenantID] = true
		if ctx.Err() != nil {
			break
		}
		if err := p.chain(w); err != nil {
			p.errs = append(p.errs, err)
		}
	}
	if err := p.flush(); err != nil {
		p.errs = append(p.errs, err)
	}

	// Chains erased since (their tenant forgotten) leave no state behind;
	// a chain whose state appeared after this pass read the heads is kept.
	b.mu.Lock()
	for id, c := range b.chains {
		if !live[id] && c.born < pass {
			delete(b.chains, id)
		}
	}
	b.mu.Unlock()
	return p.published, errors.Join(p.errs...)
}

// backfillPass is the work of one pass.
type backfillPass struct {
	e         *Engine
	ctx       context.Context
	marks     map[string]uint64 // watermarks to write
	unwritten int               // entries covered since the last write
	published int
	errs      []error
}

// chain publishes what the chain lacks above its watermark, in seq order,
// up to the first entry that is neither noted nor settled, or that no
// sink accepts.
func (p *backfillPass) chain(w store.AuditWatermark) error {
	b := &p.e.pub
	b.mu.Lock()
	c := b.chain(w.TenantID)
	c.raise(w.Published)
	after, settled := c.mark, c.settled
	c.settled = max(c.settled, w.Head) // for the next pass
	b.mu.Unlock()

	for after < w.Head {
		var page []store.AuditRecord
		if err := p.e.st.Read(p.ctx, func(tx store.Tx) (err error) {
			page, err = tx.AuditRange(p.ctx, w.TenantID, after, backfillPage)
			return err
		}); err != nil {
			return fmt.Errorf("audit back-fill: chain %q: %w", w.TenantID, err)
		}
		if len(page) == 0 {
			return nil // erased meanwhile
		}
		for i := range page {
			r := &page[i]
			seq := r.Entry.Seq
			if seq != after+1 {
				if err := p.e.checkGap(p.ctx, w.TenantID, after, seq); err != nil {
					// Reported, and passed: the receivers see the gap the
					// chain has, and the rest of the chain still flows.
					p.errs = append(p.errs, err)
				}
			}
			b.mu.Lock()
			_, inline := c.inline[seq]
			b.mu.Unlock()
			if !inline {
				if seq > settled {
					// Possibly in flight inline: the next pass decides.
					p.cover(w.TenantID, after)
					return nil
				}
				accepted, err := p.e.deliver(p.ctx, r)
				if !accepted {
					p.cover(w.TenantID, after)
					cause := errors.Join(err, p.ctx.Err())
					if cause == nil { // best-effort: the Dispatcher logged each sink's error
						cause = errNotAccepted
					}
					return fmt.Errorf("audit back-fill: chain %q stopped at seq %d; retrying later: %w", w.TenantID, seq, cause)
				}
				p.published++
				b.published.Add(1)
			}
			after = seq
			p.unwritten++
		}
		p.cover(w.TenantID, after)
		if p.unwritten >= backfillPage {
			if err := p.flush(); err != nil {
				return err
			}
		}
		if len(page) < backfillPage {
			return nil
		}
	}
	return nil
}

// cover queues the chain's new watermark for the next write.
func (p *backfillPass) cover(tenantID string, seq uint64) {
	if seq > p.marks[tenantID] {
		p.marks[tenantID] = seq
	}
}

// flush writes the queued watermarks in one transaction, then forgets the
// noted seqs they cover. Until the write commits, memory keeps the old
// watermark: a failed write costs duplicates at the next pass, not a loss.
func (p *backfillPass) flush() error {
	b := &p.e.pub
	b.mu.Lock()
	for id, seq := range p.marks {
		if c := b.chains[id]; c != nil && seq <= c.mark {
			delete(p.marks, id)
		}
	}
	b.mu.Unlock()
	p.unwritten = 0
	if len(p.marks) == 0 {
		return nil
	}
	// The watermark must be written even when the pass's context ends
	// (shutdown): what was published is then not published again.
	wctx := context.WithoutCancel(p.ctx)
	if err := p.e.st.Write(wctx, func(tx store.Tx) error {
		for id, seq := range p.marks {
			if err := tx.SetAuditPublished(wctx, id, seq); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("audit back-fill: write watermarks: %w", err)
	}
	b.mu.Lock()
	for id, seq := range p.marks {
		b.chain(id).raise(seq)
	}
	b.mu.Unlock()
	clear(p.marks)
	return nil
}

// checkGap explains a hole (after, next) in a chain: retention drops the
// oldest sealed segments, leaving tombstones, so a hole inside the dropped
// prefix is expected. Any other hole is damage (a deleted row) that
// `engram audit verify` will show; the error says so.
func (e *Engine) checkGap(ctx context.Context, tenantID string, after, next uint64) error {
	var dropped uint64
	for from := uint64(0); ; {
		var page []store.AuditSegment
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			page, err = tx.AuditSegments(ctx, tenantID, from, 1000)
			return err
		}); err != nil {
			return fmt.Errorf("audit back-fill: chain %q: %w", tenantID, err)
		}
		for _, s := range page {
			if s.DroppedAt == nil {
				break
			}
			dropped = s.Last
		}
		if len(page) < 1000 || page[len(page)-1].DroppedAt == nil {
			break
		}
		from = page[len(page)-1].First
	}
	if next-1 <= dropped {
		return nil
	}
	return fmt.Errorf("audit back-fill: chain %q lacks entries %d to %d, which retention did not drop; run `engram audit verify`",
		tenantID, max(after+1, dropped+1), next-1)
}

// AuditBackfilled is the number of entries back-fill passes published
// since the engine started.
func (e *Engine) AuditBackfilled() uint64 { return e.pub.published.Load() }

// AuditPending is the number of entries no sink is known to have: above
// their chain's watermark and not accepted inline. Offline entries, lost
// publications and entries the sinks refused count until a pass publishes
// them. 0 without a sink.
func (e *Engine) AuditPending(ctx context.Context) (uint64, error) {
	if e.sink == nil {
		return 0, nil
	}
	var marks []store.AuditWatermark
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		marks, err = tx.AuditWatermarks(ctx)
		return err
	}); err != nil {
		return 0, err
	}
	b := &e.pub
	b.mu.Lock()
	defer b.mu.Unlock()
	var n uint64
	for _, w := range marks {
		mark, inline := w.Published, uint64(0)
		if c := b.chains[w.TenantID]; c != nil {
			mark = max(mark, c.mark)
			for s := range c.inline {
				if s > mark && s <= w.Head {
					inline++
				}
			}
		}
		if w.Head > mark+inline {
			n += w.Head - mark - inline
		}
	}
	return n, nil
}

// RunAuditBackfill runs a back-fill pass at once and then every `every`
// until ctx ends, on the node that holds the WorkAuditBackfill lease
// (leases.go); report receives failures, which the next pass retries.
// It returns when ctx is done, so the caller can wait for it before
// closing the store. Without a sink it returns at once.
func (e *Engine) RunAuditBackfill(ctx context.Context, every time.Duration, report func(error)) {
	if e.sink == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	defer e.resign(WorkAuditBackfill)
	for {
		// On a node that does not lead, the tick only tries the lease.
		if e.lead(ctx, WorkAuditBackfill, report) {
			if _, err := e.BackfillAudit(ctx); err != nil && ctx.Err() == nil && report != nil {
				report(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
