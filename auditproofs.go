package engram

import (
	"context"
	"time"
)

// AuditCheckpointInfo is the deployment's checkpoint verifier key (public;
// pin it out of band) and the tenant's newest signed checkpoint, a C2SP
// signed note ("" before the first seal).
type AuditCheckpointInfo struct {
	VerifierKey string `json:"verifier_key"`
	Checkpoint  string `json:"checkpoint,omitempty"`
	TreeSize    uint64 `json:"tree_size"`
}

// AuditVerification is what GET /v1/audit/verify reports: the caller's
// chain checked as `engram audit verify` checks it (the HMAC chain from
// where retention left it, the stored head, the signed checkpoints and a
// replay of the log tree over every sealed segment). Entries counts the
// entries walked; LastSeq is the highest seq seen; Problem, set when
// Intact is false, names the first damaged entry.
type AuditVerification struct {
	Intact  bool               `json:"intact"`
	Entries uint64             `json:"entries"`
	LastSeq uint64             `json:"last_seq"`
	Problem *AuditChainProblem `json:"problem,omitempty"`
}

// AuditChainProblem is the first damage a verification found.
type AuditChainProblem struct {
	Seq    uint64 `json:"seq"`
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
}

// AuditVerifierKey is the public key of one version of the deployment's
// checkpoint signing key. Every version ever used is listed, so checkpoints
// signed before a rotation still verify; Current marks the one that signs
// now. Handover, set on versions that came from a rotation and when the
// caller's chain had a checkpoint then, is that chain's hand-over note: its
// newest checkpoint at the rotation with an engram-next-key line naming
// this key, signed by the previous key and by this one (docs/AUDIT-PROOFS.md).
type AuditVerifierKey struct {
	Version     int       `json:"version"`
	VerifierKey string    `json:"verifier_key"`
	Current     bool      `json:"current"`
	CreatedAt   time.Time `json:"created_at"`
	Handover    string    `json:"handover,omitempty"`
}

// AuditKeyRotation reports a rotation of the checkpoint signing key.
// Handovers counts the chains whose newest checkpoint was re-signed as a
// hand-over; Skipped lists the chains (tenant ids, "" the system chain)
// whose newest checkpoint did not verify and so was not endorsed.
type AuditKeyRotation struct {
	From        int      `json:"from_version"`
	To          int      `json:"to_version"`
	VerifierKey string   `json:"verifier_key"`
	Handovers   int      `json:"handovers"`
	Skipped     []string `json:"skipped,omitempty"`
}

// AuditInclusionProof proves the entry with sequence Seq (leaf Seq-1) is
// in the tenant's log tree of TreeSize leaves. Entry is the canonical
// entry bytes that were hashed; Checkpoint is the signed checkpoint of
// that size when one exists.
type AuditInclusionProof struct {
	Seq        uint64   `json:"seq"`
	LeafIndex  uint64   `json:"leaf_index"`
	TreeSize   uint64   `json:"tree_size"`
	Entry      []byte   `json:"entry"`
	Proof      [][]byte `json:"proof"`
	Checkpoint string   `json:"checkpoint,omitempty"`
}

// AuditConsistencyProof proves the log tree of size From is a prefix of the
// tree of size To, with the signed checkpoints of those sizes when they
// exist.
type AuditConsistencyProof struct {
	From           uint64   `json:"from"`
	To             uint64   `json:"to"`
	Proof          [][]byte `json:"proof"`
	FromCheckpoint string   `json:"from_checkpoint,omitempty"`
	ToCheckpoint   string   `json:"to_checkpoint,omitempty"`
}

// AuditSegment is a sealed run of a tenant's entries [First, Last] (seqs).
// Dropped is set once retention deleted the entries: the segment is then a
// tombstone, still proving its root and the chain.
type AuditSegment struct {
	First      uint64     `json:"first"`
	Last       uint64     `json:"last"`
	Root       []byte     `json:"root"`
	TreeSize   uint64     `json:"tree_size"`
	TreeRoot   []byte     `json:"tree_root"`
	Checkpoint string     `json:"checkpoint"`
	SealedAt   time.Time  `json:"sealed_at"`
	DroppedAt  *time.Time `json:"dropped_at,omitempty"`
}

// AuditSegmentPage is a page of segments, oldest first.
type AuditSegmentPage struct {
	Segments   []AuditSegment `json:"results"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// AuditBundle is the offline proof of one sealed segment, format
// engram.audit.bundle/v1 (docs/AUDIT-PROOFS.md). First and Last are leaf
// indices (seq - 1).
type AuditBundle struct {
	Format      string                  `json:"format"`
	Tenant      string                  `json:"tenant"`
	First       uint64                  `json:"first"`
	Last        uint64                  `json:"last"`
	Entries     [][]byte                `json:"entries"`
	Checkpoint  string                  `json:"checkpoint"`
	Inclusion   [][][]byte              `json:"inclusion"`
	Consistency *AuditBundleConsistency `json:"consistency,omitempty"`
}

// AuditBundleConsistency links an older checkpoint to the bundle's.
type AuditBundleConsistency struct {
	Checkpoint string   `json:"checkpoint"`
	Proof      [][]byte `json:"proof"`
}

// AuditHold is a legal hold: while it exists the tenant's audit segments
// are never dropped by retention, and erasure in its scope (the whole
// tenant, or one end user) is refused with CodeConflict. Only a short
// reason code is stored, never free text; the user appears as its
// pseudonym.
type AuditHold struct {
	ID         string    `json:"id"`
	ReasonCode string    `json:"reason_code"`
	User       string    `json:"user,omitempty"` // pseudonym of the held user_id
	CreatedAt  time.Time `json:"created_at"`
}

// AuditHoldRequest creates a hold; UserID (optional) narrows it to one end
// user.
type AuditHoldRequest struct {
	ReasonCode string `json:"reason_code"`
	UserID     string `json:"user_id,omitempty"`
}

// Limits of the audit proof endpoints.
const (
	// MaxAuditSegmentsPage bounds one page of segments.
	MaxAuditSegmentsPage = 100
	// MaxAuditRetentionDays is the longest retention (100 years).
	MaxAuditRetentionDays = 36500
	// MaxAuditHolds bounds the holds of one tenant.
	MaxAuditHolds = 100
)

// AuditProofService serves the sealed, signed side of the principal's
// tenant's trail. Every method needs audit:read and is itself recorded
// (audit.read), like AuditService. Holds and retention need audit:read
// too (owners and admins hold it).
type AuditProofService interface {
	AuditCheckpoint(ctx context.Context) (*AuditCheckpointInfo, error)
	// VerifyTenantAudit checks the caller's whole chain (audit:read); its
	// cost grows with the trail.
	VerifyTenantAudit(ctx context.Context) (*AuditVerification, error)
	AuditKeys(ctx context.Context) ([]AuditVerifierKey, error)
	AuditInclusion(ctx context.Context, seq, size uint64) (*AuditInclusionProof, error)
	AuditConsistency(ctx context.Context, from, to uint64) (*AuditConsistencyProof, error)
	AuditSegments(ctx context.Context, cursor string, limit int) (*AuditSegmentPage, error)
	AuditSegmentBundle(ctx context.Context, first uint64) (*AuditBundle, error)
	CreateAuditHold(ctx context.Context, req AuditHoldRequest) (*AuditHold, error)
	ListAuditHolds(ctx context.Context) ([]AuditHold, error)
	ReleaseAuditHold(ctx context.Context, id string) error
}

// Audit actions of the sealed trail.
const (
	AuditSweep        AuditAction = "audit.sweep"
	AuditHoldCreate   AuditAction = "audit.hold.create"
	AuditHoldRelease  AuditAction = "audit.hold.release"
	AuditRetentionSet AuditAction = "audit.retention"
	// AuditKeyRotate records a rotation of the checkpoint signing key
	// (system chain; the target id is the new version).
	AuditKeyRotate AuditAction = "audit.key.rotate"
)

// CodeHeld is the error code of an erasure refused by a legal hold.
const CodeHeld = "legal_hold"
