package keys

import (
	"context"
	"crypto/ed25519"
	"fmt"

	"golang.org/x/mod/sumdb/note"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

// PurposeAuditCheckpoint is the system key whose 32 random bytes are the
// Ed25519 seed that signs audit checkpoints. One per deployment, not per
// tenant: customers and witnesses pin a single verifier key, and the
// checkpoint origin (engram.audit/<tenant id>) is signed, so one tenant's
// checkpoint can never pass for another's. Wrapped by the KEK like the
// pepper and rewrapped by `engram kek rotate`; never derived from a
// tenant key, so erasing a tenant leaves the other tenants' (and the
// system chain's) checkpoints verifiable.
const PurposeAuditCheckpoint = "audit-checkpoint"

// CheckpointKeyName is the signed-note key name of the signer.
const CheckpointKeyName = "engram-audit"

// CheckpointSigner returns the deployment's checkpoint signer and its
// public verifier key (signed-note format), creating the key on first
// use. It writes on first use, so it must not run inside a transaction.
func (r *Ring) CheckpointSigner(ctx context.Context) (note.Signer, string, error) {
	seed, _, err := r.systemKey(ctx, PurposeAuditCheckpoint)
	if err != nil {
		return nil, "", err
	}
	if len(seed) != ed25519.SeedSize {
		return nil, "", fmt.Errorf("checkpoint key: seed of %d bytes", len(seed))
	}
	return checkpoint.NewEd25519Signer(CheckpointKeyName, ed25519.NewKeyFromSeed(seed))
}
