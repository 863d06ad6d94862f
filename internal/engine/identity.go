package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/mail"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/mailer"
	"github.com/engram-memory/engram/internal/password"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/throttle"
)

// IdentityOptions configure how people sign in (docs/IDENTITY.md).
type IdentityOptions struct {
	// Mailer delivers invitations and reset links; nil hands invitation
	// links back to the inviter (accept_url) and sends no reset links.
	Mailer mailer.Mailer
	// PublicURL is where people reach this server ("https://engram.example.com"):
	// the base of the links in emails.
	PublicURL string
	// PasswordParams override argon2id's cost (tests only; production
	// uses password.OWASP).
	PasswordParams *password.Params
	// Sessions sets token lifetimes; zero values take session's defaults.
	Sessions session.Policy
}

// WithIdentity configures sign-in. Without it an engine still signs
// people in, with OWASP parameters, no mailer and links relative to
// http://127.0.0.1:8420 (the default listen address).
func WithIdentity(o IdentityOptions) Option { return func(e *Engine) { e.idOpts = o } }

// identity is what sign-in needs at run time, built on first use because
// its keys come from the key hierarchy (which may write).
type identity struct {
	hasher   *password.Hasher
	digest   *session.Digester
	issuer   *session.Issuer
	gate     *throttle.Gate
	emailKey []byte
	tokenKey []byte
	mail     mailer.Mailer
	linkOnly bool
	base     string
}

// identityOnce builds identity once; every later request (each access
// token's authentication) reads it without taking the lock.
type identityOnce struct {
	mu sync.Mutex
	id atomic.Pointer[identity]
}

// ident returns the identity machinery, building it on first use. It must
// not run inside a store transaction.
func (e *Engine) ident(ctx context.Context) (*identity, error) {
	if id := e.idOnce.id.Load(); id != nil {
		return id, nil
	}
	e.idOnce.mu.Lock()
	defer e.idOnce.mu.Unlock()
	if id := e.idOnce.id.Load(); id != nil {
		return id, nil
	}
	o := e.idOpts
	params := password.OWASP
	if o.PasswordParams != nil {
		params = *o.PasswordParams
	}
	// Hashing is bounded to the cores: a burst of logins queues instead
	// of allocating 19 MiB each at once.
	h, err := password.New(params, rand.Reader, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	id := &identity{hasher: h, gate: throttle.NewGate(), mail: o.Mailer, base: strings.TrimRight(o.PublicURL, "/")}
	if id.mail == nil {
		id.mail, id.linkOnly = mailer.LinkOnly{}, true
	}
	if id.base == "" {
		id.base = "http://127.0.0.1:8420"
	}
	dk, err := e.ring.SystemDerived(ctx, keys.PurposeSessionDigest)
	if err != nil {
		return nil, keyFailure(err)
	}
	if id.digest, err = session.NewDigester(dk); err != nil {
		return nil, err
	}
	if id.issuer, err = session.NewIssuer(id.digest, rand.Reader, o.Sessions); err != nil {
		return nil, err
	}
	if id.emailKey, err = e.ring.SystemDerived(ctx, keys.PurposeEmailIndex); err != nil {
		return nil, keyFailure(err)
	}
	if id.tokenKey, err = e.ring.SystemDerived(ctx, keys.PurposeAccountToken); err != nil {
		return nil, keyFailure(err)
	}
	e.idOnce.id.Store(id)
	return id, nil
}

// Limits of identity input.
const (
	maxEmail      = 254 // RFC 5321's path limit
	maxMemberName = 200
)

// normalEmail checks an address and returns the form its blind index is
// computed from: a bare address, lowercased (addresses are compared
// case-insensitively in practice, and a login must not fail on case).
func normalEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmail || !utf8.ValidString(s) {
		return "", invalid("email must be an address of at most 254 bytes")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", invalid("email must be a bare address like name@example.com")
	}
	return strings.ToLower(s), nil
}

// emailIndex is the blind index of an address: an HMAC under a system key
// that is never stored, so the database alone does not tell who has an
// account. The address must have gone through normalEmail.
func (id *identity) emailIndex(email string) []byte {
	m := hmac.New(sha256.New, id.emailKey)
	m.Write([]byte(strings.ToLower(email)))
	return m.Sum(nil)
}

// emailIndex is identity's, for code that holds only the engine.
func (e *Engine) emailIndex(ctx context.Context, email string) ([]byte, error) {
	id, err := e.ident(ctx)
	if err != nil {
		return nil, err
	}
	return id.emailIndex(email), nil
}

// One-time account tokens: 32 random bytes behind a prefix that says what
// they are, kept only as an HMAC digest bound to their purpose.
const accountTokenPrefix = "egot_"

func newAccountToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return accountTokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

func (id *identity) tokenDigest(purpose, token string) []byte {
	m := hmac.New(sha256.New, id.tokenKey)
	m.Write([]byte(purpose))
	m.Write([]byte{0})
	m.Write([]byte(token))
	return m.Sum(nil)
}

// validAccountToken bounds what is hashed before any lookup.
func validAccountToken(t string) bool {
	return strings.HasPrefix(t, accountTokenPrefix) && len(t) == len(accountTokenPrefix)+43
}

// prepareMember makes a new account's record: a fresh id, its subject key
// (created now, outside any transaction, as key creation writes), and the
// sealed name and email. The caller inserts it with tx.CreateAccount and
// its login with tx.PutLogin in its own transaction.
func (e *Engine) prepareMember(ctx context.Context, tenantID, email, name string, role engram.Role) (*store.Account, error) {
	acct := &store.Account{ID: newID(), TenantID: tenantID, Role: string(role), CreatedAt: e.clock()}
	acct.Subject = "a:" + acct.ID
	k, _, err := e.ring.CurrentSubjectKeyGen(ctx, tenantID, acct.Subject)
	if err != nil {
		return nil, keyFailure(err)
	}
	acct.KeyVersion = int(k.Version)
	if err := e.sealAccount(k, acct, email, name); err != nil {
		return nil, err
	}
	return acct, nil
}

// sealAccount seals an account's email and name (an empty name is kept
// empty) under k.
func (e *Engine) sealAccount(k seal.Key, acct *store.Account, email, name string) (err error) {
	if acct.Email, err = e.fields.Seal(k, accountContext(acct.TenantID, acct.Subject, acct.ID, "email"), []byte(email)); err != nil {
		return err
	}
	acct.Name, err = e.fields.Seal(k, accountContext(acct.TenantID, acct.Subject, acct.ID, "name"), []byte(name))
	return err
}

// openAccount opens an account's email and name.
func (e *Engine) openAccount(o *opener, acct *store.Account) (email, name string, err error) {
	em, err := o.open(acct.Subject, accountContext(acct.TenantID, acct.Subject, acct.ID, "email"), acct.Email)
	if err != nil {
		return "", "", err
	}
	nm, err := o.open(acct.Subject, accountContext(acct.TenantID, acct.Subject, acct.ID, "name"), acct.Name)
	return string(em), string(nm), err
}

// startSession begins a session family for acct inside tx and returns its
// first pair (the tokens are never stored, only their digests). method is
// "password", "oidc", "saml" or "oauth"; scopes is nil for a person's own
// session and the granted scopes for an OAuth client, whose principal is
// then Delegated. The caller audits.
func (e *Engine) startSession(ctx context.Context, tx store.Tx, acct *store.Account, method string, scopes []engram.Permission) (*engram.Tokens, error) {
	return e.startSessionFor(ctx, tx, acct, method, scopes, "")
}

// startSessionFor is startSession recording the OAuth client the session
// was granted to.
func (e *Engine) startSessionFor(ctx context.Context, tx store.Tx, acct *store.Account, method string, scopes []engram.Permission, clientID string) (*engram.Tokens, error) {
	id := e.idOnce.id.Load()
	if id == nil {
		return nil, errors.New("identity not initialised: call ident before the transaction")
	}
	var sc []string
	if scopes != nil {
		sc = []string{}
		for _, s := range scopes {
			sc = append(sc, string(s))
		}
	}
	f, g, err := id.issuer.Start(e.clock(), session.Subject{TenantID: acct.TenantID, AccountID: acct.ID, Method: method, Scopes: sc})
	if err != nil {
		return nil, err
	}
	if err := tx.InsertSessionFamily(ctx, &store.SessionFamily{Family: *f, ClientID: clientID}); err != nil {
		return nil, err
	}
	return e.storeGrant(ctx, tx, f, g)
}

// storeGrant stores a grant's digests and returns its tokens.
func (e *Engine) storeGrant(ctx context.Context, tx store.Tx, f *session.Family, g *session.Grant) (*engram.Tokens, error) {
	if err := tx.InsertRefreshToken(ctx, &g.Refresh); err != nil {
		return nil, err
	}
	if err := tx.InsertAccessToken(ctx, &g.Access); err != nil {
		return nil, err
	}
	return &engram.Tokens{AccessToken: g.AccessToken, RefreshToken: g.RefreshToken, TokenType: "Bearer",
		ExpiresIn: int(g.ExpiresIn / time.Second), Scope: strings.Join(f.Scopes, " "),
		AccessExpiresAt: g.Access.ExpiresAt, RefreshExpiresAt: g.Refresh.ExpiresAt}, nil
}
