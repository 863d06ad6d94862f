package engram

import (
	"context"
	"time"
)

// AuditEntry is one record of the tamper-evident audit trail: who did what
// to which target, when, from where, and how it ended. It never holds
// memory content, queries, metadata values, key secrets or any personal
// identifier in clear: the actor and personal targets (an end user's
// user_id) are keyed pseudonyms, so erasing a user never breaks the chain.
//
// Entries of one tenant form one HMAC chain numbered from 1 (Seq). Entries
// that name no tenant (authentication failures with an unknown key, tenant
// creation and erasure) form the system chain, tenant id "".
type AuditEntry struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	TenantID string    `json:"tenant_id"`
	// Actor is the pseudonym of the acting account ("" when unknown: an
	// authentication failure, or an operator command).
	Actor string `json:"actor,omitempty"`
	// KeyID is the id (never the secret) of the API key used or presented.
	KeyID  string      `json:"key_id,omitempty"`
	Action AuditAction `json:"action"`
	// TargetType names the kind of record acted on ("memory", "api_key",
	// "user", "tenant", "audit"); TargetID its id, pseudonymised when it
	// is a personal identifier (user_id).
	TargetType string       `json:"target_type,omitempty"`
	TargetID   string       `json:"target_id,omitempty"`
	Outcome    AuditOutcome `json:"outcome"`
	// Reason is a short stable code for a failure or denial (an error code
	// such as "not_found", or an authentication reason such as "revoked").
	// Never an error message: those may echo input.
	Reason    string `json:"reason,omitempty"`
	IP        string `json:"ip,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	Transport string `json:"transport,omitempty"`
	// Count is the number of events an aggregated entry stands for: an
	// auth.failure entry counts the credentials refused from one source
	// in one window. 0 (omitted) for an entry that records one action.
	Count uint64 `json:"count,omitempty"`
	// Detail is what a compliance record keeps of a completed deletion
	// (account.deletion.complete, user.deletion.complete); nil for every
	// other entry.
	Detail *AuditDetail `json:"detail,omitempty"`
}

// AuditDetail is a deletion's compliance record: how many records of each
// kind were erased ("memories", "api_keys", …) and when the deletion was
// requested and scheduled for (the entry's Time is when it completed).
// Never content, never an identifier in clear.
type AuditDetail struct {
	Counts       map[string]uint64 `json:"counts"`
	RequestedAt  time.Time         `json:"requested_at"`
	ScheduledFor time.Time         `json:"scheduled_for"`
}

// AuditAction names what an entry records. Values are stable: stored
// entries and their MACs depend on them.
type AuditAction string

// Actions recorded. Authentication successes are not entries of their own:
// every action an authenticated key takes is recorded with its key id.
// Authentication failures are aggregated: one auth.failure entry per chain,
// source, reason (and key, when the id names one) and window, with Count.
const (
	AuditAuthFailure  AuditAction = "auth.failure"
	AuditKeyCreate    AuditAction = "key.create"
	AuditKeyRevoke    AuditAction = "key.revoke"
	AuditKeyList      AuditAction = "key.list"
	AuditMemoryCreate AuditAction = "memory.create"
	AuditMemoryRead   AuditAction = "memory.read"
	AuditMemoryUpdate AuditAction = "memory.update"
	AuditMemoryDelete AuditAction = "memory.delete"
	AuditMemorySearch AuditAction = "memory.search"
	AuditMemoryList   AuditAction = "memory.list"
	AuditMemoryHist   AuditAction = "memory.history"
	AuditMemoryExport AuditAction = "memory.export"
	// AuditMemoryImport: an import into the tenant (who, how many records).
	AuditMemoryImport AuditAction = "memory.import"
	// AuditMemoryRepair: `engram repair` removed records of a memory that
	// could no longer be decrypted (target: the memory's id).
	AuditMemoryRepair AuditAction = "memory.repair"
	AuditUserForget   AuditAction = "user.forget"
	AuditKeysRotate   AuditAction = "keys.rotate"
	AuditTenantCreate AuditAction = "tenant.create"
	AuditTenantForget AuditAction = "tenant.forget"
	AuditTenantKEK    AuditAction = "tenant.kek"
	// AuditTenantSetting: an operator changed a tenant setting (data
	// minimisation of Observe).
	AuditTenantSetting AuditAction = "tenant.setting"
	AuditRead          AuditAction = "audit.read"
	// AuditRetentionSweep: the retention sweep deleted a tenant's due
	// memories (Count: how many; target: the tenant, with the counts per
	// reason), or found them due and kept them under a legal hold
	// (outcome failure, reason held).
	AuditRetentionSweep AuditAction = "retention.sweep"
	// AuditNodeBackup and AuditNodeRestore: an operator took a backup of
	// the node (target: the backup's SHA-256, short) or installed one
	// (reason "rollback" when it was older than a kept audit checkpoint,
	// "unchecked" when no checkpoint was given to compare). System chain.
	AuditNodeBackup  AuditAction = "node.backup"
	AuditNodeRestore AuditAction = "node.restore"

	// Observe (docs/OBSERVE.md). An observe is one episode.create entry;
	// the memories, entities and facts it made are listed in the episode,
	// not as entries of their own.
	AuditEpisodeCreate AuditAction = "episode.create"
	AuditEpisodeRead   AuditAction = "episode.read"
	// AuditEpisodeExtract: an LLM extraction of a pending episode ended
	// (applied, or failed for good); recorded by the worker, not a caller.
	AuditEpisodeExtract AuditAction = "episode.extract"
	AuditEntityRead     AuditAction = "entity.read"
	AuditEntityWrite    AuditAction = "entity.write"
	AuditEntityMerge    AuditAction = "entity.merge"
	AuditEntityForget   AuditAction = "entity.forget"
	AuditFactCreate     AuditAction = "fact.create"
	AuditFactRead       AuditAction = "fact.read"
	AuditFactDelete     AuditAction = "fact.delete"
)

// AuditOutcome says how the action ended.
type AuditOutcome string

// Outcomes: denied is an authenticated caller lacking the permission (403);
// failure is anything else that did not succeed (401, 404, invalid input,
// an outage).
const (
	OutcomeSuccess AuditOutcome = "success"
	OutcomeFailure AuditOutcome = "failure"
	OutcomeDenied  AuditOutcome = "denied"
)

// Target types of audit entries.
const (
	TargetMemory  = "memory"
	TargetAPIKey  = "api_key"
	TargetUser    = "user"
	TargetTenant  = "tenant"
	TargetAudit   = "audit"
	TargetEpisode = "episode"
	TargetEntity  = "entity"
	TargetFact    = "fact"
	// TargetNode: the node's store as a whole (a backup, a restore).
	TargetNode = "node"
)

// AuditQuery filters the principal's tenant's trail. Every field is
// optional; results come newest first. Actor and TargetID accept a
// pseudonym as shown in entries, or a raw account id / user_id, which the
// service pseudonymises before matching.
type AuditQuery struct {
	Actor      string
	Action     AuditAction
	TargetType string
	TargetID   string
	Outcome    AuditOutcome
	Since      *time.Time // inclusive
	Until      *time.Time // exclusive
	Limit      int        // default DefaultAuditLimit, at most MaxAuditLimit
	Cursor     string     // from a previous page's NextCursor
}

// AuditPage is one page of entries.
type AuditPage struct {
	Entries    []AuditRecord `json:"results"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// AuditRecord is an entry as it is stored in its chain, as GET /v1/audit
// returns it and as sinks receive it: the entry, the version of the
// tenant's audit key and the chain MAC (hex) that covers it and every
// entry before it. A receiver that keeps the MACs can later show that the
// database was rolled back or rewritten: the MAC of seq n never changes.
type AuditRecord struct {
	AuditEntry
	KeyVersion int    `json:"key_version"`
	MAC        string `json:"mac"`
}

// Limits of audit queries.
const (
	DefaultAuditLimit = 50
	MaxAuditLimit     = 100
)

// AuditService reads the principal's tenant's audit trail. It needs the
// audit:read permission (owners and admins); a denied read is itself
// recorded, and so is every successful one.
type AuditService interface {
	ListAudit(ctx context.Context, q AuditQuery) (*AuditPage, error)
}
