package engram

import (
	"context"
	"time"
)

// Permission is one thing an API key may do. Keys carry a list of them
// (named "scopes" on the wire, as users of other APIs expect).
type Permission string

// Permissions known to the service layer.
const (
	PermMemoriesRead  Permission = "memories:read"
	PermMemoriesWrite Permission = "memories:write"
	PermKeysAdmin     Permission = "keys:admin"
	PermAuditRead     Permission = "audit:read"
	// PermAuditHold allows placing and releasing legal holds. It is apart
	// from audit:read because a hold blocks erasure and retention: a key
	// that may only read the trail must not be able to stop a GDPR erasure.
	PermAuditHold Permission = "audit:hold"
	// PermUsersForget allows erasing an end user (GDPR right to erasure).
	PermUsersForget Permission = "users:forget"
	// PermMembersRead lists the tenant's members (names, emails, roles).
	PermMembersRead Permission = "members:read"
	// PermMembersAdmin invites, re-roles and removes members and ends
	// their sessions, within the limits of the key's account role.
	PermMembersAdmin Permission = "members:admin"
	// PermTenantAdmin changes the tenant itself: settings, export,
	// audit retention. Owners only.
	PermTenantAdmin Permission = "tenant:admin"
	// PermSSOAdmin reads the tenant's single sign-on configuration.
	PermSSOAdmin Permission = "sso:admin"
)

// AllPermissions lists every permission, in a stable order.
var AllPermissions = []Permission{PermMemoriesRead, PermMemoriesWrite, PermKeysAdmin, PermAuditRead, PermAuditHold,
	PermUsersForget, PermMembersRead, PermMembersAdmin, PermTenantAdmin, PermSSOAdmin}

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool {
	for _, q := range AllPermissions {
		if p == q {
			return true
		}
	}
	return false
}

// APIKey describes a key without its secret.
type APIKey struct {
	ID         string       `json:"id"`
	Name       string       `json:"name"`
	Prefix     string       `json:"prefix"`
	Scopes     []Permission `json:"scopes"`
	AccountID  string       `json:"account_id"`
	CreatedAt  time.Time    `json:"created_at"`
	ExpiresAt  *time.Time   `json:"expires_at"`
	LastUsedAt *time.Time   `json:"last_used_at"`
	RevokedAt  *time.Time   `json:"revoked_at,omitempty"`
}

// NewAPIKey is a freshly created key: Secret is the full token the client
// presents, shown once and never stored.
type NewAPIKey struct {
	APIKey
	Secret string `json:"key"`
}

// CreateKeyRequest asks for a key for the calling account. Scopes default to
// the caller's own; a key never gets a permission its creator lacks.
type CreateKeyRequest struct {
	Name      string
	Scopes    []Permission
	ExpiresAt *time.Time
}

// KeyService manages API keys within the principal's tenant.
type KeyService interface {
	CreateKey(ctx context.Context, req CreateKeyRequest) (*NewAPIKey, error)
	ListKeys(ctx context.Context) ([]APIKey, error)
	// RevokeKey takes effect on the next request that presents the key.
	RevokeKey(ctx context.Context, id string) error
}

// Authenticator turns a presented token into a Principal. Any failure
// (malformed, unknown, wrong secret, revoked, expired) is
// CodeUnauthenticated with the same message, so callers learn nothing.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Principal, error)
}
