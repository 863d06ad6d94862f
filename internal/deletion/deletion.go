// Package deletion holds the rules of deletion with a grace period
// (docs/LIFECYCLE.md, "Deletion"): how long the grace lasts, when a
// deletion is due, which states follow which, and what an account may
// still do while its deletion is pending. The engine authorises, erases
// and audits.
package deletion

import (
	"errors"
	"fmt"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
)

// Bounds of a grace period. Less than a minute is not a grace period (an
// immediate erasure is DELETE /v1/users/{id} without one); more than a
// year is a typo, and keeps a subject half-deleted for too long.
const (
	MinGrace     = time.Minute
	MaxGrace     = 8760 * time.Hour
	DefaultGrace = 168 * time.Hour
)

// ErrGrace is returned for a grace period out of bounds.
var ErrGrace = fmt.Errorf("grace must be a duration from %s to %s (e.g. 168h)", MinGrace, MaxGrace)

// ErrTransition is returned for a state change the machine does not have.
var ErrTransition = errors.New("deletion: only a pending deletion can be cancelled or completed")

// CheckGrace validates a grace period.
func CheckGrace(d time.Duration) error {
	if d < MinGrace || d > MaxGrace {
		return ErrGrace
	}
	return nil
}

// ParseGrace reads a grace period as a Go duration ("168h", "30m") and
// checks its bounds.
func ParseGrace(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, ErrGrace
	}
	return d, CheckGrace(d)
}

// Schedule returns when a deletion requested at now with grace is due:
// microsecond precision, as stores keep it, in UTC.
func Schedule(now time.Time, grace time.Duration) time.Time {
	return now.Add(grace).UTC().Truncate(time.Microsecond)
}

// Due reports whether a deletion scheduled for at is due at now.
func Due(at, now time.Time) bool { return !now.Before(at) }

// Transition checks a state change: pending → cancelled, pending → done.
// Cancelled and done are final.
func Transition(from, to string) error {
	if from == engram.DeletionPending && (to == engram.DeletionCancelled || to == engram.DeletionDone) {
		return nil
	}
	return ErrTransition
}

// allowedWhilePending are the mutating operations an account whose
// deletion is pending may still perform: each reduces what it exposes or
// moves toward the deletion (revoking a key or a session, handing the
// organisation over), none adds data.
var allowedWhilePending = map[rbac.Op]bool{
	rbac.KeyRevoke:         true,
	rbac.SessionRevoke:     true,
	rbac.OwnershipTransfer: true,
}

// ReadOnly reports whether op is refused to an account whose deletion is
// pending (CodeDeletionPending): every operation that writes, except
// those in allowedWhilePending. Reads, exports and the profile operation
// (whose writes the engine refuses itself, cancelling aside) pass.
func ReadOnly(op rbac.Op) bool {
	if allowedWhilePending[op] {
		return false
	}
	switch op {
	case rbac.MemoryCreate, rbac.MemoryUpdate, rbac.MemoryDelete, rbac.MemoryDeleteAll,
		rbac.Observe, rbac.GraphWrite, rbac.GraphDelete, rbac.EntityMerge, rbac.EntityForget,
		rbac.KeyCreate, rbac.AuditHold, rbac.AuditRetention,
		rbac.UserForget, rbac.TenantRotate, rbac.TenantSettings, rbac.TenantDelete,
		rbac.MemberInvite, rbac.MemberRoleChange, rbac.MemberRemove, rbac.MemberLeave,
		rbac.SSOConfigure:
		return true
	}
	return false
}

// Count kinds of a compliance record (engram.AuditDetail.Counts). Stable:
// they are covered by the entry's MAC.
const (
	CountAccounts = "accounts"
	CountAPIKeys  = "api_keys"
	CountSessions = "sessions"
	CountMemories = "memories"
	CountHistory  = "history"
	CountKeys     = "keys"
	CountEpisodes = "episodes"
	CountEntities = "entities"
	CountFacts    = "facts"
)
