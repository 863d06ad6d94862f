// Package local is the KEK kept in a file of the data directory. It is the
// zero-configuration default: whoever can read the file can unwrap every
// tenant key, so it must stay 0600 and be backed up apart from the
// database (a database backup without it is ciphertext only).
package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead/subtle"

	"github.com/engram-memory/engram/internal/kek"
)

// filePrefix versions the key file format.
const filePrefix = "engram-kek-v1:"

// wrapVersion is the first byte of every wrapped key.
const wrapVersion = 1

// KEK is a 256-bit AES-GCM-SIV key read from a file.
type KEK struct {
	id  string
	siv *subtle.AESGCMSIV
}

var _ kek.KEK = (*KEK)(nil)

// OpenOrCreate reads the key file at path, creating it (mode 0600, random
// key) when it does not exist. It refuses a file readable by group or
// others, because that file unlocks every tenant.
func OpenOrCreate(path string) (*KEK, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return create(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("stat key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %o: must not be readable by group or others (chmod 600)", path, fi.Mode().Perm())
	}
	return parse(string(raw))
}

func create(path string) (*KEK, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	text := filePrefix + base64.StdEncoding.EncodeToString(key) + "\n"
	// O_EXCL: two processes starting on an empty directory must not
	// overwrite each other's key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return OpenOrCreate(path)
	}
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("close key file: %w", err)
	}
	return New(key)
}

func parse(text string) (*KEK, error) {
	text = strings.TrimSpace(text)
	if !strings.HasPrefix(text, filePrefix) {
		return nil, errors.New("key file: unknown format")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(text, filePrefix))
	if err != nil || len(key) != 32 {
		return nil, errors.New("key file: malformed key")
	}
	return New(key)
}

// New returns a KEK for a 32-byte key.
func New(key []byte) (*KEK, error) {
	if len(key) != 32 {
		return nil, errors.New("local kek: key must be 32 bytes")
	}
	siv, err := subtle.NewAESGCMSIV(key)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("engram/kek/local/id\x00"), key...))
	return &KEK{id: "local:" + hex.EncodeToString(sum[:8]), siv: siv}, nil
}

// ID is a fingerprint of the key, not the key.
func (k *KEK) ID() string { return k.id }

// Wrap seals key with aad.
func (k *KEK) Wrap(_ context.Context, key, aad []byte) ([]byte, error) {
	ct, err := k.siv.Encrypt(key, aad)
	if err != nil {
		return nil, fmt.Errorf("wrap: %w", err)
	}
	return append([]byte{wrapVersion}, ct...), nil
}

// Unwrap opens a wrapped key; any failure is kek.ErrUnwrap.
func (k *KEK) Unwrap(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < 1 || wrapped[0] != wrapVersion {
		return nil, kek.ErrUnwrap
	}
	key, err := k.siv.Decrypt(wrapped[1:], aad)
	if err != nil {
		return nil, kek.ErrUnwrap
	}
	return key, nil
}
