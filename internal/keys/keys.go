// Package keys holds Engram's key hierarchy:
//
//	KEK (local file or KMS)
//	 ├─ pepper (system): HMAC key of API key secrets
//	 └─ tenant key (random, one per tenant)
//	     ├─ subject keys (random, one per user_id; one per account)
//	     └─ HKDF purposes: search-token key, content-MAC key
//
// Every data key is random and wrapped by its parent, never derived from
// it, so destroying a subject key shreds that subject's data for good.
// HKDF is used only to separate purposes of one key. Each wrapped key is
// bound by its AAD to (tenant, owner, purpose, version): a wrapped key
// copied to another owner does not unwrap.
package keys

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
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
	PurposeSubject = "subject"
)

// cacheTTL bounds how long an unwrapped key stays in memory; revoking a
// KMS grant takes effect within it.
const cacheTTL = 5 * time.Minute

// maxCached bounds the cache; past it the cache is cleared (a cheap,
// predictable policy: keys reload from the store on demand).
const maxCached = 50_000

// Ring loads, creates and caches keys. It is safe for concurrent use.
type Ring struct {
	st  store.Store
	kek kek.KEK
	now engram.Clock

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	key     seal.Key
	expires time.Time
}

// New returns a ring over st whose root is k.
func New(st store.Store, k kek.KEK, now engram.Clock) *Ring {
	if now == nil {
		now = time.Now
	}
	return &Ring{st: st, kek: k, now: now, cache: map[string]cached{}}
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

// NewTenantKey makes a tenant key and wraps it under the KEK. The caller
// stores the wrapped key in the transaction that creates the tenant.
func (r *Ring) NewTenantKey(ctx context.Context, tenantID string) (seal.Key, *store.WrappedKey, error) {
	k, err := newKey(1)
	if err != nil {
		return k, nil, err
	}
	w, err := r.kek.Wrap(ctx, encodeKey(k), kekAAD(tenantID, PurposeTenant, 1))
	if err != nil {
		return k, nil, fmt.Errorf("wrap tenant key: %w", err)
	}
	return k, &store.WrappedKey{TenantID: tenantID, Purpose: PurposeTenant, Version: 1, Wrapped: w, CreatedAt: r.now().UTC()}, nil
}

// NewSubjectKey makes a subject key wrapped by the tenant key tk.
func (r *Ring) NewSubjectKey(tk seal.Key, tenantID, subject string) (seal.Key, *store.WrappedKey, error) {
	k, err := newKey(1)
	if err != nil {
		return k, nil, err
	}
	w, err := seal.Seal(tk, childContext(tenantID, PurposeSubject, subject, 1), encodeKey(k))
	if err != nil {
		return k, nil, fmt.Errorf("wrap subject key: %w", err)
	}
	return k, &store.WrappedKey{TenantID: tenantID, Purpose: PurposeSubject, Owner: subject, Version: 1, Wrapped: w, CreatedAt: r.now().UTC()}, nil
}

func (r *Ring) get(name string) (seal.Key, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.cache[name]
	if !ok || r.now().After(c.expires) {
		return seal.Key{}, false
	}
	return c.key, true
}

func (r *Ring) put(name string, k seal.Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.cache) >= maxCached {
		clear(r.cache)
	}
	r.cache[name] = cached{key: k, expires: r.now().Add(cacheTTL)}
}

// Forget drops every cached key of a tenant's subject (after shredding) or,
// with subject "", of the whole cache entry for the tenant key.
func (r *Ring) Forget(tenantID, subject string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prefix := tenantID + "\x00" + subject + "\x00"
	for name := range r.cache {
		if len(name) >= len(prefix) && name[:len(prefix)] == prefix {
			delete(r.cache, name)
		}
	}
}

func cacheName(tenantID, owner, purpose string, version int) string {
	return tenantID + "\x00" + owner + "\x00" + purpose + "\x00" + strconv.Itoa(version)
}

// TenantKey returns the tenant's key (version 1 until rotation lands).
func (r *Ring) TenantKey(ctx context.Context, tenantID string) (seal.Key, error) {
	const version = 1
	name := cacheName(tenantID, "", PurposeTenant, version)
	if k, ok := r.get(name); ok {
		return k, nil
	}
	var w *store.WrappedKey
	err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		w, err = tx.Key(ctx, tenantID, PurposeTenant, "", version)
		return err
	})
	if err != nil {
		return seal.Key{}, fmt.Errorf("load tenant key: %w", err)
	}
	raw, err := r.kek.Unwrap(ctx, w.Wrapped, kekAAD(tenantID, PurposeTenant, version))
	if err != nil {
		return seal.Key{}, fmt.Errorf("unwrap tenant key: %w", err)
	}
	k, err := decodeKey(raw, version)
	if err != nil {
		return k, err
	}
	r.put(name, k)
	return k, nil
}

// SubjectKey returns a subject's key of the given version.
func (r *Ring) SubjectKey(ctx context.Context, tenantID, subject string, version int) (seal.Key, error) {
	name := cacheName(tenantID, subject, PurposeSubject, version)
	if k, ok := r.get(name); ok {
		return k, nil
	}
	var w *store.WrappedKey
	err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		w, err = tx.Key(ctx, tenantID, PurposeSubject, subject, version)
		return err
	})
	if err != nil {
		return seal.Key{}, fmt.Errorf("load subject key: %w", err)
	}
	return r.openSubjectKey(ctx, name, w)
}

func (r *Ring) openSubjectKey(ctx context.Context, name string, w *store.WrappedKey) (seal.Key, error) {
	tk, err := r.TenantKey(ctx, w.TenantID)
	if err != nil {
		return seal.Key{}, err
	}
	raw, err := seal.Open(tk, childContext(w.TenantID, PurposeSubject, w.Owner, w.Version), w.Wrapped)
	if err != nil {
		return seal.Key{}, fmt.Errorf("unwrap subject key: %w", err)
	}
	k, err := decodeKey(raw, w.Version)
	if err != nil {
		return k, err
	}
	r.put(name, k)
	return k, nil
}

// CurrentSubjectKey returns the newest key of a subject, creating the
// subject's first key when it has none. Creation commits in its own
// transaction before the caller's write, so a key is never cached unless it
// is stored; an orphan key left by a failed write is harmless.
func (r *Ring) CurrentSubjectKey(ctx context.Context, tenantID, subject string) (seal.Key, error) {
	var w *store.WrappedKey
	err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		w, err = tx.LatestKey(ctx, tenantID, PurposeSubject, subject)
		return err
	})
	if err == nil {
		return r.openSubjectKey(ctx, cacheName(tenantID, subject, PurposeSubject, w.Version), w)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return seal.Key{}, fmt.Errorf("load subject key: %w", err)
	}
	tk, err := r.TenantKey(ctx, tenantID)
	if err != nil {
		return seal.Key{}, err
	}
	k, nw, err := r.NewSubjectKey(tk, tenantID, subject)
	if err != nil {
		return k, err
	}
	err = r.st.Write(ctx, func(tx store.Tx) error { return tx.PutKey(ctx, nw) })
	if errors.Is(err, store.ErrConflict) {
		// Another writer created it first: use theirs.
		return r.SubjectKey(ctx, tenantID, subject, 1)
	}
	if err != nil {
		return seal.Key{}, fmt.Errorf("store subject key: %w", err)
	}
	r.put(cacheName(tenantID, subject, PurposeSubject, 1), k)
	return k, nil
}

// Purpose keys derived from the tenant key with HKDF. They separate uses of
// one secret; they are not data keys and are never stored.
const (
	PurposeSearch = "engram/search-token/v1"
	PurposeMAC    = "engram/content-mac/v1"
)

// Derived returns the tenant's 32-byte key for purpose.
func (r *Ring) Derived(ctx context.Context, tenantID, purpose string) ([]byte, error) {
	tk, err := r.TenantKey(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, tk.Secret, []byte(tenantID), purpose, 32)
}

// Pepper returns the system-wide API key pepper, creating it on first use.
// The database holds it only wrapped by the KEK.
func (r *Ring) Pepper(ctx context.Context) ([]byte, int, error) {
	const version = 1
	name := cacheName("", "", PurposePepper, version)
	if k, ok := r.get(name); ok {
		return k.Secret, version, nil
	}
	aad := kekAAD("", PurposePepper, version)
	var w *store.WrappedKey
	err := r.st.Read(ctx, func(tx store.Tx) (err error) {
		w, err = tx.Key(ctx, "", PurposePepper, "", version)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		k, nerr := newKey(version)
		if nerr != nil {
			return nil, 0, nerr
		}
		wrapped, werr := r.kek.Wrap(ctx, encodeKey(k), aad)
		if werr != nil {
			return nil, 0, fmt.Errorf("wrap pepper: %w", werr)
		}
		w = &store.WrappedKey{Purpose: PurposePepper, Version: version, Wrapped: wrapped, CreatedAt: r.now().UTC()}
		err = r.st.Write(ctx, func(tx store.Tx) error { return tx.PutKey(ctx, w) })
		if errors.Is(err, store.ErrConflict) {
			return r.Pepper(ctx)
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("load pepper: %w", err)
	}
	raw, err := r.kek.Unwrap(ctx, w.Wrapped, aad)
	if err != nil {
		return nil, 0, fmt.Errorf("unwrap pepper: %w", err)
	}
	k, err := decodeKey(raw, version)
	if err != nil {
		return nil, 0, err
	}
	r.put(name, k)
	return k.Secret, version, nil
}
