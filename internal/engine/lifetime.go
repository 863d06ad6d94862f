package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/retention"
	"github.com/engram-memory/engram/internal/store"
)

// Memory retention (docs/LIFECYCLE.md, "Retention"): a tenant's plan and
// a memory's own expiration_date decide when it goes (internal/retention
// holds those rules); this file authorises, deletes and audits. Not to be
// confused with retention.go, the audit trail's own retention.

// RetentionEvery is how often the maintenance beat runs the memory
// retention sweep. Expired memories are invisible at once, so the sweep
// only reclaims storage and can be unhurried; each pass that finds work
// writes an audit entry per tenant, which a tenant under a legal hold
// would otherwise get every beat.
const RetentionEvery = time.Hour

// maxRetentionBatch bounds one tenant's sweep transaction; the rest waits
// for the next pass.
const maxRetentionBatch = 500

// lifetimeSweep is the retention sweep's state: the metric and the last
// pass on the maintenance beat.
type lifetimeSweep struct {
	swept atomic.Uint64
	mu    sync.Mutex
	last  time.Time
}

// RetentionSwept counts the memories retention sweeps removed since start
// (the engram_retention_swept_total metric).
func (e *Engine) RetentionSwept() uint64 { return e.lifetime.swept.Load() }

// RetentionStats counts what one sweep of every tenant did.
type RetentionStats struct {
	Tenants int `json:"tenants"` // tenants that lost memories
	Held    int `json:"held"`    // tenants with due memories kept under a legal hold
	Expired int `json:"expired"` // memories past their expiration_date
	Aged    int `json:"aged"`    // memories older than the plan's window
	Kept    int `json:"kept"`    // due memories kept under a legal hold
	History int `json:"history"` // history entries removed with them
	// EpisodeTexts: episodes older than the plan's window whose messages
	// were discarded (the episode and what it made stay).
	EpisodeTexts int `json:"episode_texts"`
}

// SetRetentionPlan sets a tenant's retention plan (operator command;
// recorded in the tenant's chain as tenant.setting).
func (e *Engine) SetRetentionPlan(ctx context.Context, name string, p retention.Plan) (err error) {
	if _, err := retention.Parse(p.String()); err != nil {
		return invalid("%s", err.Error())
	}
	t, err := e.TenantByName(ctx, name)
	if err != nil {
		return err
	}
	defer func() { err = e.operator(ctx, t.ID, engram.AuditTenantSetting, engram.TargetTenant, t.ID, err) }()
	return e.st.Write(ctx, func(tx store.Tx) error {
		return tx.PutTenantSetting(ctx, t.ID, retention.Setting, p.String())
	})
}

// RetentionPlan returns a tenant's plan (pro when never set).
func (e *Engine) RetentionPlan(ctx context.Context, name string) (p retention.Plan, err error) {
	t, err := e.TenantByName(ctx, name)
	if err != nil {
		return p, err
	}
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		p, err = planOf(ctx, tx, t.ID)
		return err
	})
	return p, err
}

func planOf(ctx context.Context, tx store.Tx, tenantID string) (retention.Plan, error) {
	v, err := tx.TenantSetting(ctx, tenantID, retention.Setting)
	if isNotFound(err) {
		return retention.Default, nil
	}
	if err != nil {
		return retention.Plan{}, err
	}
	return retention.Parse(v)
}

// expired reports whether m is past its expiration_date: every read
// treats it as gone before the sweep deletes it.
func (e *Engine) expired(m *store.Memory) bool { return retention.Expired(m.ExpiresAt, e.clock()) }

// expiryOf parses an expiration_date given on a write.
func expiryOf(s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := retention.ParseExpiration(s)
	if err != nil {
		return nil, invalid("%s", err.Error())
	}
	if err := checkTime("expiration_date", t); err != nil {
		return nil, err
	}
	t = t.Truncate(time.Microsecond)
	return &t, nil
}

// maybeSweepRetention runs SweepRetention on the maintenance beat at
// most once per RetentionEvery.
func (e *Engine) maybeSweepRetention(ctx context.Context) error {
	now := e.clock()
	e.lifetime.mu.Lock()
	if !e.lifetime.last.IsZero() && now.Sub(e.lifetime.last) < RetentionEvery {
		e.lifetime.mu.Unlock()
		return nil
	}
	e.lifetime.last = now
	e.lifetime.mu.Unlock()
	_, err := e.SweepRetention(ctx)
	return err
}

// SweepRetention deletes, in every tenant, the memories past their
// expiration_date and, under a plan with a window, those created before
// it, with their history and index entries. Memories of a tenant under a
// legal hold, or of a user under one, stay. Each tenant's deletions
// commit with one retention.sweep entry in its chain giving the counts
// (never content).
func (e *Engine) SweepRetention(ctx context.Context) (RetentionStats, error) {
	var st RetentionStats
	var tenants []store.Tenant
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		tenants, err = tx.ListTenants(ctx)
		return err
	}); err != nil {
		return st, err
	}
	// One tenant's failure (its KMS is down) must not stop the others'.
	var errs []error
	for _, t := range tenants {
		r, err := e.sweepTenantRetention(ctx, t.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("retention sweep of tenant %q: %w", t.ID, err))
			continue
		}
		if r.expired+r.aged+r.texts > 0 {
			st.Tenants++
		}
		if r.kept > 0 {
			st.Held++
		}
		st.Expired += r.expired
		st.Aged += r.aged
		st.Kept += r.kept
		st.History += r.history
		st.EpisodeTexts += r.texts
	}
	return st, errors.Join(errs...)
}

type tenantSweep struct{ expired, aged, kept, history, texts int }

// textsOf names the episode texts a sweep discarded in its entry's
// target, only when there were some (older entries read as before).
func textsOf(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(",episode_texts:%d", n)
}

func (e *Engine) sweepTenantRetention(ctx context.Context, tenantID string) (tenantSweep, error) {
	var r tenantSweep
	now := e.clock()
	// A read first: most passes find nothing and should not take the
	// writer lock.
	var (
		due   []store.Memory
		texts []store.Episode
	)
	if err := e.st.Read(ctx, func(tx store.Tx) error {
		p, err := planOf(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		cut, _ := p.Cutoff(now)
		if due, err = tx.DueMemories(ctx, tenantID, now, cut, maxRetentionBatch); err != nil {
			return err
		}
		texts, err = tx.DueEpisodeTexts(ctx, tenantID, cut, maxRetentionBatch)
		return err
	}); err != nil || len(due)+len(texts) == 0 {
		return r, err
	}
	// A hold names a user by the audit pseudonym; computed before the
	// write, since fetching the key may itself write.
	refs := map[string]string{}
	users := make([]string, 0, len(due)+len(texts))
	for _, m := range due {
		users = append(users, m.UserID)
	}
	for _, ep := range texts {
		users = append(users, ep.UserID)
	}
	for _, u := range users {
		if _, ok := refs[u]; ok || u == "" {
			continue
		}
		ref, err := e.userRef(ctx, tenantID, u)
		if err != nil {
			return r, err
		}
		refs[u] = ref
	}
	mac, _, err := e.ring.AuditKeys(ctx, tenantID, audit.KeyVersion)
	if err != nil {
		return r, keyFailure(err)
	}
	var (
		rec     *store.AuditRecord
		removed []string
	)
	kwDone := e.kwBegin(tenantID)
	defer e.vecWrite(tenantID)()
	err = e.st.Write(ctx, func(tx store.Tx) error {
		r, rec, removed = tenantSweep{}, nil, removed[:0]
		// Everything re-checked in the deleting transaction: a hold
		// placed, a plan changed or an expiry moved since the read wins.
		p, err := planOf(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		hs, err := tx.AuditHolds(ctx, tenantID)
		if err != nil {
			return err
		}
		held := func(userID string) bool {
			for _, h := range hs {
				if h.UserRef == "" || (userID != "" && h.UserRef == refs[userID]) {
					return true
				}
			}
			return false
		}
		for _, d := range due {
			m, err := tx.Memory(ctx, tenantID, d.ID)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			why := retention.Due(p, m.CreatedAt, m.ExpiresAt, now)
			if why == retention.Keep {
				continue
			}
			if held(m.UserID) {
				r.kept++
				continue
			}
			if err := tx.DeleteMemory(ctx, tenantID, m.ID); err != nil {
				return err
			}
			n, err := tx.DeleteMemoryHistory(ctx, tenantID, m.ID)
			if err != nil {
				return err
			}
			r.history += n
			removed = append(removed, m.ID)
			if why == retention.Expiry {
				r.expired++
			} else {
				r.aged++
			}
		}
		// Conversation text past the window: the episode stays (what it
		// made points to it), its sealed messages go.
		cut, _ := p.Cutoff(now)
		for _, d := range texts {
			ep, err := tx.Episode(ctx, tenantID, d.ID)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			if ep.Messages == nil || cut.IsZero() || !ep.CreatedAt.Before(cut) || ep.Status == engram.EpisodePending {
				continue
			}
			if held(ep.UserID) {
				r.kept++
				continue
			}
			ep.Messages, ep.UpdatedAt = nil, now
			if err := tx.UpdateEpisode(ctx, ep); err != nil {
				return err
			}
			r.texts++
		}
		if r.expired+r.aged+r.kept+r.texts == 0 {
			return nil
		}
		o := engram.OriginFrom(ctx)
		if o.Transport == "" {
			o.Transport = "system"
		}
		entry := &engram.AuditEntry{Time: now, TenantID: tenantID, Action: engram.AuditRetentionSweep,
			TargetType: engram.TargetTenant, TargetID: fmt.Sprintf("expired:%d,aged:%d,held:%d", r.expired, r.aged, r.kept) + textsOf(r.texts),
			Outcome: engram.OutcomeSuccess, Count: uint64(r.expired + r.aged),
			IP: o.IP, RequestID: o.RequestID, Transport: o.Transport}
		if r.expired+r.aged+r.texts == 0 {
			// Everything due was kept: the sweep says so, as a refusal.
			entry.Outcome, entry.Reason, entry.Count = engram.OutcomeFailure, string(engram.CodeHeld), uint64(r.kept)
		}
		rec, err = audit.Append(ctx, tx, mac, entry)
		return err
	})
	if err != nil {
		kwDone()
		return tenantSweep{}, err
	}
	ops := make([]kwOp, len(removed))
	for i, id := range removed {
		ops[i] = kwOp{remove: id}
		e.indexRemove(tenantID, id)
	}
	kwDone(ops...)
	e.lifetime.swept.Add(uint64(len(removed)))
	if rec != nil {
		e.publish(ctx, rec) // sinks see the sweep like any entry
	}
	return r, nil
}
