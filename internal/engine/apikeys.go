package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/auth/apikey"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
)

// touchEvery limits how often last_used_at is written: once a minute per
// key is enough to tell a live key from a dead one, and keeps
// authentication from writing on every request.
const touchEvery = time.Minute

var errBadKey = engram.Errorf(engram.CodeUnauthenticated, "invalid or expired API key")

// Authenticate turns a bearer token into a principal. A refused key is
// counted for an aggregated audit entry (authfailures.go), never written
// on the request's path.
//
// A well-formed key with an unknown id and one with a known id and a wrong
// secret do the same work: one MAC, one key lookup in one read
// transaction, one constant-time comparison with a 32-byte MAC, one
// in-memory count; the account is read only once the secret matched. So
// response time does not tell which ids exist (TestAuthEqualWork,
// BenchmarkAuthUnknownID vs BenchmarkAuthWrongSecret).
func (e *Engine) Authenticate(ctx context.Context, token string) (*engram.Principal, error) {
	if strings.HasPrefix(token, session.AccessPrefix) {
		return e.authenticateSession(ctx, token)
	}
	tok, err := apikey.Parse(token)
	if err != nil {
		e.authFailure(ctx, "", "", "malformed")
		return nil, errBadKey
	}
	pepper, _, err := e.ring.Pepper(ctx)
	if err != nil {
		return nil, err
	}
	got := apikey.MAC(pepper, tok.Secret)
	var k *store.APIKey
	var acct *store.Account
	match := false
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		stored := unknownKeyMAC[:]
		k, err = tx.APIKey(ctx, tok.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			k = nil
		case err != nil:
			return err
		default:
			stored = k.SecretMAC
		}
		if match = apikey.Equal(got, stored) && k != nil; !match {
			return nil
		}
		acct, err = tx.Account(ctx, k.TenantID, k.AccountID)
		return err
	})
	if err != nil {
		return nil, err
	}
	if k == nil {
		// The id names no key: the tenant is unknown, so the system chain
		// records it.
		e.authFailure(ctx, "", "", "unknown_key")
		return nil, errBadKey
	}
	now := e.clock()
	reason := ""
	switch {
	case !match:
		reason = "wrong_secret"
	case k.RevokedAt != nil:
		reason = "revoked"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		reason = "expired"
	}
	if reason != "" {
		e.authFailure(ctx, k.TenantID, k.ID, reason)
		return nil, errBadKey
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= touchEvery {
		if err := e.st.Write(ctx, func(tx store.Tx) error { return tx.TouchAPIKey(ctx, k.ID, now) }); err != nil {
			return nil, err
		}
	}
	// A key never holds more than its account's role allows, even if the
	// role was lowered after the key was made.
	role := engram.Role(acct.Role)
	var perms []engram.Permission
	for _, s := range k.Scopes {
		if slices.Contains(role.Permissions(), engram.Permission(s)) {
			perms = append(perms, engram.Permission(s))
		}
	}
	return &engram.Principal{TenantID: k.TenantID, AccountID: k.AccountID, KeyID: k.ID, Role: role, Permissions: perms}, nil
}

// unknownKeyMAC is what a presented secret is compared with when its id
// names no key: a MAC of the stored length that no secret produces in
// practice (all zero), so the comparison costs what a real one does.
var unknownKeyMAC [32]byte

// newKey makes a key for an account and its stored form.
func (e *Engine) newKey(ctx context.Context, tenantID, accountID, name string, scopes []engram.Permission, expires *time.Time) (*engram.NewAPIKey, *store.APIKey, error) {
	tok, secret, err := apikey.Generate(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	pepper, version, err := e.ring.Pepper(ctx)
	if err != nil {
		return nil, nil, err
	}
	now := e.clock()
	sk := &store.APIKey{
		ID: tok.ID, TenantID: tenantID, AccountID: accountID, Name: name, Prefix: tok.Prefix(),
		SecretMAC: apikey.MAC(pepper, tok.Secret), PepperVersion: version, CreatedAt: now, ExpiresAt: expires,
	}
	for _, s := range scopes {
		sk.Scopes = append(sk.Scopes, string(s))
	}
	return &engram.NewAPIKey{APIKey: publicKey(sk), Secret: secret}, sk, nil
}

func publicKey(k *store.APIKey) engram.APIKey {
	out := engram.APIKey{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, AccountID: k.AccountID, Scopes: []engram.Permission{},
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
	}
	for _, s := range k.Scopes {
		out.Scopes = append(out.Scopes, engram.Permission(s))
	}
	return out
}

// CreateKey makes a key for the calling account. It may not grant a
// permission the caller does not hold.
func (e *Engine) CreateKey(ctx context.Context, req engram.CreateKeyRequest) (_ *engram.NewAPIKey, err error) {
	a := e.begin(ctx, engram.AuditKeyCreate, engram.TargetAPIKey, "")
	defer func() { err = a.finish(err) }()
	p, err := a.authorize(engram.PermKeysAdmin)
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > engram.MaxKeyNameBytes || !utf8.ValidString(name) {
		return nil, invalid("name must be 1 to %d bytes of UTF-8", engram.MaxKeyNameBytes)
	}
	if apikey.Contains(name) {
		// Names are stored and listed in clear: a secret pasted here
		// would be kept for good.
		return nil, invalid("name must not contain an API key")
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = p.Permissions
	}
	seen := map[engram.Permission]bool{}
	var uniq []engram.Permission
	for _, s := range scopes {
		if !s.Valid() {
			return nil, invalid("unknown scope %q", s)
		}
		if !p.Can(s) {
			return nil, engram.Errorf(engram.CodeForbidden, "cannot grant %q: the calling key does not hold it", s)
		}
		if !seen[s] {
			seen[s] = true
			uniq = append(uniq, s)
		}
	}
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC().Truncate(time.Microsecond)
		if !t.After(e.clock()) {
			return nil, invalid("expires_at must be in the future")
		}
		if err := checkTime("expires_at", t); err != nil {
			return nil, err
		}
		req.ExpiresAt = &t
	}
	nk, sk, err := e.newKey(ctx, p.TenantID, p.AccountID, name, uniq, req.ExpiresAt)
	if err != nil {
		return nil, err
	}
	a.entry.TargetID = sk.ID
	if err := e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateAPIKey(ctx, sk); err != nil {
			return err
		}
		return a.record(tx)
	}); err != nil {
		return nil, err
	}
	return nk, nil
}

// ListKeys lists the tenant's keys, secrets excluded (they are not stored).
func (e *Engine) ListKeys(ctx context.Context) (_ []engram.APIKey, err error) {
	a := e.begin(ctx, engram.AuditKeyList, engram.TargetAPIKey, "")
	defer func() { err = a.finish(err) }()
	p, err := a.authorize(engram.PermKeysAdmin)
	if err != nil {
		return nil, err
	}
	var rows []store.APIKey
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		rows, err = tx.ListAPIKeys(ctx, p.TenantID)
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]engram.APIKey, 0, len(rows))
	for i := range rows {
		out = append(out, publicKey(&rows[i]))
	}
	return out, nil
}

// RevokeKey revokes a key of the tenant; the next request with it fails.
// The id must have a key id's form before anything is looked up or
// recorded: a secret pasted in its place answers not_found and its entry
// names no target, so it never reaches the trail. The rules of who may
// revoke what are in keyrules.go.
func (e *Engine) RevokeKey(ctx context.Context, id string) (err error) {
	a := e.begin(ctx, engram.AuditKeyRevoke, engram.TargetAPIKey, "")
	defer func() { err = a.finish(err) }()
	p, err := a.authorize(engram.PermKeysAdmin)
	if err != nil {
		return err
	}
	if !apikey.ValidID(id) {
		return engram.Errorf(engram.CodeNotFound, "key not found")
	}
	a.entry.TargetID = id
	err = e.st.Write(ctx, func(tx store.Tx) error {
		// Checked inside the write transaction, so two revocations racing
		// cannot both see another owner key left.
		if err := e.mayRevoke(ctx, tx, p, id); err != nil {
			return err
		}
		if err := tx.RevokeAPIKey(ctx, p.TenantID, id, e.clock()); err != nil {
			return err
		}
		return a.record(tx)
	})
	return notFound(err, "key")
}
