package keys

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/store"
)

// CheckpointRotation reports what RotateCheckpointKey did.
type CheckpointRotation struct {
	From      int    // the retired version
	To        int    // the new current version
	Verifier  string // the new verifier key
	Handovers int    // hand-over notes the callback stored
}

// HandoverFunc runs inside the rotation's write transaction with the
// retired key (still usable: its seed is destroyed by the same
// transaction, after the callback) and the new one. It signs and stores
// whatever must carry both signatures, and returns how many notes it
// stored.
type HandoverFunc func(tx store.Tx, old, next *CheckpointKey) (int, error)

// RotateCheckpointKey adds a version of the checkpoint signing key and, in
// one transaction: makes it current, stores the public key of the retired
// version and of the new one (wrapped by the KEK, for authenticity), runs
// handover, and destroys every earlier version's seed. A crash leaves
// either the old state or the new one. Old checkpoints keep verifying
// against the retired public keys; nothing can be signed with them again.
//
// Sealers check the current version in their own write transaction (see
// the engine), so every checkpoint committed after the rotation is signed
// by the new key.
func (r *Ring) RotateCheckpointKey(ctx context.Context, handover HandoverFunc) (*CheckpointRotation, error) {
	for range 5 {
		rot, err := r.rotateCheckpointKey(ctx, handover)
		if !errors.Is(err, errRaced) {
			return rot, err
		}
	}
	return nil, fmt.Errorf("rotate checkpoint key: %w", errRaced)
}

func (r *Ring) rotateCheckpointKey(ctx context.Context, handover HandoverFunc) (*CheckpointRotation, error) {
	cur, err := r.CurrentCheckpointKey(ctx)
	if err != nil {
		return nil, err
	}
	v := cur.Version + 1
	k, err := newKey(v)
	if err != nil {
		return nil, err
	}
	wrapped, err := r.kek.Wrap(ctx, encodeKey(k), kekAAD("", PurposeAuditCheckpoint, v))
	if err != nil {
		return nil, fmt.Errorf("wrap checkpoint key: %w", err)
	}
	now := r.now().UTC()
	nw := &store.WrappedKey{Purpose: PurposeAuditCheckpoint, Version: v, Wrapped: wrapped, CreatedAt: now}
	next, err := checkpointKey(v, k.Secret)
	if err != nil {
		return nil, err
	}
	pub := func(ck *CheckpointKey) (*store.WrappedKey, error) {
		p, _ := ed25519.NewKeyFromSeed(ck.seed).Public().(ed25519.PublicKey)
		w, err := r.kek.Wrap(ctx, p, kekAAD("", PurposeAuditCheckpointPublic, ck.Version))
		if err != nil {
			return nil, fmt.Errorf("wrap checkpoint public key: %w", err)
		}
		return &store.WrappedKey{Purpose: PurposeAuditCheckpointPublic, Version: ck.Version, Wrapped: w, CreatedAt: now}, nil
	}
	curPub, err := pub(cur)
	if err != nil {
		return nil, err
	}
	nextPub, err := pub(next)
	if err != nil {
		return nil, err
	}
	rot := &CheckpointRotation{From: cur.Version, To: v, Verifier: next.Verifier}
	err = r.st.Write(ctx, func(tx store.Tx) error {
		latest, err := tx.LatestKey(ctx, "", PurposeAuditCheckpoint, "")
		if err != nil {
			return err
		}
		if latest.Version != cur.Version {
			return errRaced
		}
		if err := tx.PutKey(ctx, nw); err != nil {
			return err
		}
		if _, err := tx.Key(ctx, "", PurposeAuditCheckpointPublic, "", cur.Version); errors.Is(err, store.ErrNotFound) {
			err = tx.PutKey(ctx, curPub)
			if err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if err := tx.PutKey(ctx, nextPub); err != nil {
			return err
		}
		if handover != nil {
			if rot.Handovers, err = handover(tx, cur, next); err != nil {
				return fmt.Errorf("hand-over: %w", err)
			}
		}
		old, err := tx.Keys(ctx, "", PurposeAuditCheckpoint)
		if err != nil {
			return err
		}
		for _, o := range old {
			if o.Version < v {
				if err := tx.DeleteKey(ctx, "", PurposeAuditCheckpoint, "", o.Version); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.dropVersions(PurposeAuditCheckpoint, v)
	return rot, nil
}

// Handover is the hand-over note of one chain: its newest checkpoint
// (signedCheckpoint, which must open under one of verifierKeys, so a
// checkpoint forged into the database is never endorsed by the retired
// key) with the next key named, signed by old and next. See
// checkpoint.Handover.
func Handover(signedCheckpoint []byte, origin string, verifierKeys []string, old, next *CheckpointKey) ([]byte, error) {
	cp, err := checkpoint.Open(signedCheckpoint, origin, verifierKeys...)
	if err != nil {
		return nil, err
	}
	return checkpoint.Handover(cp, next.Verifier, old.Signer, next.Signer)
}
