package session

import (
	"time"
)

// Family is one sign-in: every refresh token rotated from the first one
// belongs to it, and revoking it ends them all and every access token
// issued under it. The store keeps one row per family.
type Family struct {
	ID        string
	TenantID  string
	AccountID string
	// Method is how the sign-in was made ("password", "oidc", "saml",
	// "oauth" for an MCP host), for the audit trail and SSO-only rules.
	Method string
	// Scopes is nil for a person's session, which acts with the account's
	// role. An OAuth grant to an MCP host sets the scopes consented to:
	// its tokens then act like an API key with them (rbac.Actor.Key),
	// never beyond the account's current role.
	Scopes []string
	// CreatedAt starts the absolute lifetime: no refresh token of the
	// family outlives CreatedAt + Policy.MaxLifetime.
	CreatedAt time.Time
	// RevokedAt is set once; RevokeReason says why (a Reason).
	RevokedAt    *time.Time
	RevokeReason Reason
}

// Revoked reports whether the family is revoked.
func (f *Family) Revoked() bool { return f.RevokedAt != nil }

// RefreshToken is what the store keeps of one refresh token: never the
// token, only its digest.
type RefreshToken struct {
	Digest   []byte
	FamilyID string
	// Generation counts rotations from the family's first token (0).
	Generation int
	IssuedAt   time.Time
	ExpiresAt  time.Time
	// SpentAt is set when the token is rotated. A spent token presented
	// again is a reuse: the family is revoked.
	SpentAt *time.Time
}

// AccessToken is what the store keeps of one access token.
type AccessToken struct {
	Digest    []byte
	FamilyID  string
	TenantID  string
	AccountID string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Reason says why a family was revoked; the audit trail records it.
type Reason string

// Reasons of revocation.
const (
	ReasonLogout    Reason = "logout"
	ReasonLogoutAll Reason = "logout_everywhere"
	ReasonReuse     Reason = "refresh_reuse"
	ReasonDemoted   Reason = "role_demoted"
	ReasonRemoved   Reason = "member_removed"
	ReasonPassword  Reason = "password_changed"
	ReasonAdmin     Reason = "revoked_by_admin"
)

// Policy sets token lifetimes.
type Policy struct {
	// AccessTTL is an access token's life. Default 15 minutes.
	AccessTTL time.Duration
	// RefreshTTL is a refresh token's life from its issue; each rotation
	// issues a new one, so an active session slides. Default 30 days.
	RefreshTTL time.Duration
	// MaxLifetime caps a family from its sign-in, however often it
	// rotates: then the user signs in again. Default 90 days.
	MaxLifetime time.Duration
}

// Defaults.
const (
	DefaultAccessTTL   = 15 * time.Minute
	DefaultRefreshTTL  = 30 * 24 * time.Hour
	DefaultMaxLifetime = 90 * 24 * time.Hour
)

func (p Policy) withDefaults() Policy {
	if p.AccessTTL <= 0 {
		p.AccessTTL = DefaultAccessTTL
	}
	if p.RefreshTTL <= 0 {
		p.RefreshTTL = DefaultRefreshTTL
	}
	if p.MaxLifetime <= 0 {
		p.MaxLifetime = DefaultMaxLifetime
	}
	return p
}
