package engine

import (
	"context"
	"errors"
	"strconv"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// RotateCheckpointKey is `engram audit key rotate` (operator, CLI): a new
// version of the checkpoint signing key becomes current, the retired
// version's seed is destroyed and its public key kept, and every chain
// with a checkpoint gets a hand-over note, all in one transaction (see
// keys.Ring.RotateCheckpointKey). The rotation is recorded in the system
// chain. A server sharing the store signs with the new key from its next
// seal on.
func (e *Engine) RotateCheckpointKey(ctx context.Context) (_ *engram.AuditKeyRotation, err error) {
	target := ""
	defer func() { err = e.operator(ctx, "", engram.AuditKeyRotate, engram.TargetAudit, target, err) }()
	vks, err := e.ring.CheckpointVerifierKeys(ctx)
	if err != nil {
		return nil, err
	}
	var skipped []string
	handover := func(tx store.Tx, old, next *keys.CheckpointKey) (int, error) {
		skipped = skipped[:0]
		trusted := append(vks[:len(vks):len(vks)], old.Verifier)
		chains, err := tx.AuditChains(ctx)
		if err != nil {
			return 0, err
		}
		n := 0
		for _, id := range chains {
			s, err := tx.LatestAuditSegment(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // nothing signed yet: nothing to hand over
			}
			if err != nil {
				return 0, err
			}
			note, err := keys.Handover(s.Checkpoint, checkpoint.Origin(id), trusted, old, next)
			if err != nil {
				// Damage `audit verify` reports; the retired key must not
				// endorse it, and the rotation must not wait for it.
				skipped = append(skipped, id)
				continue
			}
			w := &store.WrappedKey{TenantID: id, Purpose: keys.PurposeAuditHandover, Version: next.Version, Wrapped: note, CreatedAt: e.clock().UTC()}
			if err := tx.PutKey(ctx, w); err != nil {
				return 0, err
			}
			n++
		}
		return n, nil
	}
	rot, err := e.ring.RotateCheckpointKey(ctx, handover)
	if err != nil {
		return nil, err
	}
	target = strconv.Itoa(rot.To)
	// Fold the log into the database file so that the destroyed seed's
	// wrapped bytes do not outlive it in the WAL (secure_delete zeroes the
	// page in the file).
	if err := e.afterErasure(ctx); err != nil {
		return nil, err
	}
	return &engram.AuditKeyRotation{From: rot.From, To: rot.To, VerifierKey: rot.Verifier, Handovers: rot.Handovers, Skipped: skipped}, nil
}

// AuditVerifierKeys lists every checkpoint key version's verifier key
// (operator, CLI), oldest first, creating the key on first use.
func (e *Engine) AuditVerifierKeys(ctx context.Context) ([]engram.AuditVerifierKey, error) {
	vs, err := e.ring.CheckpointVerifiers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]engram.AuditVerifierKey, len(vs))
	for i, v := range vs {
		out[i] = engram.AuditVerifierKey{Version: v.Version, VerifierKey: v.Key, Current: v.Current, CreatedAt: v.CreatedAt}
	}
	return out, nil
}

// AuditKeys lists every checkpoint verifier key with the principal's
// tenant's hand-over notes.
func (e *Engine) AuditKeys(ctx context.Context) (out []engram.AuditVerifierKey, err error) {
	a := e.begin(ctx, engram.AuditRead, engram.TargetAudit, "keys")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.AuditRead)
	if err != nil {
		return nil, err
	}
	if out, err = e.AuditVerifierKeys(ctx); err != nil {
		return nil, err
	}
	var hs []store.WrappedKey
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		hs, err = tx.Keys(ctx, p.TenantID, keys.PurposeAuditHandover)
		return err
	}); err != nil {
		return nil, err
	}
	for _, h := range hs {
		for i := range out {
			if out[i].Version == h.Version {
				out[i].Handover = string(h.Wrapped)
			}
		}
	}
	return out, nil
}
