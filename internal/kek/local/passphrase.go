package local

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Errors of passphrase-sealed key files (wrapped with the file's path).
var (
	// ErrPassphraseRequired: the key file is sealed with a passphrase and
	// was opened without one.
	ErrPassphraseRequired = errors.New("local kek: the key file is sealed with a passphrase: a passphrase is needed to open it")
	// ErrWrongPassphrase: the passphrase does not open the key file (or
	// the file was altered; the two cannot be told apart).
	ErrWrongPassphrase = errors.New("local kek: wrong passphrase or corrupted key file")
	// ErrNotSealed: a passphrase was given for a key file that has none.
	ErrNotSealed = errors.New("local kek: the key file is not sealed with a passphrase: open it without one")
)

// Production argon2id cost: RFC 9106's second recommended option (64 MiB,
// 3 passes) on 2 lanes, about 0.1-0.3 s per open on a server core.
const (
	defaultMemoryKiB = 64 * 1024
	defaultTime      = 3
	defaultThreads   = 2
)

// The floor a file's parameters must reach to be opened (OWASP's minimum
// for argon2id: 19 MiB, 2 passes, 1 lane). It stops a file from being
// quietly rewritten with a cost that makes guessing the passphrase cheap.
const (
	floorMemoryKiB = 19 * 1024
	floorTime      = 2
	floorThreads   = 1
)

// sealOptions are the argon2id costs used to seal a new file and the floor
// an existing file must reach. Only tests use anything but the defaults.
type sealOptions struct {
	params argonParams
	floor  argonParams
}

func defaultSealOptions() sealOptions {
	return sealOptions{
		params: argonParams{memory: defaultMemoryKiB, time: defaultTime, threads: defaultThreads},
		floor:  argonParams{memory: floorMemoryKiB, time: floorTime, threads: floorThreads},
	}
}

// OpenOrCreateWithPassphrase is OpenOrCreate for a key file sealed with a
// passphrase: a new file holds the key encrypted (AES-256-GCM) under
// argon2id(passphrase, random salt; 64 MiB, 3 passes, 2 lanes), with the
// parameters stored in the file. It returns ErrWrongPassphrase when the
// passphrase does not open the file, ErrNotSealed for a plain key file, and
// an error for a file whose argon2id cost is below the floor (19 MiB, 2
// passes). The file must be 0600, as for OpenOrCreate. passphrase is not
// kept.
func OpenOrCreateWithPassphrase(path string, passphrase []byte) (*KEK, error) {
	return openOrCreateWithPassphrase(path, passphrase, defaultSealOptions())
}

func openOrCreateWithPassphrase(path string, passphrase []byte, opts sealOptions) (*KEK, error) {
	if len(passphrase) == 0 {
		return nil, errors.New("local kek: empty passphrase")
	}
	if opts.params.below(opts.floor) {
		return nil, fmt.Errorf("local kek: argon2id parameters %s are below the floor %s", opts.params, opts.floor)
	}
	return openOrCreate(path, passphrase, opts)
}

// seal encrypts key under a key stretched from pass with a fresh salt.
func seal(key, pass []byte, p argonParams) (*sealedKey, error) {
	sk := &sealedKey{params: p, salt: make([]byte, saltLen)}
	if _, err := rand.Read(sk.salt); err != nil {
		return nil, err
	}
	aead, err := sk.aead(pass)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sk.box = aead.Seal(nonce, nonce, key, []byte(sk.header()))
	return sk, nil
}

// open recovers the key; it refuses parameters below floor before
// spending any work on them.
func (sk *sealedKey) open(pass []byte, floor argonParams) ([]byte, error) {
	if sk.params.below(floor) {
		return nil, fmt.Errorf("argon2id parameters %s are below the minimum %s: refusing a weakly sealed key file (seal it again)", sk.params, floor)
	}
	aead, err := sk.aead(pass)
	if err != nil {
		return nil, err
	}
	key, err := aead.Open(nil, sk.box[:nonceLen], sk.box[nonceLen:], []byte(sk.header()))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return key, nil
}

// aead is AES-256-GCM under argon2id(pass, salt). Each file has a fresh
// salt, hence a fresh key, so a random nonce is never at risk of reuse.
func (sk *sealedKey) aead(pass []byte) (cipher.AEAD, error) {
	k := argon2.IDKey(pass, sk.salt, sk.params.time, sk.params.memory, sk.params.threads, keyLen)
	defer clear(k) // aes.NewCipher keeps its own expanded copy
	block, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
