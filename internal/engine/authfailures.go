package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/engram-memory/engram"
)

// Refused credentials are counted in memory and recorded as aggregated
// auth.failure entries: one per chain, source address, reason, key (when
// the id names one) and transport in each window, with Count. A client
// without a key therefore cannot grow the database by one row per
// request: per window it adds at most one entry per group, and the
// groups are capped (MaxAuthFailureGroups).
//
// The price is durability: counts not yet flushed when the process dies
// (a crash, kill -9, power loss) are lost, at most one window of them.
// The access log still has one line per refused request (status 401), and
// a clean stop flushes (engram serve calls FlushAuthFailures after the
// HTTP server drained).

// MaxAuthFailureGroups caps the groups counted in one window. Failures of
// a group that would exceed it are counted in an overflow group of their
// chain, reason and transport with no source address and no key id, so
// one window's entries stay bounded however many addresses send.
const MaxAuthFailureGroups = 1000

// DefaultAuthFailureWindow is how often `engram serve` flushes.
const DefaultAuthFailureWindow = time.Minute

// maxFlushAttempts bounds how often a group whose entry could not be
// written is tried again: a tenant erased since its failures were counted
// has no audit key any more, and its count is dropped (the error said so).
const maxFlushAttempts = 3

type failKey struct {
	tenantID, keyID, reason, ip, transport string
}

type failCount struct {
	n         uint64
	requestID string // the window's first refused request, to find it in the access log
	attempts  int
}

// authFailures is the in-memory count of one window.
type authFailures struct {
	mu     sync.Mutex
	groups map[failKey]*failCount
	max    int // 0: MaxAuthFailureGroups (tests lower it: export_test.go)
}

// add counts one refusal.
func (f *authFailures) add(k failKey, requestID string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups == nil {
		f.groups = map[failKey]*failCount{}
	}
	c := f.groups[k]
	if c == nil && len(f.groups) >= cmp.Or(f.max, MaxAuthFailureGroups) {
		k.ip, k.keyID = "", ""
		c = f.groups[k]
	}
	if c == nil {
		c = &failCount{requestID: requestID}
		f.groups[k] = c
	}
	c.n++
}

// take empties the window and returns its groups.
func (f *authFailures) take() map[failKey]*failCount {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups
	f.groups = nil
	return g
}

// restore puts back a group whose entry could not be written, merged
// with whatever the new window counted meanwhile.
func (f *authFailures) restore(k failKey, c *failCount) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups == nil {
		f.groups = map[failKey]*failCount{}
	}
	if cur := f.groups[k]; cur != nil {
		cur.n += c.n
		cur.attempts = max(cur.attempts, c.attempts)
		return
	}
	f.groups[k] = c
}

// authFailure counts a refused credential, to be recorded at the window's
// end: in the key's tenant chain when the key id names a key, otherwise
// in the system chain without the id (anyone can make up any number of
// ids, and one may be a pasted secret).
func (e *Engine) authFailure(ctx context.Context, tenantID, keyID, reason string) {
	if e.noAudit {
		return
	}
	o := engram.OriginFrom(ctx)
	e.fails.add(failKey{tenantID: tenantID, keyID: keyID, reason: reason, ip: o.IP, transport: o.Transport}, o.RequestID)
}

// FlushAuthFailures records the refusals counted since the last flush, one
// auth.failure entry per group with its Count, and starts a new window.
// The entry's time is the flush (the window's end). Groups whose entry
// could not be written are kept for the next flush, up to a few attempts.
func (e *Engine) FlushAuthFailures(ctx context.Context) error {
	groups := e.fails.take()
	keys := make([]failKey, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	// Chains in a stable order, so two flushes of the same counts write
	// the same entries.
	slices.SortFunc(keys, func(a, b failKey) int {
		return cmp.Or(cmp.Compare(a.tenantID, b.tenantID), cmp.Compare(a.ip, b.ip), cmp.Compare(a.keyID, b.keyID),
			cmp.Compare(a.reason, b.reason), cmp.Compare(a.transport, b.transport))
	})
	var errs []error
	for _, k := range keys {
		c := groups[k]
		entry := &engram.AuditEntry{TenantID: k.tenantID, KeyID: k.keyID, Action: engram.AuditAuthFailure,
			TargetType: engram.TargetAPIKey, TargetID: k.keyID, Outcome: engram.OutcomeFailure, Reason: k.reason,
			IP: k.ip, RequestID: c.requestID, Transport: k.transport, Count: c.n}
		if err := e.appendOwn(ctx, entry, nil); err != nil {
			if c.attempts++; c.attempts < maxFlushAttempts {
				e.fails.restore(k, c)
			} else {
				err = fmt.Errorf("dropped %d refused credentials of chain %q after %d attempts: %w", c.n, k.tenantID, c.attempts, err)
			}
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RunAuthFailureFlush flushes every window until ctx ends, then once more
// (with a context of its own, bounded), so a clean stop loses nothing.
// report (may be nil) receives flush errors.
func (e *Engine) RunAuthFailureFlush(ctx context.Context, window time.Duration, report func(error)) {
	flush := func(ctx context.Context) {
		if err := e.FlushAuthFailures(ctx); err != nil && report != nil {
			report(err)
		}
	}
	t := time.NewTicker(window)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			flush(fctx)
			return
		case <-t.C:
			flush(ctx)
		}
	}
}
