package oauth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/engram-memory/engram"
)

// Lifetimes of an authorization code. The code only has to survive the
// host's immediate exchange; OAuth 2.1 §4.1.2 recommends at most 10
// minutes.
const (
	MinCodeLife     = time.Minute
	MaxCodeLife     = 10 * time.Minute
	DefaultCodeLife = 2 * time.Minute
)

// CodePrefix starts every authorization code, so secret scanners and the
// token endpoint recognise one.
const CodePrefix = "egac_"

// Code is an issued authorization code as stored: only its digest, and
// everything the exchange must match.
type Code struct {
	// Digest is SHA-256 of the code: the code is 256 random bits, so a
	// plain hash cannot be reversed, and the store never holds a code
	// that could be exchanged.
	Digest      []byte
	ClientID    string
	RedirectURI string
	Challenge   string
	Resource    string
	TenantID    string
	AccountID   string
	Scopes      []engram.Permission
	IssuedAt    time.Time
	ExpiresAt   time.Time
	// SpentAt is set by the first exchange attempt (single use).
	SpentAt *time.Time
	// FamilyID is the session family the exchange issued, so a second
	// use of the code can revoke what the first one gave.
	FamilyID string
}

// NewCode makes a code for an approved request: the string for the
// redirect, and the record to store. life is clamped to
// [MinCodeLife, MaxCodeLife].
func NewCode(rand io.Reader, now time.Time, life time.Duration, r *AuthRequest, tenantID, accountID string, scopes []engram.Permission) (string, *Code, error) {
	life = max(MinCodeLife, min(life, MaxCodeLife))
	secret, err := randomString(rand, 32)
	if err != nil {
		return "", nil, err
	}
	code := CodePrefix + secret
	now = now.UTC()
	return code, &Code{
		Digest: digest(code), ClientID: r.ClientID, RedirectURI: r.RedirectURI, Challenge: r.Challenge,
		Resource: r.Resource, TenantID: tenantID, AccountID: accountID, Scopes: scopes,
		IssuedAt: now, ExpiresAt: now.Add(life),
	}, nil
}

// CodeDigest returns the digest to look a presented code up by, or false
// when it is not of a code's form (refused before any lookup).
func CodeDigest(code string) ([]byte, bool) {
	rest, ok := strings.CutPrefix(code, CodePrefix)
	if !ok || len(rest) != 43 {
		return nil, false
	}
	if _, err := base64.RawURLEncoding.DecodeString(rest); err != nil {
		return nil, false
	}
	return digest(code), true
}

func digest(code string) []byte {
	sum := sha256.Sum256([]byte("engram-oauth-code-v1|" + code))
	return sum[:]
}

// Redeem checks an authorization_code token request against the stored
// code as it was before this attempt spent it (the store's compare-and-set
// spends it whatever the outcome). A code spent before is ErrCodeReused,
// whoever presents it; every other mismatch is the same invalid_grant,
// except a resource other than the code's (invalid_target).
func (c *Code) Redeem(now time.Time, t *TokenRequest) error {
	if c.SpentAt != nil {
		return ErrCodeReused
	}
	if !now.Before(c.ExpiresAt) || t.ClientID != c.ClientID || t.RedirectURI != c.RedirectURI {
		return errGrant
	}
	if t.Resource != "" && !SameResource(t.Resource, c.Resource) {
		return fail(ErrInvalidTarget, "the code was issued for another resource")
	}
	if !verifyPKCE(c.Challenge, t.Verifier) {
		return errGrant
	}
	return nil
}

// IsReuse reports whether err is ErrCodeReused.
func IsReuse(err error) bool { return errors.Is(err, ErrCodeReused) }
