package seal_test

import (
	"bytes"
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

// golden is a version 1 envelope kept in testdata: every shipped format
// version must keep opening.
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

var goldenPath = filepath.Join("testdata", "seal", "v1.golden")

// goldenKey is a fixed test-only key; it protects nothing.
func goldenKey(t testing.TB) seal.Key {
	k := seal.Key{Version: 5, Secret: unhex(t, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")}
	copy(k.ID[:], unhex(t, "00112233445566778899aabbccddeeff"))
	return k
}

var goldenContext = seal.Context{Domain: "memory", Tenant: "tenant-1", Subject: "user-1", Record: "mem-1", Field: "content"}

func TestGoldenV1(t *testing.T) {
	k := goldenKey(t)
	if *update {
		pt := []byte("engram seal v1 golden plaintext")
		env, err := seal.Seal(k, goldenContext, pt)
		if err != nil {
			t.Fatal(err)
		}
		var g golden
		g.Comment = "Envelope format v1 (AES-256-GCM-SIV). Test-only key. Regenerate with: go test ./internal/seal -run TestGoldenV1 -update"
		g.Key.ID, g.Key.Version, g.Key.Secret = hex.EncodeToString(k.ID[:]), k.Version, hex.EncodeToString(k.Secret)
		g.Context, g.Plaintext, g.Envelope = goldenContext, hex.EncodeToString(pt), hex.EncodeToString(env)
		b, err := json.MarshalIndent(g, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := readGolden(t)
	if g.Key.ID != hex.EncodeToString(k.ID[:]) || g.Key.Version != k.Version || g.Key.Secret != hex.EncodeToString(k.Secret) {
		t.Fatalf("golden key %+v differs from goldenKey", g.Key)
	}
	env, pt := unhex(t, g.Envelope), unhex(t, g.Plaintext)
	got, err := seal.Open(k, g.Context, env)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open(golden) = %q, %v; want %q", got, err, pt)
	}

	h, err := seal.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(env[:2], []byte{0xE6, 0x5E}) {
		t.Errorf("magic = %x, want e65e", env[:2])
	}
	if h.Version != 1 || h.Alg != seal.AES256GCMSIV || h.KeyID != k.ID || h.KeyVersion != k.Version {
		t.Errorf("header = version %d alg %d key %x/%d; want 1, 1, %x/%d", h.Version, h.Alg, h.KeyID, h.KeyVersion, k.ID, k.Version)
	}
	if !bytes.Equal(h.Nonce, env[24:36]) || !bytes.Equal(h.Commitment, env[36:68]) || !bytes.Equal(h.Body, env[68:]) {
		t.Errorf("nonce/commitment/body not at offsets 24/36/68")
	}
	if len(h.Body) != len(pt)+16 {
		t.Errorf("len(Body) = %d, want %d", len(h.Body), len(pt)+16)
	}
	if m := h.Marshal(); !bytes.Equal(m, env) {
		t.Errorf("Marshal = %x\nwant      %x", m, env)
	}
}

func readGolden(t testing.TB) golden {
	t.Helper()
	b, err := os.ReadFile(goldenPath)
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
	env, err := seal.Seal(newKey(t, 1), baseContext, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seal.Parse(env); err != nil {
		t.Fatalf("Parse(minimal envelope): %v", err)
	}
	set := func(i int, v byte) []byte { b := bytes.Clone(env); b[i] = v; return b }
	bad := map[string][]byte{
		"magic 0":          set(0, 0xE7),
		"magic 1":          set(1, 0x01),
		"version 0":        set(2, 0),
		"version 2":        set(2, 2),
		"alg 0":            set(3, 0),
		"alg 2 (reserved)": set(3, 2),
		"alg 255":          set(3, 255),
		"plain text":       []byte(`{"content":"hello, this is not an envelope at all, just text......"}`),
	}
	for n := range len(env) {
		bad[fmt.Sprintf("short %d", n)] = env[:n]
	}
	for name, b := range bad {
		if h, err := seal.Parse(b); !errors.Is(err, seal.ErrMalformed) {
			t.Errorf("%s: Parse = %+v, %v; want ErrMalformed", name, h, err)
		}
	}
}

func fuzzSeeds(f *testing.F) {
	g := readGolden(f)
	env := unhex(f, g.Envelope)
	f.Add(env)
	f.Add(env[:84])
	f.Add(env[:83])
	other, err := seal.Seal(goldenKey(f), seal.Context{Domain: "other", Field: "f"}, []byte("x"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(other)
	f.Add([]byte{})
	f.Add([]byte{0xE6, 0x5E, 1, 1})
	f.Add([]byte{0xE6, 0x5E, 1, 2})
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
