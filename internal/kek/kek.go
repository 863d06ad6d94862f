// Package kek defines the key-encryption key: the root of Engram's key
// hierarchy. A KEK only ever wraps other keys (tenant keys and the API key
// pepper); it never sees data. Providers: local (a key file in the data
// directory), vault (HashiCorp Vault Transit), awskms (AWS KMS); kekconfig
// builds one from a stored configuration (a tenant's own KEK).
package kek

import (
	"context"
	"errors"
)

// Errors every provider returns (wrapped with detail): branch on them with
// errors.Is. Callers fail closed on both.
var (
	// ErrUnwrap: the wrapped key does not open under this KEK and aad
	// (wrong KEK, wrong context, tampering).
	ErrUnwrap = errors.New("kek: cannot unwrap key")
	// ErrUnavailable: the provider could not be reached or refused the
	// call (network error, timeout, denied, throttled). Nothing is cached
	// in its place: the operation fails.
	ErrUnavailable = errors.New("kek: provider unavailable")
)

// KEK wraps keys under a root key. aad binds a wrapped key to its owner and
// purpose: unwrapping with different aad fails.
type KEK interface {
	// ID names the root key (safe to log and store).
	ID() string
	Wrap(ctx context.Context, key, aad []byte) ([]byte, error)
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
}
