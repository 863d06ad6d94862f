package keys

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
)

// PurposeAuditCheckpoint is the system key whose 32 random bytes are the
// Ed25519 seed that signs audit checkpoints. One per deployment, not per
// tenant: customers and witnesses pin a single verifier key, and the
// checkpoint origin (engram.audit/<tenant id>) is signed, so one tenant's
// checkpoint can never pass for another's. Wrapped by the KEK like the
// pepper and rewrapped by `engram kek rotate`; never derived from a
// tenant key, so erasing a tenant leaves the other tenants' (and the
// system chain's) checkpoints verifiable.
//
// It is versioned: RotateCheckpointKey adds a version and destroys the
// seeds of the earlier ones, so only the newest (current) version's seed
// is ever stored.
const PurposeAuditCheckpoint = "audit-checkpoint"

// PurposeAuditCheckpointPublic is the public key of each checkpoint key
// version, kept after its seed is destroyed so that old checkpoints still
// verify. It is wrapped by the KEK not for secrecy but for authenticity:
// the verifier list is what `audit verify` trusts, and someone who can
// write the database but lacks the KEK must not be able to add a key of
// their own to it. Rows exist only once a rotation happened; before, the
// one verifier key is derived from the current seed.
const PurposeAuditCheckpointPublic = "audit-checkpoint-public"

// PurposeAuditHandover marks the hand-over notes of a rotation, one per
// audit chain (TenantID; "" the system chain) and rotation (Version: the
// key version handed over to). Wrapped holds the signed note itself, in
// clear: it is public and its signatures are its protection. The keys
// table holds them because a hand-over is a statement about keys, and
// they go with their tenant like its chain does.
const PurposeAuditHandover = "audit-checkpoint-handover"

// CheckpointKeyName is the signed-note key name of the signer; every
// version shares it (the key hash tells versions apart).
const CheckpointKeyName = "engram-audit"

// CheckpointKey is one version of the checkpoint signing key.
type CheckpointKey struct {
	Version  int
	Signer   note.Signer
	Verifier string // public, signed-note verifier key format
	seed     []byte
}

// CheckpointVerifier is the public key of one version.
type CheckpointVerifier struct {
	Version   int
	Key       string
	Current   bool
	CreatedAt time.Time
}

// CheckpointSigner returns the current checkpoint signer and its public
// verifier key (signed-note format), creating the key on first use. It
// writes on first use, so it must not run inside a transaction.
func (r *Ring) CheckpointSigner(ctx context.Context) (note.Signer, string, error) {
	k, err := r.CurrentCheckpointKey(ctx)
	if err != nil {
		return nil, "", err
	}
	return k.Signer, k.Verifier, nil
}

// CurrentCheckpointKey returns the newest checkpoint key version, creating
// version 1 on first use. It reads the current version from the store on
// every call (one indexed read), so a rotation committed by another
// process is picked up at once; only the unwrapped seed is cached.
func (r *Ring) CurrentCheckpointKey(ctx context.Context) (*CheckpointKey, error) {
	for range 3 {
		var w *store.WrappedKey
		var pubs []store.WrappedKey
		err := r.st.Read(ctx, func(tx store.Tx) (err error) {
			w, err = tx.LatestKey(ctx, "", PurposeAuditCheckpoint, "")
			if errors.Is(err, store.ErrNotFound) {
				pubs, err = tx.Keys(ctx, "", PurposeAuditCheckpointPublic)
				if err == nil {
					err = store.ErrNotFound
				}
			}
			return err
		})
		if err == nil {
			return r.openCheckpointKey(ctx, w)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("load checkpoint key: %w", err)
		}
		if len(pubs) > 0 {
			// Rotation never leaves no seed behind: the row was removed.
			// Creating a fresh version 1 would silently fork the keys.
			return nil, errors.New("the checkpoint signing key is missing from the store although earlier versions are listed")
		}
		k, err := newKey(1)
		if err != nil {
			return nil, err
		}
		wrapped, err := r.kek.Wrap(ctx, encodeKey(k), kekAAD("", PurposeAuditCheckpoint, 1))
		if err != nil {
			return nil, fmt.Errorf("wrap checkpoint key: %w", err)
		}
		nw := &store.WrappedKey{Purpose: PurposeAuditCheckpoint, Version: 1, Wrapped: wrapped, CreatedAt: r.now().UTC()}
		err = r.st.Write(ctx, func(tx store.Tx) error { return tx.PutKey(ctx, nw) })
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("store checkpoint key: %w", err)
		}
		// Stored, or another process stored one first: load whichever won.
	}
	return nil, errors.New("checkpoint key: could not load or create it")
}

func (r *Ring) openCheckpointKey(ctx context.Context, w *store.WrappedKey) (*CheckpointKey, error) {
	name := cacheName("", "", PurposeAuditCheckpoint, w.Version)
	k, ok := r.get(name)
	if !ok {
		raw, err := r.kek.Unwrap(ctx, w.Wrapped, kekAAD("", PurposeAuditCheckpoint, w.Version))
		if err != nil {
			return nil, fmt.Errorf("unwrap checkpoint key version %d: %w", w.Version, err)
		}
		if k, err = decodeKey(raw, w.Version); err != nil {
			return nil, err
		}
		// A retired version's seed has no business staying in memory.
		r.dropVersions(PurposeAuditCheckpoint, w.Version)
		r.put(name, k, w.Wrapped)
	}
	return checkpointKey(w.Version, k.Secret)
}

func checkpointKey(version int, seed []byte) (*CheckpointKey, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("checkpoint key: seed of %d bytes", len(seed))
	}
	s, vk, err := checkpoint.NewEd25519Signer(CheckpointKeyName, ed25519.NewKeyFromSeed(seed))
	if err != nil {
		return nil, err
	}
	return &CheckpointKey{Version: version, Signer: s, Verifier: vk, seed: seed}, nil
}

// dropVersions forgets the cached system keys of purpose other than keep.
func (r *Ring) dropVersions(purpose string, keep int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prefix := strings.TrimSuffix(cacheName("", "", purpose, 0), "0") // ends in the separator
	for name := range r.cache {
		if strings.HasPrefix(name, prefix) && name != cacheName("", "", purpose, keep) {
			delete(r.cache, name)
		}
	}
}

// CheckpointVerifiers lists the verifier key of every checkpoint key
// version, oldest first, the current one marked: what verification accepts.
// It creates the key on first use.
func (r *Ring) CheckpointVerifiers(ctx context.Context) ([]CheckpointVerifier, error) {
	cur, err := r.CurrentCheckpointKey(ctx)
	if err != nil {
		return nil, err
	}
	var pubs []store.WrappedKey
	var created time.Time
	err = r.st.Read(ctx, func(tx store.Tx) error {
		w, err := tx.Key(ctx, "", PurposeAuditCheckpoint, "", cur.Version)
		if err != nil {
			return err
		}
		created = w.CreatedAt
		pubs, err = tx.Keys(ctx, "", PurposeAuditCheckpointPublic)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load checkpoint verifier keys: %w", err)
	}
	out := []CheckpointVerifier{{Version: cur.Version, Key: cur.Verifier, Current: true, CreatedAt: created}}
	for i := range pubs {
		p := &pubs[i]
		if p.Version == cur.Version {
			continue // derived from the seed above
		}
		vk, err := r.openPublic(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, CheckpointVerifier{Version: p.Version, Key: vk, CreatedAt: p.CreatedAt})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// CheckpointVerifierKeys is CheckpointVerifiers as bare keys, for
// checkpoint.Open and friends.
func (r *Ring) CheckpointVerifierKeys(ctx context.Context) ([]string, error) {
	vs, err := r.CheckpointVerifiers(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]string, len(vs))
	for i, v := range vs {
		keys[i] = v.Key
	}
	return keys, nil
}

func (r *Ring) openPublic(ctx context.Context, w *store.WrappedKey) (string, error) {
	name := cacheName("", "", PurposeAuditCheckpointPublic, w.Version)
	k, ok := r.get(name)
	if !ok {
		raw, err := r.kek.Unwrap(ctx, w.Wrapped, kekAAD("", PurposeAuditCheckpointPublic, w.Version))
		if err != nil {
			return "", fmt.Errorf("unwrap checkpoint public key version %d: %w", w.Version, err)
		}
		if len(raw) != ed25519.PublicKeySize {
			return "", fmt.Errorf("checkpoint public key version %d: %d bytes", w.Version, len(raw))
		}
		k = seal.Key{Version: uint32(w.Version), Secret: raw}
		r.put(name, k, w.Wrapped)
	}
	vk, err := note.NewEd25519VerifierKey(CheckpointKeyName, ed25519.PublicKey(k.Secret))
	if err != nil {
		return "", fmt.Errorf("checkpoint public key version %d: %w", w.Version, err)
	}
	return vk, nil
}
