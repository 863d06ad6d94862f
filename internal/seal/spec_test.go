package seal_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/engram-memory/engram/internal/seal"
)

// The tests in this file re-implement the envelope from the package
// documentation with the standard library alone, so that the code and the
// documented format cannot drift apart unnoticed.

// commitmentFor is the documented commitment: HMAC-SHA256 under
// HKDF-SHA256(data key, no salt, "engram/seal/v1/commit") over the first 36
// envelope bytes and the AAD.
func commitmentFor(t testing.TB, k seal.Key, prefix, aad []byte) []byte {
	t.Helper()
	ck, err := hkdf.Key(sha256.New, k.Secret, nil, "engram/seal/v1/commit", 32)
	if err != nil {
		t.Fatal(err)
	}
	m := hmac.New(sha256.New, ck)
	m.Write(prefix)
	m.Write(aad)
	return m.Sum(nil)
}

// TestSpecAlgorithm2 opens the algorithm 2 golden envelope and a fresh one
// by hand: the subkey is HKDF-SHA256(data key, salt = envelope[24:36],
// "engram/seal/v1/gcm-subkey"), the body is a 12-byte GCM nonce, the
// ciphertext and the tag, and the AAD is seal.AAD with algorithm 2.
func TestSpecAlgorithm2(t *testing.T) {
	k := goldenKey(t)
	g := readGolden(t, goldenV1Alg2)
	fresh, err := seal.SealWith(seal.AES256GCMHKDF, k, goldenContext, []byte("fresh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env, pt []byte
	}{
		{"golden", unhex(t, g.Envelope), unhex(t, g.Plaintext)},
		{"fresh", fresh, []byte("fresh")},
	} {
		env := tc.env
		aad := seal.AAD(goldenContext, seal.AES256GCMHKDF, k.Version)
		if want := commitmentFor(t, k, env[:36], aad); !bytes.Equal(env[36:68], want) {
			t.Errorf("%s: commitment = %x, want %x", tc.name, env[36:68], want)
		}
		sub, err := hkdf.Key(sha256.New, k.Secret, env[24:36], "engram/seal/v1/gcm-subkey", 32)
		if err != nil {
			t.Fatal(err)
		}
		b, err := aes.NewCipher(sub)
		if err != nil {
			t.Fatal(err)
		}
		// Plain GCM with the first 12 body bytes as its nonce. (Under
		// GODEBUG=fips140=only a caller-chosen nonce needs
		// WithoutEnforcement.)
		body := env[68:]
		var pt, underDataKey []byte
		var errSub, errData error
		fips140.WithoutEnforcement(func() {
			g, err := cipher.NewGCM(b)
			if err != nil {
				t.Fatal(err)
			}
			pt, errSub = g.Open(nil, body[:12], body[12:], aad)
			// The data key itself must not open it: the subkey is per record.
			b, _ := aes.NewCipher(k.Secret)
			g, _ = cipher.NewGCM(b)
			underDataKey, errData = g.Open(nil, body[:12], body[12:], aad)
		})
		if errSub != nil || !bytes.Equal(pt, tc.pt) {
			t.Errorf("%s: GCM open = %q, %v; want %q", tc.name, pt, errSub, tc.pt)
		}
		if errData == nil {
			t.Errorf("%s: opened under the data key itself: %q", tc.name, underDataKey)
		}
	}
}

// TestSpecAlgorithm1Commitment checks the algorithm 1 golden commitment.
func TestSpecAlgorithm1Commitment(t *testing.T) {
	k := goldenKey(t)
	env := unhex(t, readGolden(t, goldenV1).Envelope)
	aad := seal.AAD(goldenContext, seal.AES256GCMSIV, k.Version)
	if want := commitmentFor(t, k, env[:36], aad); !bytes.Equal(env[36:68], want) {
		t.Errorf("commitment = %x, want %x", env[36:68], want)
	}
}
