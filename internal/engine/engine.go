// Package engine is Engram's one service layer. Every transport (REST, MCP,
// CLI) authenticates, decodes, calls the engine and encodes; the engine
// validates, authorizes, encrypts and indexes, stores, and audits —
// so a rule enforced here holds on every path.
package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
)

// Engine implements engram.MemoryService, engram.KeyService,
// engram.TenantService and engram.Authenticator.
type Engine struct {
	st     store.Store
	ring   *keys.Ring
	now    engram.Clock
	fields fieldCipher
	vec    *vectors // nil: keyword search only
	// vecContext: conversational context from the turns' own embeddings
	// or pooled states instead of embedding the previous turns' text again
	// (contextvec.go); contextSet: chosen by an option, not the default.
	vecContext bool
	contextSet bool
	kw         *keywords // nil: keyword search reads postings from the store

	sink     audit.Sink    // nil: entries stay in the database only
	sinkErr  func(error)   // receives sink errors; may be nil
	sinkInTx bool          // fail-closed: mutating actions publish before commit
	noAudit  bool          // benchmarks only (export_test.go): measures what auditing costs
	batch    auditBatch    // group commit of entries appended on their own
	pub      backfill      // what the sink has, for the back-fill (backfill.go)
	unread   unreadLog     // records skipped because they do not open (unreadable.go)
	mails    background    // reset mails sent after the answer (members.go)
	fails    authFailures  // refused credentials of the current window (authfailures.go)
	lifetime lifetimeSweep // memories removed by retention (lifetime.go)
	deletes  deletionState // grace period and sweep counters (deletion.go)
	leads    leaderState   // background work this node leads (leases.go)

	// testHookWrite runs in Add at stage "key" (between fetching the
	// subject key and the write transaction) and "committed" (after the
	// commit, before the in-memory indexes learn of it): tests inject an
	// erasure there (export_test.go).
	testHookWrite func(stage string)

	room func() error // nil: no free-space floor (storage.go)

	llm *llmQueue // nil: Observe extracts offline, synchronously (extraction.go)

	idOpts IdentityOptions // how people sign in (identity.go)
	idOnce identityOnce
	sso    ssoState // single sign-on providers (sso.go)
}

// fieldCipher seals and opens record fields. Production always uses the
// seal package; a benchmark in this package swaps in a plaintext one to
// measure what field encryption costs, which nothing outside tests can do.
type fieldCipher interface {
	Seal(k seal.Key, c seal.Context, pt []byte) ([]byte, error)
	Open(k seal.Key, c seal.Context, env []byte) ([]byte, error)
	KeyVersion(env []byte) (uint32, error)
}

type sealCipher struct{}

func (sealCipher) Seal(k seal.Key, c seal.Context, pt []byte) ([]byte, error) {
	return seal.Seal(k, c, pt)
}

func (sealCipher) Open(k seal.Key, c seal.Context, env []byte) ([]byte, error) {
	return seal.Open(k, c, env)
}

func (sealCipher) KeyVersion(env []byte) (uint32, error) {
	h, err := seal.Parse(env)
	if err != nil {
		return 0, err
	}
	return h.KeyVersion, nil
}

var (
	_ engram.MemoryService   = (*Engine)(nil)
	_ engram.KeyService      = (*Engine)(nil)
	_ engram.TenantService   = (*Engine)(nil)
	_ engram.Authenticator   = (*Engine)(nil)
	_ engram.AuditService    = (*Engine)(nil)
	_ engram.IdentityService = (*Engine)(nil)
)

// New returns an engine over st whose keys come from ring. now may be nil
// (time.Now).
func New(st store.Store, ring *keys.Ring, now engram.Clock, opts ...Option) *Engine {
	if now == nil {
		now = time.Now
	}
	e := &Engine{st: st, ring: ring, now: now, fields: sealCipher{}, kw: newKeywords(DefaultKeywordBudget)}
	for _, o := range opts {
		o(e)
	}
	if !e.contextSet { // the default context rule (contextvec.go)
		e.vecContext = e.vec != nil && e.vec.states != nil
	}
	return e
}

// Start checks that the key hierarchy opens (the pepper unwraps), so a
// server with the wrong KEK fails at start, not on its first request.
func (e *Engine) Start(ctx context.Context) error {
	if _, _, err := e.ring.Pepper(ctx); err != nil {
		return fmt.Errorf("open key hierarchy: %w", err)
	}
	// The system audit key is created here, outside any transaction, so
	// that recording an entry never has to create a key.
	if _, _, err := e.ring.AuditKeys(ctx, "", audit.KeyVersion); err != nil {
		return fmt.Errorf("open audit key: %w", err)
	}
	if e.sink != nil {
		return e.primeBackfill(ctx)
	}
	return nil
}

// clock returns the current time in UTC truncated to what stores keep.
func (e *Engine) clock() time.Time { return e.now().UTC().Truncate(time.Microsecond) }

// newID returns a time-ordered id, so that ordering by id is ordering by
// creation.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// validID reports whether s looks like an id we issued; anything else is
// answered not-found without touching the store.
func validID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// keyFailure maps an outage of a KEK provider (a tenant's KMS that is
// down or has revoked Engram's access) to the client's 503: the request
// fails closed, and the tenant is told to retry, not that data is gone.
func keyFailure(err error) error {
	if errors.Is(err, kek.ErrUnavailable) {
		return engram.Errorf(engram.CodeUnavailable, "the tenant's key service is unavailable; try again later")
	}
	return err
}

// SetTenantKEK puts a tenant's keys under its own KEK (operator, CLI).
func (e *Engine) SetTenantKEK(ctx context.Context, name, provider string, config []byte) (_ int, err error) {
	t, err := e.TenantByName(ctx, name)
	if err != nil {
		return 0, err
	}
	// Recorded after the change (the key ring commits it in its own
	// transaction) and only under the tenant's new KEK: the audit key
	// derives from the index key, which a KEK change rewraps, not changes.
	defer func() { err = e.operator(ctx, t.ID, engram.AuditTenantKEK, engram.TargetTenant, t.ID, err) }()
	return e.ring.SetTenantKEK(ctx, t.ID, provider, config)
}

// notFound maps store.ErrNotFound to the client's not_found.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return engram.Errorf(engram.CodeNotFound, "%s not found", what)
	}
	return err
}

// subjectOf names the key that seals a memory: its end user when it has
// one, so forgetting that user shreds it; otherwise the writing account.
func subjectOf(scope engram.Scope, p *engram.Principal) string {
	if scope.UserID != "" {
		return "u:" + scope.UserID
	}
	return "a:" + p.AccountID
}

// opener opens envelopes of one tenant, fetching each subject key version
// once per call.
type opener struct {
	e      *Engine
	ctx    context.Context
	tenant string
	keys   map[string]seal.Key
}

func (e *Engine) opener(ctx context.Context, tenantID string) *opener {
	return &opener{e: e, ctx: ctx, tenant: tenantID, keys: map[string]seal.Key{}}
}

func (o *opener) open(subject string, c seal.Context, env []byte) ([]byte, error) {
	if env == nil {
		return nil, nil
	}
	version, err := o.e.fields.KeyVersion(env)
	if err != nil {
		return nil, &unreadable{fmt.Errorf("parse envelope: %w", err)}
	}
	name := fmt.Sprintf("%s\x00%d", subject, version)
	k, ok := o.keys[name]
	if !ok {
		k, err = o.e.ring.SubjectKey(o.ctx, o.tenant, subject, int(version))
		if err != nil {
			return nil, o.keyErr(err)
		}
		o.keys[name] = k
	}
	pt, err := o.e.fields.Open(k, c, env)
	if err == nil {
		return pt, nil
	}
	// The cached key may be of a generation destroyed since (erased and
	// re-created under the same version): try the stored one once.
	fresh, kerr := o.e.ring.ReloadSubjectKey(o.ctx, o.tenant, subject, int(version))
	if kerr != nil {
		return nil, o.keyErr(kerr)
	}
	o.keys[name] = fresh
	if fresh.ID != k.ID {
		if pt, err = o.e.fields.Open(fresh, c, env); err == nil {
			return pt, nil
		}
	}
	return nil, &unreadable{fmt.Errorf("open %s.%s: %w", c.Domain, c.Field, err)}
}

// key returns the key this opener used for a subject's version, if any.
func (o *opener) key(subject string, version int) (seal.Key, bool) {
	k, ok := o.keys[fmt.Sprintf("%s\x00%d", subject, version)]
	return k, ok
}

// keyErr classifies a failure to load a subject key: gone for good makes
// the record unreadable; anything else (a key service down) fails the
// request.
func (o *opener) keyErr(err error) error {
	if errors.Is(err, keys.ErrSubjectKeyGone) {
		return &unreadable{err}
	}
	return keyFailure(err)
}
