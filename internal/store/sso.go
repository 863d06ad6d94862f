package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/engram-memory/engram/internal/sso/saml"
)

// SSOConfig is an organisation's identity provider as stored: Config is a
// sealed envelope under the key of Subject, version KeyVersion (it holds
// the OIDC client secret or the SAML SP's private key); Policy is the
// sso.Policy as JSON.
type SSOConfig struct {
	TenantID   string
	Kind       string // "oidc" or "saml"
	Subject    string
	KeyVersion int
	Config     []byte
	Policy     []byte
	UpdatedAt  time.Time
}

// SSOIdentity links an IdP user to an account of the tenant. Subject is a
// blind index the engine computes; Issuer is the IdP's entity id or issuer
// URL.
type SSOIdentity struct {
	TenantID  string
	Issuer    string
	Subject   string
	AccountID string
	CreatedAt time.Time
}

// SSOTx is what single sign-on needs from a transaction.
type SSOTx interface {
	// SSOConfig returns the tenant's configuration; ErrNotFound when none.
	SSOConfig(ctx context.Context, tenantID string) (*SSOConfig, error)
	// PutSSOConfig inserts or replaces the tenant's configuration.
	PutSSOConfig(ctx context.Context, c *SSOConfig) error
	// DeleteSSOConfig removes it (linked identities stay, so that a
	// reconfigured IdP finds its users again); ErrNotFound when none.
	DeleteSSOConfig(ctx context.Context, tenantID string) error

	// SSOIdentity returns the link of (issuer, subject); ErrNotFound.
	SSOIdentity(ctx context.Context, tenantID, issuer, subject string) (*SSOIdentity, error)
	// PutSSOIdentity stores a link; ErrConflict when (tenant, issuer,
	// subject) is linked already.
	PutSSOIdentity(ctx context.Context, i *SSOIdentity) error

	// ConsumeSAMLAssertion records (scope, id) until expiresAt and reports
	// whether it was new: false means it was recorded before (a replay),
	// whether or not that record has expired since (the sweep removes it).
	ConsumeSAMLAssertion(ctx context.Context, scope, id string, expiresAt time.Time) (bool, error)
	// SweepSAMLAssertions deletes the records that expired before now.
	SweepSAMLAssertions(ctx context.Context, now time.Time) (int, error)
}

// ReplayCache is saml.ReplayCache over a Store: each Consume is its own
// write transaction, committed before it returns, so every node sharing
// the database refuses a second use. Any error refuses the assertion.
type ReplayCache struct{ Store Store }

var _ saml.ReplayCache = ReplayCache{}

// Consume implements saml.ReplayCache.
func (c ReplayCache) Consume(ctx context.Context, scope, id string, expiresAt time.Time) error {
	if id == "" || len(id) > 256 || len(scope) > 256 {
		return errors.New("store: assertion id or scope out of bounds")
	}
	var fresh bool
	err := c.Store.Write(ctx, func(tx Tx) (err error) {
		fresh, err = tx.ConsumeSAMLAssertion(ctx, scope, id, expiresAt)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record assertion: %w", err)
	}
	if !fresh {
		return saml.ErrReplayed
	}
	return nil
}

// Sweep implements saml.ReplayCache.
func (c ReplayCache) Sweep(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := c.Store.Write(ctx, func(tx Tx) (err error) {
		n, err = tx.SweepSAMLAssertions(ctx, now)
		return err
	})
	return n, err
}
