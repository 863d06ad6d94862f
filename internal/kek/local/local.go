// Package local is the KEK kept in a file of the data directory. It is the
// zero-configuration default: whoever can read the file can unwrap every
// tenant key, so it must stay 0600 and be backed up apart from the
// database (a database backup without it is ciphertext only).
//
// The file can be sealed with a passphrase (OpenOrCreateWithPassphrase):
// the key is then stored encrypted under a key stretched from the
// passphrase with argon2id, so a copy of the data directory, a stolen disk
// or a backup that holds the file is still useless without the
// passphrase, at the price of typing or injecting it at every start.
package local

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tink-crypto/tink-go/v2/aead/subtle"

	"github.com/engram-memory/engram/internal/kek"
)

// The first byte of every wrapped key names how it was wrapped.
const (
	wrapSIV = 1 // AES-256-GCM-SIV (standard profile)
	wrapGCM = 2 // AES-256-GCM, random nonce (fips profile: GCM-SIV is outside the FIPS boundary)
)

// KEK is a 256-bit key read from a file. It wraps with AES-256-GCM-SIV,
// or with AES-256-GCM when the process runs in FIPS 140-3 mode; in that
// mode it refuses to unwrap with GCM-SIV.
type KEK struct {
	id  string
	siv *subtle.AESGCMSIV
	gcm cipher.AEAD
}

var _ kek.KEK = (*KEK)(nil)

// OpenOrCreate reads the key file at path, creating it (mode 0600, random
// key) when it does not exist. It refuses a file readable by group or
// others, because that file unlocks every tenant. A file sealed with a
// passphrase is refused with ErrPassphraseRequired: open it with
// OpenOrCreateWithPassphrase.
func OpenOrCreate(path string) (*KEK, error) {
	return openOrCreate(path, nil, sealOptions{})
}

// openOrCreate opens or creates a plain key file (pass == nil) or a
// passphrase-sealed one.
func openOrCreate(path string, pass []byte, opts sealOptions) (*KEK, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return create(path, pass, opts)
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
	f, err := parseKeyFile(string(raw))
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	switch {
	case f.sealed == nil && pass == nil:
		return New(f.key)
	case f.sealed == nil:
		return nil, fmt.Errorf("key file %s: %w", path, ErrNotSealed)
	case pass == nil:
		return nil, fmt.Errorf("key file %s: %w", path, ErrPassphraseRequired)
	}
	key, err := f.sealed.open(pass, opts.floor)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	defer clear(key) // New keeps no reference to it
	return New(key)
}

func create(path string, pass []byte, opts sealOptions) (*KEK, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f := keyFile{key: key}
	if pass != nil {
		sk, err := seal(key, pass, opts.params)
		if err != nil {
			return nil, err
		}
		f = keyFile{sealed: sk}
	}
	text := f.format() + "\n"
	// O_EXCL: two processes starting on an empty directory must not
	// overwrite each other's key.
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return openOrCreate(path, pass, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := file.WriteString(text); err != nil {
		file.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return nil, fmt.Errorf("sync key file: %w", err)
	}
	if err := file.Close(); err != nil {
		return nil, fmt.Errorf("close key file: %w", err)
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
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(append([]byte("engram/kek/local/id\x00"), key...))
	return &KEK{id: "local:" + hex.EncodeToString(sum[:8]), siv: siv, gcm: gcm}, nil
}

// ID is a fingerprint of the key, not the key.
func (k *KEK) ID() string { return k.id }

// Wrap seals key with aad.
func (k *KEK) Wrap(_ context.Context, key, aad []byte) ([]byte, error) {
	if fips140.Enabled() {
		return k.gcm.Seal([]byte{wrapGCM}, nil, key, aad), nil
	}
	ct, err := k.siv.Encrypt(key, aad)
	if err != nil {
		return nil, fmt.Errorf("wrap: %w", err)
	}
	return append([]byte{wrapSIV}, ct...), nil
}

// Unwrap opens a wrapped key; any failure is kek.ErrUnwrap.
func (k *KEK) Unwrap(_ context.Context, wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < 1 {
		return nil, kek.ErrUnwrap
	}
	var (
		key []byte
		err error
	)
	switch {
	case wrapped[0] == wrapGCM:
		key, err = k.gcm.Open(nil, nil, wrapped[1:], aad)
	case wrapped[0] == wrapSIV && !fips140.Enabled():
		key, err = k.siv.Decrypt(wrapped[1:], aad)
	default:
		return nil, kek.ErrUnwrap
	}
	if err != nil {
		return nil, kek.ErrUnwrap
	}
	return key, nil
}
