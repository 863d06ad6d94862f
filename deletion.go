package engram

import (
	"context"
	"time"
)

// Deletion with a grace period (docs/LIFECYCLE.md, "Deletion"): an account
// that asks to be deleted, or an end user whose erasure an admin schedules,
// is first read-only for a grace period, during which the request can be
// cancelled; then the deletion sweep erases it for good and leaves only a
// pseudonymised compliance record in the audit chain.

// Error codes of deletion.
const (
	// CodeDeletionPending: a write by (or for) an account or end user
	// whose deletion is scheduled. HTTP 409. Reads and exports still work;
	// cancelling the deletion makes it writable again.
	CodeDeletionPending = "deletion_pending"
	// CodeSoleOwner: the account is its organisation's only owner, which
	// would be left without one; transfer ownership first. HTTP 409.
	CodeSoleOwner = "sole_owner"
)

// Deletion kinds.
const (
	DeletionAccount = "account"
	DeletionUser    = "user"
)

// Deletion states: pending until the grace period ends, then done;
// cancelled when withdrawn during the grace period.
const (
	DeletionPending   = "pending"
	DeletionCancelled = "cancelled"
	DeletionDone      = "done"
)

// Deletion is a scheduled deletion as the API shows it.
type Deletion struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Subject is the account id or the end user's user_id.
	Subject      string    `json:"subject"`
	State        string    `json:"state"`
	RequestedAt  time.Time `json:"requested_at"`
	ScheduledFor time.Time `json:"scheduled_for"`
}

// DeletionService schedules and cancels deletions of the principal's
// tenant. Scheduling the caller's own account needs a person signed in;
// end users' deletions need the users:forget scope (owners, admins).
type DeletionService interface {
	// DeleteMe schedules the caller's account for deletion after the
	// server's grace period. An organisation's only owner is refused
	// with CodeSoleOwner.
	DeleteMe(ctx context.Context) (*Deletion, error)
	// CancelMyDeletion withdraws it (not_found when none is pending).
	CancelMyDeletion(ctx context.Context) error
	// ScheduleUserDeletion schedules the erasure of an end user after
	// grace (see MinDeletionGrace, MaxDeletionGrace).
	ScheduleUserDeletion(ctx context.Context, userID string, grace time.Duration) (*Deletion, error)
	CancelUserDeletion(ctx context.Context, userID string) error
	// ListDeletions lists the tenant's pending deletions, soonest first.
	ListDeletions(ctx context.Context) ([]Deletion, error)
}

// Audit actions of deletion. A completion's entry carries a Detail: the
// counts of what was erased and when it was requested and scheduled; its
// target is the pseudonym of the account or user.
const (
	AuditAccountDeletionRequest  AuditAction = "account.deletion.request"
	AuditAccountDeletionCancel   AuditAction = "account.deletion.cancel"
	AuditAccountDeletionComplete AuditAction = "account.deletion.complete"
	AuditUserDeletionRequest     AuditAction = "user.deletion.request"
	AuditUserDeletionCancel      AuditAction = "user.deletion.cancel"
	AuditUserDeletionComplete    AuditAction = "user.deletion.complete"
	// AuditDeletionList: GET /v1/deletions.
	AuditDeletionList AuditAction = "deletion.list"
)
