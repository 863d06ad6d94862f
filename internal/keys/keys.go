// Package keys holds Engram's key hierarchy:
//
//	KEK (local file or KMS)
//	 ├─ pepper (system): HMAC key of API key secrets
//	 └─ tenant key (random, one per tenant, versioned)
//	     ├─ subject keys (random, one per user_id; one per account; versioned)
//	     └─ index key (random) ─ HKDF purposes: search-token key, content-MAC key
//
// Every data key is random and wrapped by its parent, never derived from
// it, so destroying a subject key shreds that subject's data for good.
// HKDF is used only to separate purposes of one key. Each wrapped key is
// bound by its AAD to (tenant, owner, purpose, version): a wrapped key
// copied to another owner does not unwrap.
package keys

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
)

// Purposes of wrapped keys, stored with each.
const (
	PurposePepper  = "pepper"
	PurposeTenant  = "tenant"
	PurposeSubject = store.PurposeSubject
	// PurposeIndex is a tenant's random index key, the root of its
	// search-token and content-MAC keys. It is rewrapped, not replaced, when
	// the tenant key rotates, so the blind index stays valid.
	PurposeIndex = "index"
)

// cacheTTL bounds how long an unwrapped key stays in memory; revoking a
// KMS grant takes effect within it.
const cacheTTL = 5 * time.Minute

// maxCached bounds the cache; past it the cache is cleared (a cheap,
// predictable policy: keys reload from the store on demand).
const maxCached = 50_000

// Ring loads, creates and caches keys. It is safe for concurrent use.
type Ring struct {
	st      store.Store
	kek     kek.KEK
	now     engram.Clock
	factory KEKFactory

	// mu guards the caches; every read of the service looks keys up here
	// (several per search), so lookups share it.
	mu    sync.RWMutex
	cache map[string]cached
	keks  map[string]cachedKEK
}

// KEKFactory builds a tenant's own KEK (bring your own key) from the
// provider name and configuration stored for it.
type KEKFactory func(ctx context.Context, provider string, config []byte) (kek.KEK, error)

// Option configures a Ring.
type Option func(*Ring)

// WithTenantKEKs lets tenants put their key under their own KEK, built by f.
func WithTenantKEKs(f KEKFactory) Option { return func(r *Ring) { r.factory = f } }

type cachedKEK struct {
	k       kek.KEK
	expires time.Time
}

type cached struct {
	key seal.Key
	// wrapped is the stored form the key was unwrapped from. A subject's
	// key of a version can be destroyed (erasure) and created anew with
	// the same version number: the wrapped form, not the version, tells
	// the two generations apart.
	wrapped []byte
	expires time.Time
}

// New returns a ring over st whose root is k.
func New(st store.Store, k kek.KEK, now engram.Clock, opts ...Option) *Ring {
	if now == nil {
		now = time.Now
	}
	r := &Ring{st: st, kek: k, now: now, cache: map[string]cached{}, keks: map[string]cachedKEK{}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// kekAAD binds a KEK-wrapped key to its tenant, purpose and version.
func kekAAD(tenantID, purpose string, version int) []byte {
	return seal.AAD(seal.Context{Domain: "kek", Tenant: tenantID, Record: purpose, Field: "key"}, seal.AES256GCMSIV, uint32(version))
}

// childContext binds a key wrapped by a tenant key to its owner.
func childContext(tenantID, purpose, owner string, version int) seal.Context {
	return seal.Context{Domain: "key", Tenant: tenantID, Subject: owner, Record: purpose, Field: "v" + strconv.Itoa(version)}
}

func newKey(version int) (seal.Key, error) {
	k := seal.Key{Version: uint32(version), Secret: make([]byte, 32)}
	if _, err := rand.Read(k.ID[:]); err != nil {
		return k, err
	}
	if _, err := rand.Read(k.Secret); err != nil {
		return k, err
	}
	return k, nil
}

// encodeKey / decodeKey: a wrapped key carries its id with its secret.
func encodeKey(k seal.Key) []byte { return append(k.ID[:len(k.ID):len(k.ID)], k.Secret...) }

func decodeKey(b []byte, version int) (seal.Key, error) {
	var k seal.Key
	if len(b) != len(k.ID)+32 {
		return k, errors.New("keys: unwrapped key has the wrong size")
	}
	copy(k.ID[:], b)
	k.Secret = append([]byte(nil), b[len(k.ID):]...)
	k.Version = uint32(version)
	return k, nil
}

// NewTenantKey makes version `version` of a tenant key, wrapped under the
// KEK. The caller stores it in the transaction that needs it.
func (r *Ring) NewTenantKey(ctx context.Context, tenantID string, version int) (seal.Key, *store.WrappedKey, error) {
	k, err := newKey(version)
	if err != nil {
		return k, nil, err
	}
	root, err := r.kekFor(ctx, tenantID)
	if err != nil {
		return k, nil, err
	}
	w, err := root.Wrap(ctx, encodeKey(k), kekAAD(tenantID, PurposeTenant, version))
	if err != nil {
		return k, nil, fmt.Errorf("wrap tenant key: %w", err)
	}
	return k, &store.WrappedKey{TenantID: tenantID, Purpose: PurposeTenant, Version: version, Wrapped: w, CreatedAt: r.now().UTC()}, nil
}

// NewChildKey makes version `version` of a key of purpose/owner wrapped by
// the tenant key tk.
func (r *Ring) NewChildKey(tk seal.Key, tenantID, purpose, owner string, version int) (seal.Key, *store.WrappedKey, error) {
	k, err := newKey(version)
	if err != nil {
		return k, nil, err
	}
	w, err := r.wrapChild(tk, tenantID, purpose, owner, k)
	return k, w, err
}

func (r *Ring) wrapChild(tk seal.Key, tenantID, purpose, owner string, k seal.Key) (*store.WrappedKey, error) {
	env, err := seal.Seal(tk, childContext(tenantID, purpose, owner, int(k.Version)), encodeKey(k))
	if err != nil {
		return nil, fmt.Errorf("wrap %s key: %w", purpose, err)
	}
	return &store.WrappedKey{TenantID: tenantID, Purpose: purpose, Owner: owner, Version: int(k.Version),
		ParentVersion: int(tk.Version), Wrapped: env, CreatedAt: r.now().UTC()}, nil
}

// NewTenant makes everything a new tenant's key hierarchy needs: its key
// and its index key, wrapped, ready to store.
func (r *Ring) NewTenant(ctx context.Context, tenantID string) (seal.Key, []*store.WrappedKey, error) {
	tk, wtk, err := r.NewTenantKey(ctx, tenantID, 1)
	if err != nil {
		return tk, nil, err
	}
	_, wik, err := r.NewChildKey(tk, tenantID, PurposeIndex, "", 1)
	if err != nil {
		return tk, nil, err
	}
	return tk, []*store.WrappedKey{wtk, wik}, nil
}

func (r *Ring) get(name string) (seal.Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.cache[name]
	if !ok || r.now().After(c.expires) {
		return seal.Key{}, false
	}
	return c.key, true
}

// getWrapped is get for a key whose stored form is wrapped: a cached key
// of another generation (destroyed and re-created since) is a miss.
func (r *Ring) getWrapped(name string, wrapped []byte) (seal.Key, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.cache[name]
	if !ok || r.now().After(c.expires) || !bytes.Equal(c.wrapped, wrapped) {
		return seal.Key{}, false
	}
	return c.key, true
}

func (r *Ring) put(name string, k seal.Key, wrapped []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= maxCached {
		clear(r.cache)
	}
	r.cache[name] = cached{key: k, wrapped: wrapped, expires: r.now().Add(cacheTTL)}
}

// Forget drops the cached keys of one owner of a tenant (a subject after
// erasure), or with owner "*" every cached key of the tenant.
func (r *Ring) Forget(tenantID, owner string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prefix := tenantID + "\x00"
	if owner != "*" {
		prefix += owner + "\x00"
	} else {
		delete(r.keks, tenantID)
	}
	for name := range r.cache {
		if strings.HasPrefix(name, prefix) {
			delete(r.cache, name)
		}
	}
}

func cacheName(tenantID, owner, purpose string, version int) string {
	return tenantID + "\x00" + owner + "\x00" + purpose + "\x00" + strconv.Itoa(version)
}

func (r *Ring) read(ctx context.Context, fn func(tx store.Tx) (*store.WrappedKey, error)) (*store.WrappedKey, error) {
	var w *store.WrappedKey
	err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		w, err = fn(tx)
		return err
	})
	return w, err
}

// TenantKey returns the newest version of the tenant's key.
func (r *Ring) TenantKey(ctx context.Context, tenantID string) (seal.Key, error) {
	w, err := r.read(ctx, func(tx store.Tx) (*store.WrappedKey, error) {
		return tx.LatestKey(ctx, tenantID, PurposeTenant, "")
	})
	if err != nil {
		return seal.Key{}, fmt.Errorf("load tenant key: %w", err)
	}
	return r.openTenantKey(ctx, w)
}

// TenantKeyVersion returns one version of the tenant's key.
func (r *Ring) TenantKeyVersion(ctx context.Context, tenantID string, version int) (seal.Key, error) {
	if k, ok := r.get(cacheName(tenantID, "", PurposeTenant, version)); ok {
		return k, nil
	}
	w, err := r.read(ctx, func(tx store.Tx) (*store.WrappedKey, error) {
		return tx.Key(ctx, tenantID, PurposeTenant, "", version)
	})
	if err != nil {
		return seal.Key{}, fmt.Errorf("load tenant key: %w", err)
	}
	return r.openTenantKey(ctx, w)
}

func (r *Ring) openTenantKey(ctx context.Context, w *store.WrappedKey) (seal.Key, error) {
	name := cacheName(w.TenantID, "", PurposeTenant, w.Version)
	if k, ok := r.getWrapped(name, w.Wrapped); ok {
		return k, nil
	}
	root, err := r.kekFor(ctx, w.TenantID)
	if err != nil {
		return seal.Key{}, err
	}
	raw, err := root.Unwrap(ctx, w.Wrapped, kekAAD(w.TenantID, PurposeTenant, w.Version))
	if err != nil {
		return seal.Key{}, fmt.Errorf("unwrap tenant key: %w", err)
	}
	k, err := decodeKey(raw, w.Version)
	if err != nil {
		return k, err
	}
	r.put(name, k, w.Wrapped)
	return k, nil
}

// openChild unwraps a key wrapped by a version of its tenant key.
func (r *Ring) openChild(ctx context.Context, w *store.WrappedKey) (seal.Key, error) {
	return r.openChildWith(ctx, w, nil)
}

// readChild reads a child key's row with fn and, in the same read
// transaction, the tenant key version that wraps it (unless cached), then
// unwraps it. One snapshot matters: a rotation that commits between two
// reads rewraps the row under the new tenant key and destroys the version
// the first read named, and a write racing the rotation failed with "load
// tenant key: not found". w is nil when fn found no row (err is then fn's).
func (r *Ring) readChild(ctx context.Context, fn func(tx store.Tx) (*store.WrappedKey, error)) (k seal.Key, w *store.WrappedKey, err error) {
	var (
		known  bool // k is the child's key, from the cache
		tk     seal.Key
		parent *store.WrappedKey
	)
	err = r.st.Read(ctx, func(tx store.Tx) error {
		row, err := fn(tx)
		if err != nil {
			return err
		}
		w = row
		if k, known = r.getWrapped(cacheName(w.TenantID, w.Owner, w.Purpose, w.Version), w.Wrapped); known {
			return nil
		}
		var ok bool
		if tk, ok = r.get(cacheName(w.TenantID, "", PurposeTenant, w.ParentVersion)); ok {
			return nil
		}
		if parent, err = tx.Key(ctx, w.TenantID, PurposeTenant, "", w.ParentVersion); err != nil {
			return fmt.Errorf("load tenant key: %w", err)
		}
		return nil
	})
	if err != nil || known {
		return k, w, err
	}
	if parent != nil {
		if tk, err = r.openTenantKey(ctx, parent); err != nil {
			return seal.Key{}, w, err
		}
	}
	k, err = r.openChildWith(ctx, w, &tk)
	return k, w, err
}

// openChildWith is openChild under the given parent tenant key (nil: the
// version the row names, from the cache or the store).
func (r *Ring) openChildWith(ctx context.Context, w *store.WrappedKey, parent *seal.Key) (seal.Key, error) {
	name := cacheName(w.TenantID, w.Owner, w.Purpose, w.Version)
	if k, ok := r.getWrapped(name, w.Wrapped); ok {
		return k, nil
	}
	var tk seal.Key
	var err error
	if parent != nil {
		tk = *parent
	} else if tk, err = r.TenantKeyVersion(ctx, w.TenantID, w.ParentVersion); err != nil {
		return seal.Key{}, err
	}
	raw, err := seal.Open(tk, childContext(w.TenantID, w.Purpose, w.Owner, w.Version), w.Wrapped)
	if err != nil {
		return seal.Key{}, fmt.Errorf("unwrap %s key: %w", w.Purpose, err)
	}
	k, err := decodeKey(raw, w.Version)
	if err != nil {
		return k, err
	}
	r.put(name, k, w.Wrapped)
	return k, nil
}

// ErrSubjectKeyGone: the subject key version that sealed a record no
// longer exists (erased, or retired), so the record can never be opened.
// It is also a store.ErrNotFound.
var ErrSubjectKeyGone = fmt.Errorf("keys: subject key destroyed: %w", store.ErrNotFound)

// SubjectKey returns a subject's key of the given version.
func (r *Ring) SubjectKey(ctx context.Context, tenantID, subject string, version int) (seal.Key, error) {
	if k, ok := r.get(cacheName(tenantID, subject, PurposeSubject, version)); ok {
		return k, nil
	}
	return r.ReloadSubjectKey(ctx, tenantID, subject, version)
}

// ReloadSubjectKey is SubjectKey from the store's current row: a cached
// key of a generation destroyed since (erased and re-created under the
// same version, possibly by another process) is not used.
func (r *Ring) ReloadSubjectKey(ctx context.Context, tenantID, subject string, version int) (seal.Key, error) {
	k, w, err := r.readChild(ctx, func(tx store.Tx) (*store.WrappedKey, error) {
		return tx.Key(ctx, tenantID, PurposeSubject, subject, version)
	})
	if w == nil && errors.Is(err, store.ErrNotFound) {
		return seal.Key{}, ErrSubjectKeyGone
	}
	if w == nil && err != nil {
		return seal.Key{}, fmt.Errorf("load subject key: %w", err)
	}
	return k, err
}

// CurrentSubjectKey returns the newest key of a subject, creating the
// subject's first key when it has none. Creation commits in its own
// transaction before the caller's write, so a key is never used unless it
// is stored; an orphan key left by a failed write is harmless.
func (r *Ring) CurrentSubjectKey(ctx context.Context, tenantID, subject string) (seal.Key, error) {
	k, _, err := r.CurrentSubjectKeyGen(ctx, tenantID, subject)
	return k, err
}

// CurrentSubjectKeyGen is CurrentSubjectKey that also returns the key's
// stored (wrapped) form, which identifies this generation of the key: a
// writer checks, inside its transaction, that the row still holds exactly
// these bytes, so that it never commits under a key an erasure destroyed
// (even when a new key of the same version was created since).
func (r *Ring) CurrentSubjectKeyGen(ctx context.Context, tenantID, subject string) (seal.Key, []byte, error) {
	k, w, err := r.readChild(ctx, func(tx store.Tx) (*store.WrappedKey, error) {
		return tx.LatestKey(ctx, tenantID, PurposeSubject, subject)
	})
	if w != nil {
		return k, w.Wrapped, err
	}
	if !errors.Is(err, store.ErrNotFound) {
		return seal.Key{}, nil, fmt.Errorf("load subject key: %w", err)
	}
	tk, err := r.TenantKey(ctx, tenantID)
	if err != nil {
		return seal.Key{}, nil, err
	}
	k, nw, err := r.NewChildKey(tk, tenantID, PurposeSubject, subject, 1)
	if err != nil {
		return k, nil, err
	}
	err = r.st.Write(ctx, func(tx store.Tx) error {
		// A rotation that committed since TenantKey destroyed the parent:
		// a key wrapped under it would be lost.
		if _, err := tx.Key(ctx, tenantID, PurposeTenant, "", int(tk.Version)); err != nil {
			return fmt.Errorf("tenant key version %d: %w", tk.Version, err)
		}
		return tx.PutKey(ctx, nw)
	})
	if errors.Is(err, store.ErrConflict) {
		// Another writer created it first: use theirs.
		return r.CurrentSubjectKeyGen(ctx, tenantID, subject)
	}
	if err != nil {
		return seal.Key{}, nil, fmt.Errorf("store subject key: %w", err)
	}
	r.put(cacheName(tenantID, subject, PurposeSubject, 1), k, nw.Wrapped)
	return k, nw.Wrapped, nil
}

// Purpose keys derived from the tenant's index key with HKDF. They separate
// uses of one secret; they are not data keys and are never stored.
const (
	PurposeSearch = "engram/search-token/v1"
	PurposeMAC    = "engram/content-mac/v1"
	// PurposeExport seeds the tenant's Ed25519 export signing key: derived,
	// so nothing new is stored and every node signs with the same key.
	PurposeExport = "engram/export-signing/v1"
)

// Derived returns the tenant's 32-byte key for purpose.
func (r *Ring) Derived(ctx context.Context, tenantID, purpose string) ([]byte, error) {
	ik, ok := r.get(cacheName(tenantID, "", PurposeIndex, 1))
	if !ok {
		var w *store.WrappedKey
		var err error
		ik, w, err = r.readChild(ctx, func(tx store.Tx) (*store.WrappedKey, error) {
			return tx.Key(ctx, tenantID, PurposeIndex, "", 1)
		})
		if w == nil && err != nil {
			return nil, fmt.Errorf("load index key: %w", err)
		}
		if err != nil {
			return nil, err
		}
	}
	return hkdf.Key(sha256.New, ik.Secret, []byte(tenantID), purpose, 32)
}

// Pepper returns the system-wide API key pepper, creating it on first use.
// The database holds it only wrapped by the KEK.
func (r *Ring) Pepper(ctx context.Context) ([]byte, int, error) {
	return r.systemKey(ctx, PurposePepper)
}

// Purposes of system-wide keys derived from the pepper. Like it, they
// are never stored: a database thief cannot link an email's blind index
// to an address, nor forge a token digest.
const (
	PurposeSessionDigest = "engram/session-digest/v1"
	PurposeEmailIndex    = "engram/email-index/v1"
	PurposeAccountToken  = "engram/account-token/v1"
	// PurposeOAuthForm keys the CSRF tokens of the OAuth consent page:
	// every node derives the same key, so a form shown by one node may be
	// posted to another.
	PurposeOAuthForm = "engram/oauth-form/v1"
)

// SystemDerived returns a 32-byte system-wide key for purpose, derived
// from the pepper with HKDF. It may create the pepper, so it must not run
// inside a store transaction.
func (r *Ring) SystemDerived(ctx context.Context, purpose string) ([]byte, error) {
	pepper, _, err := r.Pepper(ctx)
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, pepper, nil, purpose, 32)
}

// Audit keys. A tenant's are derived from its index key, which erasing a
// user never touches and rotating keys rewraps without changing: an entry
// chained today still verifies after both. The system chain (entries that
// name no tenant) has its own random root, wrapped by the KEK like the
// pepper.
const (
	PurposeAuditMAC       = "engram/audit-mac/v1"
	PurposeAuditPseudonym = "engram/audit-pseudonym/v1"
	// PurposeAuditRoot is the system audit chain's root key.
	PurposeAuditRoot = "audit"
)

// AuditKeys returns the MAC key and the pseudonym key of a tenant's audit
// chain (tenant "" is the system chain), of the given audit key version.
// Only version 1 exists: a later version would be a new derivation label.
func (r *Ring) AuditKeys(ctx context.Context, tenantID string, version int) (mac, pseudonym []byte, err error) {
	if version != 1 {
		return nil, nil, fmt.Errorf("audit key version %d does not exist", version)
	}
	if tenantID != "" {
		if mac, err = r.Derived(ctx, tenantID, PurposeAuditMAC); err != nil {
			return nil, nil, err
		}
		pseudonym, err = r.Derived(ctx, tenantID, PurposeAuditPseudonym)
		return mac, pseudonym, err
	}
	root, _, err := r.systemKey(ctx, PurposeAuditRoot)
	if err != nil {
		return nil, nil, err
	}
	if mac, err = hkdf.Key(sha256.New, root, nil, PurposeAuditMAC, 32); err != nil {
		return nil, nil, err
	}
	pseudonym, err = hkdf.Key(sha256.New, root, nil, PurposeAuditPseudonym, 32)
	return mac, pseudonym, err
}

// systemKey returns version 1 of a system-wide KEK-wrapped key, creating it
// on first use. It writes, so it must not run inside a store transaction.
func (r *Ring) systemKey(ctx context.Context, purpose string) ([]byte, int, error) {
	const version = 1
	name := cacheName("", "", purpose, version)
	if k, ok := r.get(name); ok {
		return k.Secret, version, nil
	}
	aad := kekAAD("", purpose, version)
	w, err := r.read(ctx, func(tx store.Tx) (*store.WrappedKey, error) {
		return tx.Key(ctx, "", purpose, "", version)
	})
	if errors.Is(err, store.ErrNotFound) {
		k, nerr := newKey(version)
		if nerr != nil {
			return nil, 0, nerr
		}
		wrapped, werr := r.kek.Wrap(ctx, encodeKey(k), aad)
		if werr != nil {
			return nil, 0, fmt.Errorf("wrap %s key: %w", purpose, werr)
		}
		w = &store.WrappedKey{Purpose: purpose, Version: version, Wrapped: wrapped, CreatedAt: r.now().UTC()}
		err = r.st.Write(ctx, func(tx store.Tx) error { return tx.PutKey(ctx, w) })
		if errors.Is(err, store.ErrConflict) {
			return r.systemKey(ctx, purpose)
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load %s key: %w", purpose, err)
	}
	raw, err := r.kek.Unwrap(ctx, w.Wrapped, aad)
	if err != nil {
		return nil, 0, fmt.Errorf("unwrap %s key: %w", purpose, err)
	}
	k, err := decodeKey(raw, version)
	if err != nil {
		return nil, 0, err
	}
	r.put(name, k, w.Wrapped)
	return k.Secret, version, nil
}
