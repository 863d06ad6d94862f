package seal_test

import (
	"bytes"
	"crypto/fips140"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/engram-memory/engram/internal/seal"
)

var update = flag.Bool("update", false, "rewrite the golden envelopes in testdata")

// golden is an envelope kept in testdata: every shipped format version and
// algorithm must keep opening.
type golden struct {
	Comment string `json:"comment"`
	Key     struct {
		ID      string `json:"id"`
		Version uint32 `json:"version"`
		Secret  string `json:"secret"`
	} `json:"key"`
	Context   seal.Context `json:"context"`
	Plaintext string       `json:"plaintext"`
	Envelope  string       `json:"envelope"`
}

// goldenFile describes one golden envelope. Both use goldenKey and
// goldenContext, so that the fuzz targets mutate envelopes that would open.
type goldenFile struct {
	path, test, comment string
	alg                 seal.Algorithm
	plaintext           string
}

var (
	goldenV1 = goldenFile{
		path:      filepath.Join("testdata", "seal", "v1.golden"),
		test:      "TestGoldenV1",
		comment:   "Envelope format v1 (AES-256-GCM-SIV). Test-only key. Regenerate with: go test ./internal/seal -run TestGoldenV1 -update",
		alg:       seal.AES256GCMSIV,
		plaintext: "engram seal v1 golden plaintext",
	}
	goldenV1Alg2 = goldenFile{
		path:      filepath.Join("testdata", "seal", "v1-alg2.golden"),
		test:      "TestGoldenV1Alg2",
		comment:   "Envelope format v1, algorithm 2 (AES-256-GCM, HKDF-SHA256 subkey; the FIPS profile). Test-only key. Regenerate with: go test ./internal/seal -run 'TestGoldenV1Alg2$' -update",
		alg:       seal.AES256GCMHKDF,
		plaintext: "engram seal v1 algorithm 2 golden plaintext",
	}
)

// goldenKey is a fixed test-only key; it protects nothing.
func goldenKey(t testing.TB) seal.Key {
	k := seal.Key{Version: 5, Secret: unhex(t, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")}
	copy(k.ID[:], unhex(t, "00112233445566778899aabbccddeeff"))
	return k
}

var goldenContext = seal.Context{Domain: "memory", Tenant: "tenant-1", Subject: "user-1", Record: "mem-1", Field: "content"}

// TestGoldenV1 opens the algorithm 1 golden envelope: in the standard
// profile it must open, in the fips profile it must be refused.
func TestGoldenV1(t *testing.T) { testGolden(t, goldenV1) }

// TestGoldenV1Alg2 opens the algorithm 2 golden envelope, which must open in
// both profiles (TestFIPSProfile and TestFIPSBuild open it in the fips one).
func TestGoldenV1Alg2(t *testing.T) { testGolden(t, goldenV1Alg2) }

func testGolden(t *testing.T, gf goldenFile) {
	k := goldenKey(t)
	if *update {
		writeGolden(t, gf, k)
	}
	g := readGolden(t, gf)
	if g.Key.ID != hex.EncodeToString(k.ID[:]) || g.Key.Version != k.Version || g.Key.Secret != hex.EncodeToString(k.Secret) {
		t.Fatalf("golden key %+v differs from goldenKey", g.Key)
	}
	if g.Context != goldenContext {
		t.Fatalf("golden context %+v differs from goldenContext", g.Context)
	}
	env, pt := unhex(t, g.Envelope), unhex(t, g.Plaintext)
	got, err := seal.Open(k, g.Context, env)
	if gf.alg == seal.AES256GCMSIV && fips140.Enabled() {
		if err != seal.ErrOpen || got != nil {
			t.Fatalf("fips profile: Open(golden) = %q, %v; want ErrOpen", got, err)
		}
	} else if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open(golden) = %q, %v; want %q", got, err, pt)
	}

	h, err := seal.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env[:2], []byte{0xE6, 0x5E}) {
		t.Errorf("magic = %x, want e65e", env[:2])
	}
	if h.Version != 1 || h.Alg != gf.alg || h.KeyID != k.ID || h.KeyVersion != k.Version {
		t.Errorf("header = version %d alg %d key %x/%d; want 1, %d, %x/%d", h.Version, h.Alg, h.KeyID, h.KeyVersion, gf.alg, k.ID, k.Version)
	}
	if !bytes.Equal(h.Nonce, env[24:36]) || !bytes.Equal(h.Commitment, env[36:68]) || !bytes.Equal(h.Body, env[68:]) {
		t.Errorf("nonce/commitment/body not at offsets 24/36/68")
	}
	if want := len(pt) + overhead(gf.alg) - 68; len(h.Body) != want {
		t.Errorf("len(Body) = %d, want %d", len(h.Body), want)
	}
	if m := h.Marshal(); !bytes.Equal(m, env) {
		t.Errorf("Marshal = %x\nwant      %x", m, env)
	}
}

// overhead is the envelope size of an empty plaintext.
func overhead(alg seal.Algorithm) int {
	switch alg {
	case seal.AES256GCMSIV:
		return 84 // header 68 + tag 16
	case seal.AES256GCMHKDF:
		return 96 // header 68 + GCM nonce 12 + tag 16
	}
	panic("unknown algorithm")
}

func writeGolden(t *testing.T, gf goldenFile, k seal.Key) {
	t.Helper()
	pt := []byte(gf.plaintext)
	env, err := seal.SealWith(gf.alg, k, goldenContext, pt)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	g.Comment = gf.comment
	g.Key.ID, g.Key.Version, g.Key.Secret = hex.EncodeToString(k.ID[:]), k.Version, hex.EncodeToString(k.Secret)
	g.Context, g.Plaintext, g.Envelope = goldenContext, hex.EncodeToString(pt), hex.EncodeToString(env)
	b, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gf.path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readGolden(t testing.TB, gf goldenFile) golden {
	t.Helper()
	b, err := os.ReadFile(gf.path)
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestParseRejects(t *testing.T) {
	k := newKey(t, 1)
	env2, err := seal.SealWith(seal.AES256GCMHKDF, k, baseContext, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Parse checks no cryptography, so in the fips profile, which cannot
	// seal algorithm 1, a relabelled prefix of env2 stands in for it.
	env1 := append([]byte{}, env2[:84]...)
	env1[3] = byte(seal.AES256GCMSIV)
	if !fips140.Enabled() {
		if env1, err = seal.SealWith(seal.AES256GCMSIV, k, baseContext, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range [][]byte{env1, env2} {
		if _, err := seal.Parse(env); err != nil {
			t.Fatalf("Parse(minimal envelope of %d bytes): %v", len(env), err)
		}
	}
	set := func(env []byte, i int, v byte) []byte { b := bytes.Clone(env); b[i] = v; return b }
	bad := map[string][]byte{
		"magic 0":   set(env1, 0, 0xE7),
		"magic 1":   set(env1, 1, 0x01),
		"version 0": set(env1, 2, 0),
		"version 2": set(env1, 2, 2),
		"alg 0":     set(env1, 3, 0),
		"alg 3":     set(env2, 3, 3),
		"alg 255":   set(env1, 3, 255),
		// An 84-byte envelope is complete for algorithm 1, 12 bytes short
		// for algorithm 2.
		"alg 2, 84 bytes": set(env1, 3, 2),
		"plain text":      []byte(`{"content":"hello, this is not an envelope at all, just text......"}`),
	}
	for n := range len(env2) {
		bad[fmt.Sprintf("alg 2, short %d", n)] = env2[:n]
		if n < len(env1) {
			bad[fmt.Sprintf("alg 1, short %d", n)] = env1[:n]
		}
	}
	for name, b := range bad {
		if h, err := seal.Parse(b); !errors.Is(err, seal.ErrMalformed) {
			t.Errorf("%s: Parse = %+v, %v; want ErrMalformed", name, h, err)
		}
	}
	// Algorithm 1 with 96 bytes is fine: a 12-byte plaintext.
	if _, err := seal.Parse(set(env2, 3, 1)); err != nil {
		t.Errorf("Parse(96-byte algorithm 1 envelope): %v", err)
	}
}

// fuzzSeeds adds both golden envelopes, their minimal and one-byte-short
// prefixes, envelopes under another context, and bare headers.
func fuzzSeeds(f *testing.F) {
	for _, gf := range []goldenFile{goldenV1, goldenV1Alg2} {
		env := unhex(f, readGolden(f, gf).Envelope)
		n := overhead(gf.alg)
		f.Add(env)
		f.Add(env[:n])
		f.Add(env[:n-1])
		if gf.alg == seal.AES256GCMSIV && fips140.Enabled() {
			continue // the fips profile cannot seal algorithm 1
		}
		other, err := seal.SealWith(gf.alg, goldenKey(f), seal.Context{Domain: "other", Field: "f"}, []byte("x"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(other)
	}
	f.Add([]byte{})
	f.Add([]byte{0xE6, 0x5E, 1, 1})
	f.Add([]byte{0xE6, 0x5E, 1, 2})
	f.Add([]byte{0xE6, 0x5E, 1, 3})
}

func FuzzParse(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := seal.Parse(b)
		if err != nil {
			if h != nil || !errors.Is(err, seal.ErrMalformed) {
				t.Fatalf("Parse = %+v, %v; want nil, ErrMalformed", h, err)
			}
			return
		}
		if len(b) < overhead(h.Alg) {
			t.Fatalf("Parse accepted %d bytes of algorithm %d", len(b), h.Alg)
		}
		m := h.Marshal()
		if !bytes.Equal(m, b) {
			t.Fatalf("Marshal(Parse(b)) = %x, want %x", m, b)
		}
		h2, err := seal.Parse(m)
		if err != nil || !reflect.DeepEqual(h, h2) {
			t.Fatalf("Parse(Marshal) = %+v, %v; want %+v", h2, err, h)
		}
	})
}

// FuzzOpen feeds arbitrary bytes to Open under the golden key and a context
// nothing was sealed under: nothing may open and nothing may panic.
func FuzzOpen(f *testing.F) {
	fuzzSeeds(f)
	k := goldenKey(f)
	c := seal.Context{Domain: "fuzz", Tenant: "t", Field: "f"}
	f.Fuzz(func(t *testing.T, b []byte) {
		if pt, err := seal.Open(k, c, b); err != seal.ErrOpen || pt != nil {
			t.Fatalf("Open = %x, %v; want nil, ErrOpen", pt, err)
		}
	})
}

// FuzzOpenGolden feeds arbitrary bytes to Open under the golden key and the
// golden context, where the golden envelopes of both algorithms do open: the
// only inputs that may open are those envelopes themselves (the algorithm 1
// one only in the standard profile), to their plaintexts.
func FuzzOpenGolden(f *testing.F) {
	fuzzSeeds(f)
	k := goldenKey(f)
	genuine := map[string]string{}
	for _, gf := range []goldenFile{goldenV1, goldenV1Alg2} {
		if gf.alg == seal.AES256GCMSIV && fips140.Enabled() {
			continue
		}
		g := readGolden(f, gf)
		genuine[string(unhex(f, g.Envelope))] = string(unhex(f, g.Plaintext))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pt, err := seal.Open(k, goldenContext, b)
		want, ok := genuine[string(b)]
		switch {
		case ok && (err != nil || string(pt) != want):
			t.Fatalf("Open(golden) = %q, %v; want %q", pt, err, want)
		case !ok && (err != seal.ErrOpen || pt != nil):
			t.Fatalf("Open(%x) = %q, %v; want nil, ErrOpen", b, pt, err)
		}
	})
}
