// Package awskms is the KEK held in AWS KMS, for deployments that must not
// keep the root key next to the data. The key never leaves KMS: Wrap and
// Unwrap are Encrypt and Decrypt calls that IAM authorises, CloudTrail
// records and an operator can cut off at once by disabling the key or
// revoking the role, which the local key file cannot offer.
//
// A wrapped key's aad travels as the KMS encryption context
// {"engram-aad": base64(aad)}, which KMS binds to the ciphertext as
// authenticated data, so a wrapped key moved to another owner or purpose
// does not open. CloudTrail logs encryption context in clear: aad must hold
// identifiers only, never content (the key hierarchy's aad does).
//
// Wrapped format: one version byte (1), then the KMS CiphertextBlob.
// Unwrap always names the configured key, so a blob made under any other
// key fails with kek.ErrUnwrap instead of being opened by whichever key
// made it.
package awskms

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/engram-memory/engram/internal/kek"
)

const (
	// formatV1 is the first byte of every wrapped key.
	formatV1 = 1
	// aadKey is the encryption context key that carries aad.
	aadKey = "engram-aad"
	// emptyAAD stands for an empty aad: KMS's handling of an empty
	// context value is not documented, and "-" is no base64 output, so it
	// cannot collide with a non-empty aad.
	emptyAAD = "-"
	// KMS limits: Encrypt takes 1 to 4096 bytes of plaintext, Decrypt 1 to
	// 6144 bytes of ciphertext.
	maxPlaintext  = 4096
	maxCiphertext = 6144
)

// KEK wraps keys with a symmetric AWS KMS key. It is safe for concurrent
// use.
type KEK struct {
	id       string
	keyID    string
	region   string
	endpoint string
	timeout  time.Duration
	client   *kms.Client
	secrets  []string // static credentials, scrubbed from any text we return
}

var _ kek.KEK = (*KEK)(nil)

// New validates cfg and prepares a KMS client. It does not call KMS: a
// wrong key or missing permission shows on the first Wrap or Unwrap (as
// kek.ErrUnavailable). Its errors never hold credentials.
func New(ctx context.Context, cfg Config) (*KEK, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region)}
	var secrets []string
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
		for _, s := range []string{cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken} {
			if s != "" {
				secrets = append(secrets, s)
			}
		}
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// Not wrapped: the SDK's text is not vetted, clean's output is.
		return nil, fmt.Errorf("awskms: load AWS configuration (environment, shared config files): %s", clean(err.Error(), secrets))
	}
	client := kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return &KEK{
		id:       "awskms:" + cfg.Region + ":" + cfg.KeyID,
		keyID:    cfg.KeyID,
		region:   cfg.Region,
		endpoint: cfg.Endpoint,
		timeout:  cfg.Timeout,
		client:   client,
		secrets:  secrets,
	}, nil
}

// ID is "awskms:<region>:<key id>" as configured.
func (k *KEK) ID() string { return k.id }

// String is ID, so that printing a KEK shows nothing else.
func (k *KEK) String() string { return k.id }

// Wrap encrypts key (1 to 4096 bytes) under the KMS key with aad as
// encryption context. A KMS failure is an *Error matching
// kek.ErrUnavailable.
func (k *KEK) Wrap(ctx context.Context, key, aad []byte) ([]byte, error) {
	if len(key) == 0 || len(key) > maxPlaintext {
		return nil, fmt.Errorf("awskms: cannot wrap a %d-byte key: KMS encrypts 1 to %d bytes", len(key), maxPlaintext)
	}
	call, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	out, err := k.client.Encrypt(call, &kms.EncryptInput{
		KeyId:               aws.String(k.keyID),
		Plaintext:           key,
		EncryptionContext:   encryptionContext(aad),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	})
	if err != nil {
		return nil, k.fail("Encrypt", ctx, call, err)
	}
	if n := len(out.CiphertextBlob); n == 0 || n > maxCiphertext {
		return nil, &Error{Op: "Encrypt", KeyID: k.keyID, Region: k.region, kind: kek.ErrUnavailable,
			Reason: fmt.Sprintf("KMS returned a %d-byte ciphertext", n)}
	}
	w := make([]byte, 0, 1+len(out.CiphertextBlob))
	return append(append(w, formatV1), out.CiphertextBlob...), nil
}

// Unwrap decrypts a wrapped key with the configured KMS key and aad.
// Malformed input is kek.ErrUnwrap without a call to KMS; a ciphertext
// that KMS rejects (wrong aad, other key, tampering) is an *Error matching
// kek.ErrUnwrap; any other failure is an *Error matching
// kek.ErrUnavailable.
func (k *KEK) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < 2 || wrapped[0] != formatV1 || len(wrapped)-1 > maxCiphertext {
		return nil, fmt.Errorf("awskms: malformed wrapped key (%d bytes): %w", len(wrapped), kek.ErrUnwrap)
	}
	call, cancel := context.WithTimeout(ctx, k.timeout)
	defer cancel()
	out, err := k.client.Decrypt(call, &kms.DecryptInput{
		KeyId:               aws.String(k.keyID),
		CiphertextBlob:      wrapped[1:],
		EncryptionContext:   encryptionContext(aad),
		EncryptionAlgorithm: types.EncryptionAlgorithmSpecSymmetricDefault,
	})
	if err != nil {
		return nil, k.fail("Decrypt", ctx, call, err)
	}
	if len(out.Plaintext) == 0 {
		return nil, &Error{Op: "Decrypt", KeyID: k.keyID, Region: k.region, kind: kek.ErrUnavailable,
			Reason: "KMS returned no plaintext"}
	}
	return out.Plaintext, nil
}

func encryptionContext(aad []byte) map[string]string {
	if len(aad) == 0 {
		return map[string]string{aadKey: emptyAAD}
	}
	return map[string]string{aadKey: base64.StdEncoding.EncodeToString(aad)}
}
