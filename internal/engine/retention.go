package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// DefaultAuditRetentionDays applies to a chain with no retention set.
const DefaultAuditRetentionDays = 90

// anyHold as a hold scope: every hold of the tenant applies (tenant
// erasure, the retention sweep).
const anyHold = "*"

// reasonCode keeps hold reasons to short codes: free text could carry
// personal data into a table that outlives erasure.
var reasonCode = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,31}$`)

// userRef is the pseudonym a hold names a user by (the audit pseudonym, so
// it matches the user's entries).
func (e *Engine) userRef(ctx context.Context, tenantID, userID string) (string, error) {
	_, pk, err := e.ring.AuditKeys(ctx, tenantID, audit.KeyVersion)
	if err != nil {
		return "", keyFailure(err)
	}
	return audit.Pseudonym(pk, "user", userID), nil
}

// checkHold fails with CodeHeld when a hold of the tenant covers scope: a
// user's pseudonym (held by a tenant-wide hold or one naming that user), or
// anyHold (held by any hold).
func checkHold(ctx context.Context, tx store.Tx, tenantID, scope string) error {
	hs, err := tx.AuditHolds(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, h := range hs {
		if scope == anyHold || h.UserRef == "" || h.UserRef == scope {
			return engram.Errorf(engram.CodeHeld, "a legal hold (%s) blocks this erasure; release it first", h.ID)
		}
	}
	return nil
}

// CreateAuditHold places a legal hold on the principal's tenant (or one of
// its users). The hold and its entry commit together.
func (e *Engine) CreateAuditHold(ctx context.Context, req engram.AuditHoldRequest) (out *engram.AuditHold, err error) {
	id := uuid.NewString()
	a := e.begin(ctx, engram.AuditHoldCreate, engram.TargetAudit, id)
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditHold)
	if err != nil {
		return nil, err
	}
	if !reasonCode.MatchString(req.ReasonCode) {
		return nil, invalid("reason_code must be a short code: 1-32 of a-z, 0-9, '_', '.', '-'")
	}
	h := &store.AuditHold{TenantID: p.TenantID, ID: id, ReasonCode: req.ReasonCode, CreatedAt: e.clock()}
	if req.UserID != "" {
		userID, err := cleanScopeID("user_id", req.UserID)
		if err != nil {
			return nil, err
		}
		if h.UserRef, err = e.userRef(ctx, p.TenantID, userID); err != nil {
			return nil, err
		}
	}
	err = e.st.Write(ctx, func(tx store.Tx) error {
		hs, err := tx.AuditHolds(ctx, p.TenantID)
		if err != nil {
			return err
		}
		if len(hs) >= engram.MaxAuditHolds {
			return engram.Errorf(engram.CodeConflict, "the tenant already has %d holds", engram.MaxAuditHolds)
		}
		if err := tx.PutAuditHold(ctx, h); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err != nil {
		return nil, err
	}
	return &engram.AuditHold{ID: h.ID, ReasonCode: h.ReasonCode, User: h.UserRef, CreatedAt: h.CreatedAt}, nil
}

// ListAuditHolds lists the tenant's holds (a read of the audit trail's
// state, recorded as audit.read).
func (e *Engine) ListAuditHolds(ctx context.Context) (out []engram.AuditHold, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "holds")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	var hs []store.AuditHold
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		hs, err = tx.AuditHolds(ctx, p.TenantID)
		return err
	}); err != nil {
		return nil, err
	}
	out = make([]engram.AuditHold, 0, len(hs))
	for _, h := range hs {
		out = append(out, engram.AuditHold{ID: h.ID, ReasonCode: h.ReasonCode, User: h.UserRef, CreatedAt: h.CreatedAt})
	}
	return out, nil
}

// ReleaseAuditHold removes a hold; the release and its entry commit
// together.
func (e *Engine) ReleaseAuditHold(ctx context.Context, id string) (err error) {
	a := e.begin(ctx, engram.AuditHoldRelease, engram.TargetAudit, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditHold)
	if err != nil {
		return err
	}
	if !validID(id) {
		return engram.Errorf(engram.CodeNotFound, "hold not found")
	}
	a.entry.TargetID = id
	return e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.DeleteAuditHold(ctx, p.TenantID, id); err != nil {
			return notFound(err, "hold")
		}
		return a.record(tx)
	})
}

// SetAuditRetention sets a tenant's audit retention in days (operator
// command; recorded in the tenant's chain).
func (e *Engine) SetAuditRetention(ctx context.Context, name string, days int) (err error) {
	if days < 1 || days > engram.MaxAuditRetentionDays {
		return invalid("retention must be 1 to %d days", engram.MaxAuditRetentionDays)
	}
	t, err := e.TenantByName(ctx, name)
	if err != nil {
		return err
	}
	defer func() { err = e.operator(ctx, t.ID, engram.AuditRetentionSet, engram.TargetTenant, t.ID, err) }()
	return e.st.Write(ctx, func(tx store.Tx) error { return tx.SetAuditRetention(ctx, t.ID, days) })
}

// SweepStats counts what one retention sweep dropped.
type SweepStats struct {
	Chains   int // chains that lost segments
	Held     int // chains skipped because of a legal hold
	Segments int
	Entries  int
}

// SweepAudit drops, in every chain without a legal hold, the oldest sealed
// segments whose seal (after their newest entry) is older than the chain's
// retention, oldest first so the kept tombstones stay a prefix the chain
// verification resumes from. Each chain's drops commit in one transaction
// with an audit.sweep entry in that chain naming the seqs dropped
// (target_id "FIRST-LAST"), so the sweep cannot hide itself.
func (e *Engine) SweepAudit(ctx context.Context) (SweepStats, error) {
	var st SweepStats
	var chains []string
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		chains, err = tx.AuditChains(ctx)
		return err
	}); err != nil {
		return st, err
	}
	// One chain's failure (say, its tenant's KMS is down) must not stop
	// the others' sweep.
	var errs []error
	for _, id := range chains {
		segs, entries, held, err := e.sweepChain(ctx, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep chain %q: %w", id, err))
			continue
		}
		if held {
			st.Held++
		}
		if segs > 0 {
			st.Chains++
			st.Segments += segs
			st.Entries += entries
		}
	}
	return st, errors.Join(errs...)
}

// maxSweepSegments bounds one chain's sweep transaction; the rest waits
// for the next pass.
const maxSweepSegments = 100

// retentionOf returns the chain's retention.
func retentionOf(ctx context.Context, tx store.Tx, tenantID string) (time.Duration, error) {
	days, err := tx.AuditRetention(ctx, tenantID)
	if errors.Is(err, store.ErrNotFound) {
		days, err = DefaultAuditRetentionDays, nil
	}
	return time.Duration(days) * 24 * time.Hour, err
}

// sweepDue reports, with a read transaction, whether the chain's oldest
// live segment has expired and no hold stops the sweep: most ticks find
// nothing to drop and should not take the writer lock.
func (e *Engine) sweepDue(ctx context.Context, tenantID string, now time.Time) (due, held bool, err error) {
	err = e.st.Read(ctx, func(tx store.Tx) error {
		if checkHold(ctx, tx, tenantID, anyHold) != nil {
			held = true
			return nil
		}
		retention, err := retentionOf(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		for after := uint64(0); ; {
			ss, err := tx.AuditSegments(ctx, tenantID, after, maxSweepSegments)
			if err != nil {
				return err
			}
			for _, s := range ss {
				after = s.First
				if s.DroppedAt == nil {
					due = checkpoint.Droppable(s.SealedAt, now, retention, false)
					return nil
				}
			}
			if len(ss) < maxSweepSegments {
				return nil
			}
		}
	})
	return due, held, err
}

func (e *Engine) sweepChain(ctx context.Context, tenantID string) (segs, entries int, held bool, err error) {
	now := e.clock()
	due, held, err := e.sweepDue(ctx, tenantID, now)
	if err != nil || !due {
		return 0, 0, held, err
	}
	mac, _, err := e.ring.AuditKeys(ctx, tenantID, audit.KeyVersion)
	if err != nil {
		return 0, 0, false, err
	}
	var rec *store.AuditRecord
	err = e.st.Write(ctx, func(tx store.Tx) error {
		segs, entries, held, rec = 0, 0, false, nil
		// Re-checked in the dropping transaction: a hold placed since the
		// read above wins.
		if err := checkHold(ctx, tx, tenantID, anyHold); err != nil {
			held = true
			return nil
		}
		retention, err := retentionOf(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		var first, last, after uint64
	pages:
		for segs < maxSweepSegments {
			ss, err := tx.AuditSegments(ctx, tenantID, after, maxSweepSegments)
			if err != nil {
				return err
			}
			for _, s := range ss {
				after = s.First
				if s.DroppedAt != nil {
					continue
				}
				if segs >= maxSweepSegments || !checkpoint.Droppable(s.SealedAt, now, retention, false) {
					break pages // oldest first: the rest is younger
				}
				n, err := tx.DropAuditSegment(ctx, tenantID, s.First, now)
				if err != nil {
					return err
				}
				if first == 0 {
					first = s.First
				}
				last = s.Last
				segs++
				entries += n
			}
			if len(ss) < maxSweepSegments {
				break
			}
		}
		if segs == 0 {
			return nil
		}
		o := engram.OriginFrom(ctx)
		if o.Transport == "" {
			o.Transport = "system"
		}
		rec, err = audit.Append(ctx, tx, mac, &engram.AuditEntry{Time: now, TenantID: tenantID, Action: engram.AuditSweep,
			TargetType: engram.TargetAudit, TargetID: fmt.Sprintf("%d-%d", first, last), Outcome: engram.OutcomeSuccess,
			IP: o.IP, RequestID: o.RequestID, Transport: o.Transport})
		return err
	})
	if err == nil && rec != nil {
		e.publish(ctx, rec) // sinks see the sweep like any entry
	}
	return segs, entries, held, err
}
