package seal_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
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

func TestRoundTrip(t *testing.T) {
	k := newKey(t, 3)
	for _, pt := range [][]byte{nil, {}, []byte("x"), []byte("the quick brown fox"), bytes.Repeat([]byte{0xAB}, 4096)} {
		env, err := seal.Seal(k, baseContext, pt)
		if err != nil {
			t.Fatalf("Seal(%d bytes): %v", len(pt), err)
		}
		if got, want := len(env), 84+len(pt); got != want {
			t.Errorf("len(envelope) = %d, want %d", got, want)
		}
		got, err := seal.Open(k, baseContext, env)
		if err != nil {
			t.Fatalf("Open(%d bytes): %v", len(pt), err)
		}
		if got == nil || !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, want %q", got, pt)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	k := newKey(t, 1)
	a, _ := seal.Seal(k, baseContext, []byte("same"))
	b, _ := seal.Seal(k, baseContext, []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same plaintext are identical")
	}
}

func TestSealRejectsBadInput(t *testing.T) {
	k := newKey(t, 1)
	short := k
	short.Secret = k.Secret[:16] // AES-128 would be accepted by tink; not by us
	long := k
	long.Secret = append(bytes.Clone(k.Secret), 0)
	noDomain, noField := baseContext, baseContext
	env, err := seal.Seal(k, baseContext, []byte("p"))
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
		if bad, err := seal.Seal(tc.k, tc.c, []byte("p")); err == nil {
			t.Errorf("%s: Seal succeeded: %x", name, bad)
		}
		if _, err := seal.Open(tc.k, tc.c, env); err != seal.ErrOpen {
			t.Errorf("%s: Open error = %v, want ErrOpen", name, err)
		}
	}
}

// TestSubstitution moves a ciphertext to every other place it could be
// pasted: each must fail with exactly ErrOpen.
func TestSubstitution(t *testing.T) {
	k := newKey(t, 7)
	env, err := seal.Seal(k, baseContext, []byte("alice's secret"))
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
}

func TestTampering(t *testing.T) {
	k := newKey(t, 1)
	env, err := seal.Seal(k, baseContext, []byte("tamper with me"))
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
}

// TestFIPSRefusesGCMSIV runs itself again with GODEBUG=fips140=on: GCM-SIV is
// outside the FIPS boundary and must be refused in both directions.
func TestFIPSRefusesGCMSIV(t *testing.T) {
	k := seal.Key{Secret: bytes.Repeat([]byte{1}, 32)}
	if os.Getenv("SEAL_FIPS_CHILD") == "1" {
		if _, err := seal.Seal(k, baseContext, []byte("p")); err == nil {
			t.Fatal("Seal succeeded in FIPS mode")
		}
		env, _ := hex.DecodeString(os.Getenv("SEAL_FIPS_ENVELOPE"))
		if _, err := seal.Open(k, baseContext, env); !errors.Is(err, seal.ErrOpen) {
			t.Fatalf("Open error = %v in FIPS mode, want ErrOpen", err)
		}
		return
	}
	env, err := seal.Seal(k, baseContext, []byte("p"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFIPSRefusesGCMSIV$", "-test.v")
	cmd.Env = append(os.Environ(), "GODEBUG=fips140=on", "SEAL_FIPS_CHILD=1", "SEAL_FIPS_ENVELOPE="+hex.EncodeToString(env))
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: TestFIPSRefusesGCMSIV")) {
		t.Fatalf("FIPS child: %v\n%s", err, out)
	}
}

func BenchmarkSeal(b *testing.B) {
	k, pt := newKey(b, 1), make([]byte, 200)
	b.SetBytes(int64(len(pt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seal.Seal(k, baseContext, pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := newKey(b, 1)
	env, err := seal.Seal(k, baseContext, make([]byte, 200))
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
}
