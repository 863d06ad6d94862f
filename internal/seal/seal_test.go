package seal_test

import (
	"bytes"
	"crypto/fips140"
	"crypto/rand"
	"testing"

	"github.com/engram-memory/engram/internal/seal"
)

func newKey(t testing.TB, version uint32) seal.Key {
	t.Helper()
	k := seal.Key{Version: version, Secret: make([]byte, 32)}
	rand.Read(k.ID[:])
	rand.Read(k.Secret)
	return k
}

var baseContext = seal.Context{Domain: "memory", Tenant: "t1", Subject: "u1", Record: "m1", Field: "content"}

// algorithms returns the algorithms this process's profile can seal with:
// both in the standard profile, algorithm 2 only in the fips one.
func algorithms() []seal.Algorithm {
	if fips140.Enabled() {
		return []seal.Algorithm{seal.AES256GCMHKDF}
	}
	return []seal.Algorithm{seal.AES256GCMSIV, seal.AES256GCMHKDF}
}

// forEachAlgorithm runs f as a subtest per algorithm, with a sealing function
// for that algorithm.
func forEachAlgorithm(t *testing.T, f func(t *testing.T, sealf func(seal.Key, seal.Context, []byte) ([]byte, error))) {
	for _, alg := range algorithms() {
		t.Run(alg.String(), func(t *testing.T) {
			f(t, func(k seal.Key, c seal.Context, pt []byte) ([]byte, error) { return seal.SealWith(alg, k, c, pt) })
		})
	}
}

func TestRoundTrip(t *testing.T) {
	k := newKey(t, 3)
	for _, alg := range algorithms() {
		for _, pt := range [][]byte{nil, {}, []byte("x"), []byte("the quick brown fox"), bytes.Repeat([]byte{0xAB}, 4096)} {
			env, err := seal.SealWith(alg, k, baseContext, pt)
			if err != nil {
				t.Fatalf("%v: Seal(%d bytes): %v", alg, len(pt), err)
			}
			if got, want := len(env), overhead(alg)+len(pt); got != want {
				t.Errorf("%v: len(envelope) = %d, want %d", alg, got, want)
			}
			if env[3] != byte(alg) {
				t.Errorf("%v: algorithm byte = %d", alg, env[3])
			}
			got, err := seal.Open(k, baseContext, env)
			if err != nil {
				t.Fatalf("%v: Open(%d bytes): %v", alg, len(pt), err)
			}
			if got == nil || !bytes.Equal(got, pt) {
				t.Errorf("%v: Open = %q, want %q", alg, got, pt)
			}
		}
	}
}

// TestSealAlgorithm checks that Seal follows the profile: algorithm 1 in
// the standard profile, algorithm 2 in the fips one.
func TestSealAlgorithm(t *testing.T) {
	want, profile := seal.AES256GCMSIV, "standard"
	if fips140.Enabled() {
		want, profile = seal.AES256GCMHKDF, "fips"
	}
	if got := seal.Profile(); got != profile {
		t.Errorf("Profile() = %q, want %q", got, profile)
	}
	env, err := seal.Seal(newKey(t, 1), baseContext, []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	if got := seal.Algorithm(env[3]); got != want {
		t.Errorf("Seal used %v, want %v in the %s profile", got, want, profile)
	}
}

// TestSealUsesFreshNonces: the nonce field (GCM-SIV nonce or HKDF salt) and,
// for algorithm 2, the GCM nonce are fresh each time.
func TestSealUsesFreshNonces(t *testing.T) {
	forEachAlgorithm(t, func(t *testing.T, sealf func(seal.Key, seal.Context, []byte) ([]byte, error)) {
		k := newKey(t, 1)
		a, _ := sealf(k, baseContext, []byte("same"))
		b, _ := sealf(k, baseContext, []byte("same"))
		if bytes.Equal(a, b) || bytes.Equal(a[24:36], b[24:36]) {
			t.Fatal("two seals of the same plaintext share a nonce")
		}
		if a[3] == byte(seal.AES256GCMHKDF) && bytes.Equal(a[68:80], b[68:80]) {
			t.Fatal("two seals of the same plaintext share a GCM nonce")
		}
	})
}

func TestSealRejectsBadInput(t *testing.T) {
	forEachAlgorithm(t, func(t *testing.T, sealf func(seal.Key, seal.Context, []byte) ([]byte, error)) {
		k := newKey(t, 1)
		short := k
		short.Secret = k.Secret[:16] // AES-128 would be accepted by tink and crypto/aes; not by us
		long := k
		long.Secret = append(bytes.Clone(k.Secret), 0)
		noDomain, noField := baseContext, baseContext
		env, err := sealf(k, baseContext, []byte("p"))
		if err != nil {
			t.Fatal(err)
		}
		noDomain.Domain, noField.Field = "", ""
		for name, tc := range map[string]struct {
			k seal.Key
			c seal.Context
		}{
			"nil secret":   {seal.Key{ID: k.ID}, baseContext},
			"16-byte key":  {short, baseContext},
			"33-byte key":  {long, baseContext},
			"empty domain": {k, noDomain},
			"empty field":  {k, noField},
		} {
			if bad, err := sealf(tc.k, tc.c, []byte("p")); err == nil {
				t.Errorf("%s: Seal succeeded: %x", name, bad)
			}
			if bad, err := seal.Seal(tc.k, tc.c, []byte("p")); err == nil {
				t.Errorf("%s: Seal succeeded: %x", name, bad)
			}
			if _, err := seal.Open(tc.k, tc.c, env); err != seal.ErrOpen {
				t.Errorf("%s: Open error = %v, want ErrOpen", name, err)
			}
		}
	})
}

func TestSealRejectsUnknownAlgorithm(t *testing.T) {
	for _, alg := range []seal.Algorithm{0, 3, 255} {
		if env, err := seal.SealWith(alg, newKey(t, 1), baseContext, []byte("p")); err == nil {
			t.Errorf("SealWith(%v) = %x, want an error", alg, env)
		}
	}
}

// TestSubstitution moves a ciphertext to every other place it could be
// pasted: each must fail with exactly ErrOpen.
func TestSubstitution(t *testing.T) {
	forEachAlgorithm(t, func(t *testing.T, sealf func(seal.Key, seal.Context, []byte) ([]byte, error)) {
		k := newKey(t, 7)
		env, err := sealf(k, baseContext, []byte("alice's secret"))
		if err != nil {
			t.Fatal(err)
		}
		with := func(f func(*seal.Context)) seal.Context { c := baseContext; f(&c); return c }
		sameSecretOtherID := newKey(t, k.Version)
		sameSecretOtherID.Secret = k.Secret
		sameIDOtherSecret := newKey(t, k.Version)
		sameIDOtherSecret.ID = k.ID
		otherVersion := k
		otherVersion.Version++
		cases := []struct {
			name string
			k    seal.Key
			c    seal.Context
		}{
			{"domain", k, with(func(c *seal.Context) { c.Domain = "entity" })},
			{"tenant", k, with(func(c *seal.Context) { c.Tenant = "t2" })},
			{"empty tenant", k, with(func(c *seal.Context) { c.Tenant = "" })},
			{"subject", k, with(func(c *seal.Context) { c.Subject = "u2" })},
			{"record", k, with(func(c *seal.Context) { c.Record = "m2" })},
			{"field", k, with(func(c *seal.Context) { c.Field = "metadata" })},
			{"shifted boundary", k, with(func(c *seal.Context) { c.Tenant, c.Subject = "t1u", "1" })},
			{"key version", otherVersion, baseContext},
			{"different key", newKey(t, k.Version), baseContext},
			{"same secret, other id", sameSecretOtherID, baseContext},
			{"same id, other secret", sameIDOtherSecret, baseContext},
		}
		for _, tc := range cases {
			if pt, err := seal.Open(tc.k, tc.c, env); err != seal.ErrOpen {
				t.Errorf("%s: Open = %q, %v; want ErrOpen", tc.name, pt, err)
			}
		}
	})
}

// TestAlgorithmConfusion relabels an envelope as the other algorithm, with
// and without recomputing the commitment for the new label: the AAD and the
// commitment both cover the algorithm, so neither opens.
func TestAlgorithmConfusion(t *testing.T) {
	if fips140.Enabled() {
		t.Skip("needs both algorithms")
	}
	k := newKey(t, 1)
	pt := bytes.Repeat([]byte("p"), 40) // long enough to parse as either
	for _, from := range []seal.Algorithm{seal.AES256GCMSIV, seal.AES256GCMHKDF} {
		env, err := seal.SealWith(from, k, baseContext, pt)
		if err != nil {
			t.Fatal(err)
		}
		to := 3 - from
		bad := bytes.Clone(env)
		bad[3] = byte(to)
		if got, err := seal.Open(k, baseContext, bad); err != seal.ErrOpen {
			t.Errorf("%v relabelled %v: Open = %q, %v; want ErrOpen", from, to, got, err)
		}
		// Recompute the commitment for the new label, as someone holding
		// the key could: the AEAD still refuses the AAD or the format.
		copy(bad[36:68], commitmentFor(t, k, bad[:36], seal.AAD(baseContext, to, k.Version)))
		if got, err := seal.Open(k, baseContext, bad); err != seal.ErrOpen {
			t.Errorf("%v relabelled %v with a fresh commitment: Open = %q, %v; want ErrOpen", from, to, got, err)
		}
	}
}

func TestTampering(t *testing.T) {
	forEachAlgorithm(t, func(t *testing.T, sealf func(seal.Key, seal.Context, []byte) ([]byte, error)) {
		k := newKey(t, 1)
		env, err := sealf(k, baseContext, []byte("tamper with me"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range env {
			for bit := range 8 {
				bad := bytes.Clone(env)
				bad[i] ^= 1 << bit
				if _, err := seal.Open(k, baseContext, bad); err != seal.ErrOpen {
					t.Fatalf("byte %d bit %d flipped: Open error = %v, want ErrOpen", i, bit, err)
				}
			}
		}
		for n := range len(env) {
			if _, err := seal.Open(k, baseContext, env[:n]); err != seal.ErrOpen {
				t.Fatalf("truncated to %d bytes: Open error = %v, want ErrOpen", n, err)
			}
		}
		if _, err := seal.Open(k, baseContext, append(bytes.Clone(env), 0)); err != seal.ErrOpen {
			t.Fatalf("extended by a byte: Open error = %v, want ErrOpen", err)
		}
	})
}

func BenchmarkSeal(b *testing.B) {
	for _, alg := range algorithms() {
		b.Run(alg.String(), func(b *testing.B) {
			k, pt := newKey(b, 1), make([]byte, 200)
			b.SetBytes(int64(len(pt)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := seal.SealWith(alg, k, baseContext, pt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	for _, alg := range algorithms() {
		b.Run(alg.String(), func(b *testing.B) {
			k := newKey(b, 1)
			env, err := seal.SealWith(alg, k, baseContext, make([]byte, 200))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(200)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := seal.Open(k, baseContext, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
