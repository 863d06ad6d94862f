package store

import "github.com/engram-memory/engram/internal/oauth"

// OAuthTx keeps the OAuth authorization server's clients and codes
// (internal/oauth defines the records and the contract; storetest checks
// it).
type OAuthTx interface {
	oauth.Store
}
