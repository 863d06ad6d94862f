package engram

import (
	"context"
	"time"
)

// Tokens is a session's token pair, shown to the client once: the
// access token (egat_…, sent as "Authorization: Bearer" like an API key)
// and the refresh token (egrt_…, single use: each refresh returns a new
// pair, and a spent one presented again ends the whole session).
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	// ExpiresIn is the access token's life in seconds.
	ExpiresIn int `json:"expires_in"`
	// Scope lists an OAuth client's granted scopes (space-separated);
	// empty for a person's own session.
	Scope string `json:"scope,omitempty"`
	// The expiries, for cookies.
	AccessExpiresAt  time.Time `json:"-"`
	RefreshExpiresAt time.Time `json:"-"`
}

// LoginRequest signs a person in with email and password. Tenant (the
// organisation's name) is needed only when the same address belongs to
// several organisations with the same password.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Tenant   string `json:"tenant,omitempty"`
}

// Member statuses.
const (
	MemberActive  = "active"
	MemberInvited = "invited"
	// MemberKeyOnly is an account that signs in with API keys only (a
	// tenant's first owner, made by the operator).
	MemberKeyOnly = "key_only"
)

// Member is an account of the principal's tenant as its members see it.
type Member struct {
	ID            string    `json:"id"`
	Email         string    `json:"email,omitempty"`
	Name          string    `json:"name,omitempty"`
	Role          Role      `json:"role"`
	Status        string    `json:"status"`
	EmailVerified bool      `json:"email_verified"`
	CreatedAt     time.Time `json:"created_at"`
}

// Invitation is a pending member. AcceptURL (the one-time link) is set
// only when no mailer is configured: the inviter passes it on.
type Invitation struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
	AcceptURL string    `json:"accept_url,omitempty"`
	// Sent is true when a mail server accepted the invitation email.
	Sent bool `json:"sent"`
}

// InviteRequest invites someone by email with a role.
type InviteRequest struct {
	Email string `json:"email"`
	Role  Role   `json:"role"`
	Name  string `json:"name,omitempty"`
}

// AcceptRequest accepts an invitation: the token from its link, the new
// member's password and, optionally, their name.
type AcceptRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
	Name     string `json:"name,omitempty"`
}

// Me is who the caller is.
type Me struct {
	ID       string `json:"id"`
	Email    string `json:"email,omitempty"`
	Name     string `json:"name,omitempty"`
	Role     Role   `json:"role"`
	Tenant   string `json:"tenant"`
	TenantID string `json:"tenant_id"`
	// Via says how the caller authenticated: "key", "session" or "oauth".
	Via         string       `json:"via"`
	Permissions []Permission `json:"permissions"`
	// DeletionScheduledFor is set while the account's deletion is pending
	// (DELETE /v1/me): until then it is read-only.
	DeletionScheduledFor *time.Time `json:"deletion_scheduled_for,omitempty"`
}

// SessionInfo describes one of the caller's sessions (never its tokens).
type SessionInfo struct {
	ID           string     `json:"id"`
	Method       string     `json:"method"`
	ClientID     string     `json:"client_id,omitempty"`
	Scopes       []string   `json:"scopes,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
	Current      bool       `json:"current"`
}

// IdentityService signs people in and manages the tenant's members.
// Errors as MemoryService; every refused sign-in is CodeUnauthenticated
// with one message, whatever the reason.
type IdentityService interface {
	Login(ctx context.Context, req LoginRequest) (*Tokens, error)
	// Refresh spends a refresh token for a new pair. A spent token
	// presented again revokes its whole session family.
	Refresh(ctx context.Context, refreshToken string) (*Tokens, error)
	// Logout ends the caller's session (a session principal), or the
	// session of refreshToken when given.
	Logout(ctx context.Context, refreshToken string) error
	// LogoutEverywhere ends every session of the caller's account.
	LogoutEverywhere(ctx context.Context) (int, error)
	Sessions(ctx context.Context) ([]SessionInfo, error)

	Invite(ctx context.Context, req InviteRequest) (*Invitation, error)
	// AcceptInvitation sets the invited account's password and activates
	// it; it needs no principal (the token is the proof).
	AcceptInvitation(ctx context.Context, req AcceptRequest) (*Member, error)
	Members(ctx context.Context) ([]Member, error)
	ChangeRole(ctx context.Context, accountID string, role Role) (*Member, error)
	// RemoveMember removes an account (or the caller, leaving) and
	// revokes its sessions and API keys at once.
	RemoveMember(ctx context.Context, accountID string) error
	// TransferOwnership makes accountID an owner and the caller an admin.
	TransferOwnership(ctx context.Context, accountID string) error

	Me(ctx context.Context) (*Me, error)
	// ChangePassword needs the current password; it ends every other
	// session of the account.
	ChangePassword(ctx context.Context, current, next string) error
	// RequestPasswordReset mails a reset link when the address has an
	// account and a mailer is configured; it answers the same either way.
	RequestPasswordReset(ctx context.Context, email, tenant string) error
	// ResetPassword sets a new password with a reset link's token and
	// ends every session of the account.
	ResetPassword(ctx context.Context, token, password string) error
	// UpdateProfile changes the caller's name.
	UpdateProfile(ctx context.Context, name string) (*Me, error)
	// RequestVerification mails the caller a link proving its address.
	RequestVerification(ctx context.Context) error
	// VerifyEmail marks the address verified with the link's token.
	VerifyEmail(ctx context.Context, token string) error
}

// Audit actions of identity.
const (
	AuditLogin          AuditAction = "auth.login"
	AuditRefresh        AuditAction = "auth.refresh"
	AuditLogout         AuditAction = "auth.logout"
	AuditSessionRevoke  AuditAction = "session.revoke"
	AuditMemberInvite   AuditAction = "member.invite"
	AuditMemberAccept   AuditAction = "member.accept"
	AuditMemberRole     AuditAction = "member.role_change"
	AuditMemberRemove   AuditAction = "member.remove"
	AuditMemberList     AuditAction = "member.list"
	AuditOwnerTransfer  AuditAction = "ownership.transfer"
	AuditPasswordChange AuditAction = "password.change"
	AuditPasswordReset  AuditAction = "password.reset"
	AuditProfileUpdate  AuditAction = "account.profile"
	AuditEmailVerify    AuditAction = "account.verify_email"
)

// TargetAccount is an account (a member), recorded by id.
const TargetAccount = "account"
