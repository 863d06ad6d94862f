// Package kek defines the key-encryption key: the root of Engram's key
// hierarchy. A KEK only ever wraps other keys (tenant keys and the API key
// pepper); it never sees data. Providers: local (a key file in the data
// directory). Cloud KMS and Vault providers plug in behind the same
// interface.
package kek

import (
	"context"
	"errors"
)

// ErrUnwrap is returned for any failure to unwrap: wrong KEK, wrong
// context, tampering. Callers fail closed on it.
var ErrUnwrap = errors.New("kek: cannot unwrap key")

// KEK wraps keys under a root key. aad binds a wrapped key to its owner and
// purpose: unwrapping with different aad fails.
type KEK interface {
	// ID names the root key (safe to log and store).
	ID() string
	Wrap(ctx context.Context, key, aad []byte) ([]byte, error)
	Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error)
}
