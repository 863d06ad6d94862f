package store

import (
	"context"
	"time"

	"github.com/engram-memory/engram/internal/session"
)

// Login is how a person's account signs in: a blind index of the email
// (the address itself is sealed on the account), the password's PHC
// string (empty for SSO-only accounts) and the account's state.
type Login struct {
	AccountID  string
	TenantID   string
	EmailIndex []byte
	// PasswordHash is an argon2id PHC string; empty when the account has
	// no password (SSO only, or an invitation not accepted yet).
	PasswordHash    string
	EmailVerifiedAt *time.Time
	// ActivatedAt is nil while the invitation is pending.
	ActivatedAt *time.Time
	UpdatedAt   time.Time
}

// Member is an account with its login (nil for a key-only account).
type Member struct {
	Account Account
	Login   *Login
}

// AccountToken is a one-time token (an invitation, an address
// verification, a password reset), kept only as its digest.
type AccountToken struct {
	Digest    []byte
	TenantID  string
	AccountID string
	Purpose   string
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// Purposes of account tokens.
const (
	TokenInvite = "invite"
	// TokenInviteLink is an invitation whose link was handed to the
	// inviter (no mail server): accepting it proves no address.
	TokenInviteLink = "invite_link"
	TokenVerify     = "verify"
	TokenReset      = "reset"
)

// SessionFamily is a session family as stored, with the OAuth client it
// was granted to (empty for a person's own session).
type SessionFamily struct {
	session.Family
	ClientID string
}

// IdentityTx is what identity (docs/IDENTITY.md) needs from a
// transaction: logins, one-time tokens and sessions. Every method that
// takes a tenant never crosses it.
type IdentityTx interface {
	// PutLogin inserts or replaces an account's login. ErrConflict when
	// another account of the tenant has the same email index.
	PutLogin(ctx context.Context, l *Login) error
	// Login returns an account's login; ErrNotFound for a key-only account.
	Login(ctx context.Context, tenantID, accountID string) (*Login, error)
	// LoginsByEmail returns every login holding the email index, in any
	// tenant, oldest account first: what a sign-in must choose among.
	LoginsByEmail(ctx context.Context, emailIndex []byte) ([]Login, error)
	// Members returns every account of the tenant with its login, oldest
	// first.
	Members(ctx context.Context, tenantID string) ([]Member, error)
	// CountOwners counts the tenant's owners that can act: key-only
	// accounts and activated logins (not pending invitations).
	CountOwners(ctx context.Context, tenantID string) (int, error)
	// SetRole changes an account's role; ErrNotFound when missing.
	SetRole(ctx context.Context, tenantID, accountID, role string) error
	// DeleteAccount removes an account with its login, tokens, sessions
	// and API keys; ErrNotFound when missing.
	DeleteAccount(ctx context.Context, tenantID, accountID string) error

	PutAccountToken(ctx context.Context, t *AccountToken) error
	AccountToken(ctx context.Context, digest []byte) (*AccountToken, error)
	// UseAccountToken marks a token used if it was not: false when it had
	// been used already (a compare-and-set).
	UseAccountToken(ctx context.Context, digest []byte, at time.Time) (bool, error)
	// DropAccountTokens deletes an account's unused tokens of a purpose
	// (a new invitation or reset link replaces the old one).
	DropAccountTokens(ctx context.Context, tenantID, accountID, purpose string) error

	InsertSessionFamily(ctx context.Context, f *SessionFamily) error
	SessionFamily(ctx context.Context, id string) (*SessionFamily, error)
	// SessionFamilies returns an account's families, newest first.
	SessionFamilies(ctx context.Context, tenantID, accountID string) ([]SessionFamily, error)
	// RevokeSessions applies a revocation to the families it covers that
	// are not revoked yet, and returns how many it revoked.
	RevokeSessions(ctx context.Context, r session.Revocation) (int, error)
	InsertRefreshToken(ctx context.Context, r *session.RefreshToken) error
	RefreshToken(ctx context.Context, digest []byte) (*session.RefreshToken, error)
	// SpendRefreshToken sets spent_at on an unspent token: false when it
	// was spent already (a concurrent refresh won).
	SpendRefreshToken(ctx context.Context, digest []byte, at time.Time) (bool, error)
	InsertAccessToken(ctx context.Context, a *session.AccessToken) error
	AccessToken(ctx context.Context, digest []byte) (*session.AccessToken, error)
	// SweepIdentity deletes tokens past their expiry and families whose
	// every token expired; it returns how many rows went.
	SweepIdentity(ctx context.Context, now time.Time) (int, error)
}
