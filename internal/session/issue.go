package session

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
)

// Issuer mints token pairs and decides rotations. It is safe for
// concurrent use; it holds no records.
type Issuer struct {
	d      *Digester
	rand   io.Reader
	policy Policy
}

// NewIssuer returns an Issuer digesting with d, drawing tokens from rand
// (crypto/rand.Reader outside tests) under policy (zero fields take the
// defaults). MaxLifetime shorter than AccessTTL is refused.
func NewIssuer(d *Digester, rand io.Reader, policy Policy) (*Issuer, error) {
	p := policy.withDefaults()
	if p.MaxLifetime < p.AccessTTL || p.RefreshTTL < p.AccessTTL {
		return nil, errors.New("session: refresh lifetimes must be at least the access lifetime")
	}
	return &Issuer{d: d, rand: rand, policy: p}, nil
}

// Policy returns the lifetimes in force (defaults filled in).
func (i *Issuer) Policy() Policy { return i.policy }

// Subject is who signs in.
type Subject struct {
	TenantID  string
	AccountID string
	Method    string
	// Scopes: nil for a person's session; the granted scopes for an OAuth
	// client (see Family.Scopes).
	Scopes []string
}

// Grant is a fresh pair: the tokens go to the client once and are never
// stored; the records go to the store.
type Grant struct {
	AccessToken  string
	RefreshToken string
	Access       AccessToken
	Refresh      RefreshToken
	// ExpiresIn is the access token's life, for "expires_in".
	ExpiresIn time.Duration
}

// Start begins a family for a subject who just proved who they are
// (password, SSO, an OAuth code exchange) and issues its first pair. The
// store inserts the family and both records.
func (i *Issuer) Start(now time.Time, s Subject) (*Family, *Grant, error) {
	id, err := uuid.NewRandomFromReader(i.rand)
	if err != nil {
		return nil, nil, fmt.Errorf("session: draw family id: %w", err)
	}
	f := &Family{ID: id.String(), TenantID: s.TenantID, AccountID: s.AccountID, Method: s.Method, CreatedAt: now,
		Scopes: append([]string(nil), s.Scopes...)}
	g, err := i.grant(now, f, 0)
	if err != nil {
		return nil, nil, err
	}
	return f, g, nil
}

func (i *Issuer) grant(now time.Time, f *Family, gen int) (*Grant, error) {
	at, err := newToken(i.rand, Access)
	if err != nil {
		return nil, err
	}
	rt, err := newToken(i.rand, Refresh)
	if err != nil {
		return nil, err
	}
	ad, _ := i.d.Digest(Access, at)
	rd, _ := i.d.Digest(Refresh, rt)
	limit := f.CreatedAt.Add(i.policy.MaxLifetime)
	aExp := earliest(now.Add(i.policy.AccessTTL), limit)
	return &Grant{
		AccessToken:  at,
		RefreshToken: rt,
		Access:       AccessToken{Digest: ad, FamilyID: f.ID, TenantID: f.TenantID, AccountID: f.AccountID, IssuedAt: now, ExpiresAt: aExp},
		Refresh:      RefreshToken{Digest: rd, FamilyID: f.ID, Generation: gen, IssuedAt: now, ExpiresAt: earliest(now.Add(i.policy.RefreshTTL), limit)},
		ExpiresIn:    aExp.Sub(now),
	}, nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Outcome is what a presented refresh token leads to.
type Outcome int

// Outcomes of Rotate. Only Rotated succeeds; the client sees every other
// one as the same 401.
const (
	// Rotated: spend the presented token, store the new pair.
	Rotated Outcome = iota + 1
	// Reused: the token was already spent. Someone holds a copy: revoke
	// the whole family (Decision.Revoke) and answer 401.
	Reused
	// Expired: the token (or its family's absolute lifetime) ran out.
	Expired
	// FamilyRevoked: the family was revoked before.
	FamilyRevoked
)

// Decision is what the store must do after a refresh token was presented.
type Decision struct {
	Outcome Outcome
	// Spend, on Rotated, is the presented token's record with SpentAt
	// set. The store must write it as a compare-and-set ("UPDATE … SET
	// spent_at = ? WHERE digest = ? AND spent_at IS NULL") in the same
	// transaction as the new pair; when no row changed, a concurrent
	// request spent it first: the store calls Reuse and applies that.
	Spend *RefreshToken
	// Grant, on Rotated, is the new pair (same family, next generation).
	Grant *Grant
	// Revoke, on Reused, is the revocation of the family to apply.
	Revoke *Revocation
}

// Rotate decides what presenting refresh token rec of family f at now
// leads to. The store looked rec up by Digest(Refresh, token) and f by
// rec.FamilyID; a token whose digest matches no record is simply 401 and
// never reaches Rotate.
//
// There is no grace period for a second use: OAuth 2.1 asks that a reused
// refresh token revoke its family, and a client that refreshes twice at
// once (two tabs) must serialise its refreshes. The web console does.
func (i *Issuer) Rotate(now time.Time, f *Family, rec RefreshToken) (Decision, error) {
	if rec.FamilyID != f.ID {
		return Decision{}, errors.New("session: refresh token of another family")
	}
	switch {
	case f.Revoked():
		return Decision{Outcome: FamilyRevoked}, nil
	case rec.SpentAt != nil:
		return i.Reuse(now, f), nil
	case !now.Before(rec.ExpiresAt) || !now.Before(f.CreatedAt.Add(i.policy.MaxLifetime)):
		return Decision{Outcome: Expired}, nil
	}
	g, err := i.grant(now, f, rec.Generation+1)
	if err != nil {
		return Decision{}, err
	}
	spent := rec
	spent.SpentAt = &now
	return Decision{Outcome: Rotated, Spend: &spent, Grant: g}, nil
}

// Reuse is the decision for a spent refresh token of family f presented
// again (or lost in a race to spend it): revoke the family.
func (i *Issuer) Reuse(now time.Time, f *Family) Decision {
	r := RevokeFamily(now, f, ReasonReuse)
	return Decision{Outcome: Reused, Revoke: &r}
}

// Errors of CheckAccess. Transports answer all of them with the same 401.
var (
	ErrExpired = errors.New("session: token expired")
	ErrRevoked = errors.New("session: session revoked")
)

// CheckAccess decides whether access token rec, of family f, admits a
// request at now. The store looked rec up by Digest(Access, token) and f
// by rec.FamilyID in the same read; the caller then loads the account's
// current membership, whose role (not one remembered in the token) is the
// principal's.
func (i *Issuer) CheckAccess(now time.Time, f *Family, rec AccessToken) error {
	switch {
	case rec.FamilyID != f.ID || rec.AccountID != f.AccountID || rec.TenantID != f.TenantID:
		return errors.New("session: access token of another family")
	case f.Revoked():
		return ErrRevoked
	case !now.Before(rec.ExpiresAt):
		return ErrExpired
	}
	return nil
}
