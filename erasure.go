package engram

import (
	"context"
	"time"
)

// Erasure is the receipt of a crypto-shredding erasure: what was destroyed
// and when. It names no content.
type Erasure struct {
	UserID      string    `json:"user_id,omitempty"`
	Tenant      string    `json:"tenant,omitempty"`
	Memories    int       `json:"memories_deleted"`
	History     int       `json:"history_deleted"`
	Keys        int       `json:"keys_destroyed"`
	Accounts    int       `json:"accounts_deleted,omitempty"`
	APIKeys     int       `json:"api_keys_deleted,omitempty"`
	Episodes    int       `json:"episodes_deleted,omitempty"`
	Entities    int       `json:"entities_deleted,omitempty"`
	Facts       int       `json:"facts_deleted,omitempty"`
	CompletedAt time.Time `json:"completed_at"`
}

// KeyRotation reports a tenant key rotation.
type KeyRotation struct {
	TenantKeyVersion int `json:"tenant_key_version"`
	// Rewrapped counts the keys now wrapped by the new tenant key.
	Rewrapped int `json:"keys_rewrapped"`
	// Pending counts the records still sealed under an old data key
	// version; a background job re-encrypts them.
	Pending int `json:"records_pending"`
}

// PrivacyService erases end users and rotates keys for the principal's
// tenant.
type PrivacyService interface {
	// ForgetUser destroys the user's key and deletes their memories,
	// history and index postings. CodeNotFound when the tenant holds
	// nothing of that user.
	ForgetUser(ctx context.Context, userID string) (*Erasure, error)
	// RotateKeys rotates the tenant's keys (owners only).
	RotateKeys(ctx context.Context) (*KeyRotation, error)
}
