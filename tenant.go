package engram

import (
	"context"
	"time"
)

// Tenant is an isolated organisation: nothing crosses between tenants.
type Tenant struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Account is a person or service inside a tenant that holds API keys.
type Account struct {
	ID        string    `json:"id"`
	TenantID  string    `json:"tenant_id"`
	Name      string    `json:"name"`
	Email     string    `json:"email,omitempty"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// NewTenant is the result of creating a tenant: the tenant, its owner
// account and the owner's first API key (whose secret appears only here).
type NewTenant struct {
	Tenant Tenant
	Owner  Account
	Key    NewAPIKey
}

// TenantService administers tenants. It is an operator interface (CLI and
// start-up), not reachable by tenant API keys.
type TenantService interface {
	// CreateTenant creates a tenant with an owner account and an owner key.
	// It returns CodeConflict when the name is taken.
	CreateTenant(ctx context.Context, name string) (*NewTenant, error)
	// TenantByName returns CodeNotFound when no tenant has that name.
	TenantByName(ctx context.Context, name string) (*Tenant, error)
}
