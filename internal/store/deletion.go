package store

import (
	"context"
	"time"
)

// Deletion is a scheduled deletion as stored (docs/LIFECYCLE.md,
// "Deletion"). SubjectID is the account id or user_id while the deletion
// is pending and "" once it ended; SubjectRef is the subject's audit
// pseudonym, kept.
type Deletion struct {
	TenantID    string
	ID          string
	Kind        string
	SubjectID   string
	SubjectRef  string
	State       string
	RequestedAt time.Time
	ScheduledAt time.Time
	EndedAt     *time.Time
}

// AccountErasure counts what erasing an account removed besides its
// memories (Erasure holds those).
type AccountErasure struct {
	Erasure
	Sessions int
}

// DeletionTx is what deletion with a grace period asks of a store.
type DeletionTx interface {
	// PutDeletion stores a new pending deletion: ErrConflict when one is
	// already pending for the same subject.
	PutDeletion(ctx context.Context, d *Deletion) error
	// PendingDeletion returns the subject's pending deletion
	// (ErrNotFound when none).
	PendingDeletion(ctx context.Context, tenantID, kind, subjectID string) (*Deletion, error)
	// PendingDeletions lists a tenant's pending deletions, soonest first.
	PendingDeletions(ctx context.Context, tenantID string, limit int) ([]Deletion, error)
	// DueDeletions lists up to limit pending deletions of every tenant
	// scheduled at or before now, soonest first.
	DueDeletions(ctx context.Context, now time.Time, limit int) ([]Deletion, error)
	// EndDeletion moves a pending deletion to state (cancelled or done)
	// at at and forgets its subject id; ErrNotFound when it is not
	// pending.
	EndDeletion(ctx context.Context, tenantID, id, state string, at time.Time) error
	// EraseAccount removes an account and everything that is only its:
	// the records sealed under its own subject key (and that key, every
	// version), the memories it authored under other subjects with their
	// history and index entries, its API keys, sessions (OAuth grants
	// included), unspent OAuth codes, one-time links and login. An
	// account already removed is not an error (Accounts 0): the rest is
	// erased all the same. The caller destroys the cached key.
	EraseAccount(ctx context.Context, tenantID, accountID, subject string) (*AccountErasure, error)
}
