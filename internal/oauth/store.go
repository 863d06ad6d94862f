package oauth

import (
	"context"
	"time"
)

// Store is what the authorization server keeps. internal/store's Tx
// embeds it, so each call runs in the engine's transaction; every
// implementation passes storetest's OAuth cases.
type Store interface {
	// CreateOAuthClient stores a registered client.
	CreateOAuthClient(ctx context.Context, c *Client) error
	// OAuthClient returns a client, or store.ErrNotFound.
	OAuthClient(ctx context.Context, id string) (*Client, error)
	// CreateOAuthCode stores an issued code (by its digest).
	CreateOAuthCode(ctx context.Context, c *Code) error
	// SpendOAuthCode marks the code with this digest spent at now, in one
	// compare-and-set, and returns it as it was before: SpentAt nil when
	// this call spent it, set when an earlier one had (a reuse). Of two
	// concurrent calls exactly one sees SpentAt nil. store.ErrNotFound
	// when there is no such code.
	SpendOAuthCode(ctx context.Context, digest []byte, now time.Time) (*Code, error)
	// SetOAuthCodeFamily records the session family a code's exchange
	// issued; store.ErrNotFound when there is no such code.
	SetOAuthCodeFamily(ctx context.Context, digest []byte, familyID string) error
	// DeleteExpiredOAuthCodes deletes codes that expired before now and
	// returns how many.
	DeleteExpiredOAuthCodes(ctx context.Context, before time.Time) (int, error)
	// DeleteIdleOAuthClients deletes clients registered before the time
	// given that no code and no session family refers to any more (open
	// registration would otherwise only grow), and returns how many.
	DeleteIdleOAuthClients(ctx context.Context, registeredBefore time.Time) (int, error)
}
