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

// whilePending classifies every operation of the permission matrix for an
// account whose deletion is pending: true refuses it (it writes), false
// lets it through (it reads, or is in allowedWhilePending). An operation
// missing here is refused: a new op is read-only-safe until classified,
// and TestReadOnlyCoversMatrix names it.
var whilePending = map[rbac.Op]bool{
	rbac.MemoryCreate: true, rbac.MemoryUpdate: true, rbac.MemoryDelete: true, rbac.MemoryDeleteAll: true,
	rbac.Observe: true, rbac.GraphWrite: true, rbac.GraphDelete: true, rbac.EntityMerge: true, rbac.EntityForget: true,
	rbac.KeyCreate: true, rbac.AuditHold: true, rbac.AuditRetention: true,
	rbac.UserForget: true, rbac.TenantRotate: true, rbac.TenantImport: true, rbac.TenantSettings: true, rbac.TenantDelete: true,
	rbac.MemberInvite: true, rbac.MemberRoleChange: true, rbac.MemberRemove: true, rbac.MemberLeave: true,
	rbac.SSOConfigure: true,

	rbac.MemoryRead: false, rbac.ScopeList: false, rbac.GraphRead: false, rbac.KeyList: false, rbac.AuditRead: false,
	rbac.TenantExport: false, rbac.UserExport: false, rbac.ExportKeys: false, rbac.MemberList: false, rbac.SSORead: false,
	// The profile operation's writes (PATCH /v1/me) the engine refuses
	// itself, cancelling aside.
	rbac.Profile: false,
}

// ReadOnly reports whether op is refused to an account whose deletion is
// pending (CodeDeletionPending): every operation that writes, except
// those in allowedWhilePending, and any operation not classified yet.
func ReadOnly(op rbac.Op) bool {
	if allowedWhilePending[op] {
		return false
	}
	refused, known := whilePending[op]
	return refused || !known
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
