// Package store defines what Engram needs from a database, and nothing
// more. The database is untrusted: every sensitive field arrives here already
// sealed (see internal/seal), and search terms arrive as blind tokens. Scope
// ids, ids, timestamps, sizes and key versions are the only values stored in
// clear.
//
// Implementations: sqlite (embedded default), postgres (several nodes on
// one database). Each passes storetest.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/engram-memory/engram"
)

// Sentinel errors implementations return (wrapped or bare); branch with
// errors.Is.
var (
	// ErrNotFound: no such record in that tenant.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique constraint would be violated.
	ErrConflict = errors.New("store: conflict")
	// ErrFull: the database could not grow (the disk is full). It is an
	// *engram.Error, so whatever path it takes it reaches the client as
	// insufficient_storage (507), never as an internal error; nothing of
	// the failed transaction was written.
	ErrFull error = &engram.Error{Code: engram.CodeInsufficientStorage,
		Message: "the server is out of storage space; nothing was written"}
	// ErrTimedOut: the transaction's context ended (the request's deadline
	// passed, its client went away) before it could commit, so it was
	// rolled back. An *engram.Error (unavailable) like ErrFull, so clients
	// and the audit trail see a timeout, not an internal error.
	ErrTimedOut error = &engram.Error{Code: engram.CodeUnavailable,
		Message: "the request did not finish in time and was not carried out; try again"}
)

// Store opens transactions. A function passed to Read or Write runs inside
// one transaction; Write commits when fn returns nil and rolls back
// otherwise (and on panic), so an action and everything it records land
// together or not at all. Writes are serialised per tenant: a write sees
// every committed write of the tenants it touches and no other write of
// them runs until it ends (the embedded store serialises all writes; the
// PostgreSQL store locks each tenant, the system rows as one more, and all
// of them for a write that reaches across tenants). Reads run concurrently
// with writes, and each Read sees one consistent snapshot. Never call Write
// from inside Write or Read: a writer holds a connection and its locks.
// Write never commits once ctx is done (a request past its deadline, a
// client gone): it rolls back and returns ErrTimedOut wrapping ctx.Err().
//
// Times go in any zone and come back in UTC, truncated to microseconds.
// Methods that change one record (UpdateMemory, DeleteMemory, TouchAPIKey,
// RevokeAPIKey, UpdateKey, DeleteKey, ReplaceHistory, ReplaceAccount,
// SetVector, DeleteTenant) return ErrNotFound when it does not exist in the
// tenant. Orderings by name or owner are byte order.
type Store interface {
	Leases

	Read(ctx context.Context, fn func(Tx) error) error
	Write(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// Tx is one transaction. Every method that reads or writes tenant data takes
// the tenant id and never crosses it: a record of another tenant is
// ErrNotFound.
type Tx interface {
	ObserveTx
	RetentionTx
	DeletionTx
	ImportTx
	VisibilityTx
	IdentityTx
	SSOTx
	OAuthTx
	SnapshotTx
	ChangeTx

	CreateTenant(ctx context.Context, t *Tenant) error // ErrConflict on a taken name
	Tenant(ctx context.Context, id string) (*Tenant, error)
	TenantByName(ctx context.Context, name string) (*Tenant, error)

	CreateAccount(ctx context.Context, a *Account) error
	Account(ctx context.Context, tenantID, id string) (*Account, error)

	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKey looks a key up by id alone: authentication learns the tenant
	// from the key.
	APIKey(ctx context.Context, id string) (*APIKey, error)
	ListAPIKeys(ctx context.Context, tenantID string) ([]APIKey, error)
	// RevokeAPIKey sets RevokedAt; revoking a revoked key keeps the first
	// time. ErrNotFound when the key is not in the tenant.
	RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time) error
	TouchAPIKey(ctx context.Context, id string, at time.Time) error

	// PutKey stores a wrapped key; ErrConflict when (tenant, purpose,
	// owner, version) exists.
	PutKey(ctx context.Context, k *WrappedKey) error
	Key(ctx context.Context, tenantID, purpose, owner string, version int) (*WrappedKey, error)
	// LatestKey returns the highest version.
	LatestKey(ctx context.Context, tenantID, purpose, owner string) (*WrappedKey, error)

	// InsertMemory stores m and its postings.
	InsertMemory(ctx context.Context, m *Memory, postings []Posting) error
	Memory(ctx context.Context, tenantID, id string) (*Memory, error)
	// Memories returns the memories among ids that exist in the tenant, in
	// no particular order.
	Memories(ctx context.Context, tenantID string, ids []string) ([]Memory, error)
	// MemoryHeads is Memories without the sealed fields and the subject:
	// Content, Metadata, ContentMAC and Vector are nil; Subject,
	// VectorModel, KeyVersion, DocLen and UpdatedAt are zero. It is what
	// ranking and access checks read of every candidate of a search, from
	// a covering index.
	MemoryHeads(ctx context.Context, tenantID string, ids []string) ([]Memory, error)
	// MemoryTexts is Memories without the sealed vector (Vector nil): what
	// a read that answers with content decrypts.
	MemoryTexts(ctx context.Context, tenantID string, ids []string) ([]Memory, error)
	// MemoryByMAC finds a memory with exactly this scope and content MAC.
	MemoryByMAC(ctx context.Context, tenantID string, scope engram.Scope, mac []byte) (*Memory, error)
	// UpdateMemory rewrites content, metadata, vector and vector model, key
	// version, MAC, doc length, UpdatedAt, visibility and ExpiresAt of an existing memory and
	// replaces its postings.
	UpdateMemory(ctx context.Context, m *Memory, postings []Posting) error
	// Vectors returns up to limit memories of the tenant that have a vector
	// of model, in id order, starting after the id `after` ("" from the
	// start): a page of what the in-memory vector index loads.
	Vectors(ctx context.Context, tenantID, model, after string, limit int) ([]Memory, error)
	// MissingVectors returns up to limit memories of the tenant without a
	// vector of model (new, or made by another model), oldest first.
	MissingVectors(ctx context.Context, tenantID, model string, limit int) ([]Memory, error)
	// SetVector stores a memory's sealed vector; the memory's key version
	// must be the one that sealed it. ErrNotFound when missing.
	SetVector(ctx context.Context, tenantID, id string, keyVersion int, vector []byte, model string) error
	// DeleteMemory removes the memory and its postings (history stays).
	DeleteMemory(ctx context.Context, tenantID, id string) error
	// ListMemories returns up to limit (≥ 1) memories matching every
	// non-empty scope field, ordered by id descending (ids are time-ordered),
	// starting after the id `before` when it is not empty.
	ListMemories(ctx context.Context, tenantID string, scope engram.Scope, before string, limit int) ([]Memory, error)

	InsertHistory(ctx context.Context, h *History) error
	// History returns a memory's history, oldest first; an empty slice (not
	// an error) when there is none.
	History(ctx context.Context, tenantID, memoryID string) ([]History, error)

	// SearchPostings returns, for the memories matching scope, every
	// posting of the given tokens, and the corpus statistics of the scope.
	SearchPostings(ctx context.Context, tenantID string, scope engram.Scope, tokens [][]byte) (*Postings, error)
	// DocPostings pages through a tenant's memories in id order (ids
	// greater than after, at most limit), each with its scope, length and
	// every posting: what an in-memory keyword index is built from. Every
	// memory is listed, those without postings too, because they count in
	// the BM25 statistics.
	DocPostings(ctx context.Context, tenantID, after string, limit int) ([]DocPostings, error)

	// Keys lists a tenant's keys of one purpose ("" tenant: system keys),
	// every owner and version, ordered by owner then version.
	Keys(ctx context.Context, tenantID, purpose string) ([]WrappedKey, error)
	// UpdateKey replaces Wrapped and ParentVersion of an existing key (a
	// rewrap: the key itself does not change). ErrNotFound when missing.
	UpdateKey(ctx context.Context, k *WrappedKey) error
	// DeleteKey destroys one key version. ErrNotFound when missing.
	DeleteKey(ctx context.Context, tenantID, purpose, owner string, version int) error

	// StaleRecords returns up to limit records of the tenant sealed under an
	// older version of their subject key than the subject's newest.
	StaleRecords(ctx context.Context, tenantID string, limit int) ([]StaleRecord, error)
	// CountStale counts them; tenantID "" counts every tenant.
	CountStale(ctx context.Context, tenantID string) (int, error)
	// HistoryEntry returns one history entry by id.
	HistoryEntry(ctx context.Context, tenantID, id string) (*History, error)
	// HistoryAfter pages through every history entry of a tenant in id
	// order (ids greater than after, at most limit): a scan, for repair.
	HistoryAfter(ctx context.Context, tenantID, after string, limit int) ([]History, error)
	// DeleteHistoryEntry removes one history entry (repair of an entry that
	// can no longer be opened). ErrNotFound when missing.
	DeleteHistoryEntry(ctx context.Context, tenantID, id string) error
	// ReplaceHistory rewrites an entry's sealed fields and key version.
	ReplaceHistory(ctx context.Context, h *History) error
	// ReplaceAccount rewrites an account's sealed fields and key version.
	ReplaceAccount(ctx context.Context, a *Account) error

	// DeleteSubject erases a subject: its memories (vectors included), their
	// postings, its history entries and every version of its subject key,
	// in this transaction. Accounts are not subjects of erasure here: an
	// account is removed with its tenant.
	DeleteSubject(ctx context.Context, tenantID, subject string) (*Erasure, error)
	// DeleteTenant erases a tenant and everything it holds, its audit chain
	// included (the erasure itself is recorded in the system chain).
	DeleteTenant(ctx context.Context, tenantID string) (*Erasure, error)
	// ListTenants lists every tenant, by name.
	ListTenants(ctx context.Context) ([]Tenant, error)

	// TenantKEK returns the tenant's own KEK configuration (BYOK);
	// ErrNotFound when the tenant uses the system KEK.
	TenantKEK(ctx context.Context, tenantID string) (*TenantKEK, error)
	// PutTenantKEK sets (inserts or replaces) it.
	PutTenantKEK(ctx context.Context, k *TenantKEK) error

	// Idempotency returns the record of (tenant, principal, key): each
	// principal has its own key space, so a key another principal used is
	// ErrNotFound.
	Idempotency(ctx context.Context, tenantID, principal, key string) (*Idempotency, error)
	PutIdempotency(ctx context.Context, i *Idempotency) error // ErrConflict when (tenant, principal, key) exists
	// DeleteIdempotencyBefore removes records created before t in every
	// tenant: it is a retention sweep, not a tenant operation.
	DeleteIdempotencyBefore(ctx context.Context, t time.Time) error

	// AppendAudit stores one audit record and sets its chain's head, in
	// this transaction. ErrConflict when the seq exists in the chain.
	AppendAudit(ctx context.Context, r *AuditRecord, h *AuditHead) error
	// AuditHead returns a chain's head ("" tenant: the system chain);
	// ErrNotFound when the chain is empty.
	AuditHead(ctx context.Context, tenantID string) (*AuditHead, error)
	// ListAudit returns up to f.Limit (≥ 1) records of the chain matching
	// every non-empty filter, newest first, with seq < f.Before when
	// Before is not 0.
	ListAudit(ctx context.Context, tenantID string, f AuditFilter) ([]AuditRecord, error)
	// AuditRange returns up to limit records of the chain with seq > after,
	// in seq order: what verification walks.
	AuditRange(ctx context.Context, tenantID string, after uint64, limit int) ([]AuditRecord, error)
	// AuditChains lists the tenant ids that have audit records or a head
	// ("" for the system chain), in byte order.
	AuditChains(ctx context.Context) ([]string, error)
	// AuditWatermarks returns every chain that has a head, in byte order of
	// tenant id, with its head seq and its publication watermark (0 when
	// none was set).
	AuditWatermarks(ctx context.Context) ([]AuditWatermark, error)
	// SetAuditPublished raises the chain's publication watermark to seq;
	// a lower seq leaves it unchanged, so the watermark never moves back.
	SetAuditPublished(ctx context.Context, tenantID string, seq uint64) error

	// Sealed segments (docs/AUDIT.md). Seqs count from 1; the log tree's
	// leaf i is seq i+1.
	//
	// AuditTree returns the chain's log tree state after its latest seal;
	// ErrNotFound before the first seal.
	AuditTree(ctx context.Context, tenantID string) (*AuditTree, error)
	// SealAuditSegment stores a sealed segment, the nodes its seal computed
	// and the new tree state, in this transaction. ErrConflict when the
	// segment's first seq is already sealed.
	SealAuditSegment(ctx context.Context, s *AuditSegment, nodes []AuditNode, tree *AuditTree) error
	// AuditSegments returns up to limit segments (tombstones included)
	// with first seq > after, in order.
	AuditSegments(ctx context.Context, tenantID string, after uint64, limit int) ([]AuditSegment, error)
	// AuditSegment returns the segment starting at first; ErrNotFound.
	AuditSegment(ctx context.Context, tenantID string, first uint64) (*AuditSegment, error)
	// LatestAuditSegment returns the chain's newest segment; ErrNotFound.
	LatestAuditSegment(ctx context.Context, tenantID string) (*AuditSegment, error)
	// AuditSegmentCovering returns the segment holding seq; ErrNotFound.
	AuditSegmentCovering(ctx context.Context, tenantID string, seq uint64) (*AuditSegment, error)
	// AuditNodes returns the stored node hashes for ids, in order, with
	// nil for a node not stored.
	AuditNodes(ctx context.Context, tenantID string, ids []AuditNodeID) ([][]byte, error)
	// DropAuditSegment deletes the entries of the segment starting at
	// first and the nodes strictly inside it (leaves included), and marks
	// it dropped at t: the row becomes its tombstone. ErrNotFound when no
	// such live segment exists. It returns the entries deleted.
	DropAuditSegment(ctx context.Context, tenantID string, first uint64, t time.Time) (int, error)
	// AuditRetention returns the chain's retention in days; ErrNotFound
	// when the default applies. SetAuditRetention sets it.
	AuditRetention(ctx context.Context, tenantID string) (int, error)
	SetAuditRetention(ctx context.Context, tenantID string, days int) error
	// PutAuditHold stores a legal hold (ErrConflict on a taken id);
	// AuditHolds lists a tenant's holds, oldest first; DeleteAuditHold
	// removes one (ErrNotFound).
	PutAuditHold(ctx context.Context, h *AuditHold) error
	AuditHolds(ctx context.Context, tenantID string) ([]AuditHold, error)
	DeleteAuditHold(ctx context.Context, tenantID, id string) error
}

// AuditTree is a chain's log tree after a seal: its size (= the last
// sealed seq) and compact range.
type AuditTree struct {
	TenantID string
	Size     uint64
	Frontier [][]byte
}

// AuditSegment is a sealed run [First, Last] of a chain's seqs: its
// standalone root, its compact range in the log tree, the tree after the
// seal, the signed checkpoint and the chain MAC of entry Last. DroppedAt
// is set once retention deleted its entries (the row is then a tombstone).
type AuditSegment struct {
	TenantID   string
	First      uint64
	Last       uint64
	Root       []byte
	Range      [][]byte
	TreeSize   uint64
	TreeRoot   []byte
	Checkpoint []byte
	ChainMAC   []byte
	SealedAt   time.Time
	DroppedAt  *time.Time
}

// AuditNodeID names a perfect subtree of the log tree (level 0: a leaf).
type AuditNodeID struct {
	Level uint
	Index uint64
}

// AuditNode is a stored node hash.
type AuditNode struct {
	ID   AuditNodeID
	Hash []byte
}

// AuditHold is a legal hold on a tenant's trail and erasures: UserRef is
// the pseudonym of a held user_id ("" holds the whole tenant).
type AuditHold struct {
	TenantID   string
	ID         string
	UserRef    string
	ReasonCode string
	CreatedAt  time.Time
}

// AuditRecord is a stored audit entry: the entry, the version of the audit
// key its MAC was made under, and its chain MAC. Every field is metadata
// (ids, pseudonyms, codes, times); none is sealed.
type AuditRecord struct {
	Entry      engram.AuditEntry
	KeyVersion int
	MAC        []byte
}

// AuditHead is the latest seq and MAC of a chain, authenticated by HeadMAC.
type AuditHead struct {
	TenantID   string
	Seq        uint64
	MAC        []byte
	KeyVersion int
	HeadMAC    []byte
}

// AuditWatermark is how far a chain's publication to the audit sinks has
// got: every entry with seq <= Published was accepted by a sink; Head is
// the chain's last seq.
type AuditWatermark struct {
	TenantID  string
	Head      uint64
	Published uint64
}

// AuditFilter selects audit records; empty fields match everything.
type AuditFilter struct {
	Actor      string
	Action     string
	TargetType string
	TargetID   string
	Outcome    string
	Since      *time.Time // inclusive
	Until      *time.Time // exclusive
	Before     uint64
	Limit      int
}

// Tenant as stored.
type Tenant struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// PurposeSubject is the purpose of subject keys: the records' Subject
// column names the owner of a wrapped key of this purpose.
const PurposeSubject = "subject"

// Account as stored: Name and Email are sealed envelopes under the key of
// Subject, version KeyVersion.
type Account struct {
	ID         string
	TenantID   string
	Role       string
	Subject    string
	KeyVersion int
	Name       []byte
	Email      []byte
	CreatedAt  time.Time
}

// APIKey as stored: only the MAC of the secret, never the secret.
type APIKey struct {
	ID            string
	TenantID      string
	AccountID     string
	Name          string
	Prefix        string
	Scopes        []string
	SecretMAC     []byte
	PepperVersion int
	CreatedAt     time.Time
	ExpiresAt     *time.Time
	LastUsedAt    *time.Time
	RevokedAt     *time.Time
}

// WrappedKey is a key sealed under its parent. TenantID is "" for system
// keys (the API key pepper); Owner is "" for a tenant's own key.
// ParentVersion is the version of the wrapping key (0 when the KEK wraps
// it).
type WrappedKey struct {
	TenantID      string
	Purpose       string
	Owner         string
	Version       int
	ParentVersion int
	Wrapped       []byte
	CreatedAt     time.Time
}

// TenantKEK is a tenant's own key-encryption key: the provider name and its
// configuration (which holds credentials), wrapped by the system KEK.
type TenantKEK struct {
	TenantID  string
	Provider  string
	Config    []byte
	CreatedAt time.Time
}

// StaleRecord names a record sealed under an old key version.
type StaleRecord struct {
	Kind       string // "memory", "history", "account", "episode", "entity", "fact" or "sso_config" (ID is the tenant id)
	ID         string
	Subject    string
	KeyVersion int
}

// Erasure counts what an erasure removed.
type Erasure struct {
	Memories int `json:"memories"`
	History  int `json:"history"`
	Keys     int `json:"keys"`
	Accounts int `json:"accounts,omitempty"`
	APIKeys  int `json:"api_keys,omitempty"`
	Episodes int `json:"episodes,omitempty"`
	Entities int `json:"entities,omitempty"`
	Facts    int `json:"facts,omitempty"`
}

// Memory as stored. Content and Metadata are sealed envelopes (Metadata is
// nil when there is none); ContentMAC is a keyed MAC of the normalised
// content used to find exact duplicates; Subject names the key that seals it.
type Memory struct {
	ID         string
	TenantID   string
	UserID     string
	AgentID    string
	RunID      string
	Subject    string
	KeyVersion int
	Content    []byte
	Metadata   []byte
	ContentMAC []byte
	// Vector is the sealed embedding made by VectorModel (nil and "" when
	// the memory has none yet).
	Vector      []byte
	VectorModel string
	DocLen      int
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// AuthorID is the account that wrote it ("" for memories written
	// before accounts: shared); Private: only its author (and reach Any)
	// may see it (visibility.go).
	AuthorID string
	Private  bool
	// ExpiresAt is the memory's own expiry (mem0's expiration_date; nil:
	// none), in clear: the retention sweep finds due memories by it.
	ExpiresAt *time.Time
}

// History is one change to a memory; Old and New are sealed (nil when empty).
type History struct {
	ID         string
	TenantID   string
	MemoryID   string
	Subject    string
	KeyVersion int
	Event      string
	Old        []byte
	New        []byte
	CreatedAt  time.Time
	// AuthorID and Private are the memory's when the entry was written:
	// history is as readable as its memory was.
	AuthorID string
	Private  bool
}

// Posting says a blind token occurs TF times in a memory. A memory's
// postings hold each token once.
type Posting struct {
	Token []byte
	TF    int
}

// DocPostings is one memory as the keyword index sees it.
type DocPostings struct {
	MemoryID string
	Scope    engram.Scope
	AuthorID string // and Private: who may find it (visibility.go)
	Private  bool
	DocLen   int
	Postings []Posting // each token once, in no particular order
}

// Postings is the raw material of a BM25 ranking.
type Postings struct {
	Docs     int   // memories in scope
	TotalLen int64 // sum of their DocLen
	Matches  []Match
}

// Match is one posting of a query token in a memory in scope.
type Match struct {
	MemoryID string
	Token    []byte
	TF       int
	DocLen   int
}

// Idempotency remembers the outcome of a POST made with an Idempotency-Key.
// Result holds only ids and events, never content.
type Idempotency struct {
	TenantID string
	// Principal names who made the request (the engine stores its API key
	// id): a record only ever answers the principal that made it.
	Principal   string
	Key         string
	RequestHash []byte
	Result      []byte
	CreatedAt   time.Time
}
