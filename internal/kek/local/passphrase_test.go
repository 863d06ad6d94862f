package local_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/kek/kektest"
	"github.com/engram-memory/engram/internal/kek/local"
)

var update = flag.Bool("update", false, "rewrite the golden key files in testdata")

var pass = []byte("correct horse battery staple")

func TestPassphraseFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kek.key")
	k1, err := local.OpenOrCreateWithPassphraseCheap(path, pass)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if !strings.HasPrefix(text, "engram-kek-v1-argon2id:m=64,t=1,p=1:") || !strings.HasSuffix(text, "\n") || strings.Count(text, "\n") != 1 {
		t.Fatalf("file: %q", text)
	}
	key := []byte("a tenant key of 32 bytes........")
	w, err := k1.Wrap(ctx, key, []byte("tenant=1"))
	if err != nil {
		t.Fatal(err)
	}
	k2, err := local.OpenOrCreateWithPassphraseCheap(path, pass)
	if err != nil {
		t.Fatal(err)
	}
	if k1.ID() != k2.ID() {
		t.Fatal("reopened key has another id")
	}
	if got, err := k2.Unwrap(ctx, w, []byte("tenant=1")); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("unwrap: %v", err)
	}

	// Wrong passphrase: a clear error, no key.
	for _, wrong := range [][]byte{[]byte("correct horse battery stapler"), []byte("x"), bytes.ToUpper(pass)} {
		k, err := local.OpenOrCreateWithPassphraseCheap(path, wrong)
		if k != nil || !errors.Is(err, local.ErrWrongPassphrase) || !strings.Contains(err.Error(), "wrong passphrase or corrupted key file") {
			t.Fatalf("wrong passphrase %q: %v", wrong, err)
		}
		if strings.Contains(err.Error(), string(wrong)) {
			t.Fatal("the error repeats the passphrase")
		}
	}
	// No passphrase: says one is needed.
	k, err := local.OpenOrCreate(path)
	if k != nil || !errors.Is(err, local.ErrPassphraseRequired) || !strings.Contains(err.Error(), "passphrase is needed") {
		t.Fatalf("plain open of a sealed file: %v", err)
	}
	// Empty passphrase: refused before touching the file.
	for _, empty := range [][]byte{nil, {}} {
		if _, err := local.OpenOrCreateWithPassphraseCheap(path, empty); err == nil || errors.Is(err, local.ErrWrongPassphrase) {
			t.Fatalf("empty passphrase: %v", err)
		}
		if _, err := local.OpenOrCreateWithPassphrase(filepath.Join(t.TempDir(), "new.key"), empty); err == nil {
			t.Fatal("a file was sealed with an empty passphrase")
		}
	}
	// Still 0600-only.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := local.OpenOrCreateWithPassphraseCheap(path, pass); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("group-readable sealed file: %v", err)
	}
}

func TestPlainFileWithPassphrase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.key")
	if _, err := local.OpenOrCreate(path); err != nil {
		t.Fatal(err)
	}
	for _, open := range []func(string, []byte) (*local.KEK, error){local.OpenOrCreateWithPassphraseCheap, local.OpenOrCreateWithPassphrase} {
		k, err := open(path, pass)
		if k != nil || !errors.Is(err, local.ErrNotSealed) || !strings.Contains(err.Error(), "not sealed with a passphrase") {
			t.Fatalf("plain file opened with a passphrase: %v", err)
		}
	}
}

// TestSealedFileTampering flips every byte of a sealed file: none may open
// with the right passphrase (the header is the seal's associated data).
func TestSealedFileTampering(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "kek.key")
	if _, err := local.OpenOrCreateWithPassphraseCheap(path, pass); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	line := bytes.TrimSuffix(raw, []byte("\n"))
	bad := filepath.Join(dir, "bad.key")
	for i := range line {
		for _, bit := range []byte{0x01, 0x20} {
			b := bytes.Clone(raw)
			b[i] ^= bit
			if err := os.WriteFile(bad, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := local.OpenOrCreateWithPassphraseCheap(bad, pass); err == nil {
				t.Fatalf("byte %d (%q) ^ %#x: the altered file opened", i, line[i], bit)
			}
		}
	}
	// Other spellings of the same content are refused as well.
	for name, text := range map[string]string{
		"params reordered": strings.Replace(string(line), "m=64,t=1,p=1", "t=1,m=64,p=1", 1),
		"leading zero":     strings.Replace(string(line), "m=64,", "m=064,", 1),
		"extra field":      string(line) + ":",
		"line break in b64": func() string {
			i := strings.LastIndex(string(line), ":") + 10
			return string(line[:i]) + "\n" + string(line[i:])
		}(),
	} {
		if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := local.OpenOrCreateWithPassphraseCheap(bad, pass); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestPassphraseFloor: the production entry point refuses a file sealed
// with parameters below the floor, before spending work on it, and says
// why instead of blaming the passphrase.
func TestPassphraseFloor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.key")
	if _, err := local.OpenOrCreateWithPassphraseCheap(path, pass); err != nil {
		t.Fatal(err)
	}
	_, err := local.OpenOrCreateWithPassphrase(path, pass)
	if err == nil || errors.Is(err, local.ErrWrongPassphrase) || !strings.Contains(err.Error(), "below the minimum") {
		t.Fatalf("weak file: %v", err)
	}
	// Ceilings: absurd costs are refused by the parser, not attempted.
	orig := mustRead(t, path)
	for _, params := range []string{"m=4294967295,t=1,p=1", "m=65536,t=1000,p=1", "m=65536,t=3,p=200", "m=8,t=3,p=2"} {
		text := strings.Replace(orig, "m=64,t=1,p=1", params, 1)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if _, err := local.OpenOrCreateWithPassphrase(path, pass); err == nil || !strings.Contains(err.Error(), "out of range") {
			t.Fatalf("%s: %v", params, err)
		}
		if time.Since(start) > time.Second {
			t.Fatalf("%s: the parameters were tried", params)
		}
	}
}

// TestPassphraseDefaults runs the production parameters once.
func TestPassphraseDefaults(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek.key")
	start := time.Now()
	k1, err := local.OpenOrCreateWithPassphrase(path, pass)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("create with the default argon2id parameters: %s", time.Since(start))
	if text := mustRead(t, path); !strings.HasPrefix(text, "engram-kek-v1-argon2id:m=65536,t=3,p=2:") {
		t.Fatalf("default parameters not in the file: %q", text)
	}
	k2, err := local.OpenOrCreateWithPassphrase(path, pass)
	if err != nil || k2.ID() != k1.ID() {
		t.Fatalf("reopen: %v", err)
	}
}

// TestGoldenKeyFiles opens key files written by earlier versions: the
// formats must keep opening to the same key. -update writes new ones.
func TestGoldenKeyFiles(t *testing.T) {
	for _, c := range []struct {
		name string
		open func(string) (*local.KEK, error)
	}{
		{"plain-v1", local.OpenOrCreate},
		{"argon2id-v1", func(p string) (*local.KEK, error) { return local.OpenOrCreateWithPassphrase(p, pass) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			golden := filepath.Join("testdata", c.name+".key")
			goldenID := filepath.Join("testdata", c.name+".id")
			if *update {
				tmp := filepath.Join(t.TempDir(), "new.key")
				k, err := c.open(tmp)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(mustRead(t, tmp)), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(goldenID, []byte(k.ID()+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// A checkout may not keep 0600: open a private copy.
			p := filepath.Join(t.TempDir(), "kek.key")
			if err := os.WriteFile(p, []byte(mustRead(t, golden)), 0o600); err != nil {
				t.Fatal(err)
			}
			k, err := c.open(p)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSpace(mustRead(t, goldenID)); k.ID() != want {
				t.Fatalf("golden file opens to %s, want %s", k.ID(), want)
			}
		})
	}
}

func TestConformancePassphrase(t *testing.T) {
	kektest.Run(t, func(t *testing.T) kek.KEK {
		k, err := local.OpenOrCreateWithPassphraseCheap(filepath.Join(t.TempDir(), "kek.key"), pass)
		if err != nil {
			t.Fatal(err)
		}
		return k
	})
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func FuzzParseKeyFile(f *testing.F) {
	sealed := filepath.Join(f.TempDir(), "sealed.key")
	if _, err := local.OpenOrCreateWithPassphraseCheap(sealed, pass); err != nil {
		f.Fatal(err)
	}
	plain := filepath.Join(f.TempDir(), "plain.key")
	if _, err := local.OpenOrCreate(plain); err != nil {
		f.Fatal(err)
	}
	for _, p := range []string{sealed, plain, filepath.Join("testdata", "plain-v1.key"), filepath.Join("testdata", "argon2id-v1.key")} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, s := range []string{
		"", "engram-kek-v1:", "engram-kek-v1-argon2id:", "engram-kek-v1-argon2id:::",
		"engram-kek-v1-argon2id:m=65536,t=3,p=2:AAAAAAAAAAAAAAAAAAAAAA==:",
		"engram-kek-v1-argon2id:m=99999999999,t=3,p=2:AAAAAAAAAAAAAAAAAAAAAA==:AAAA",
		"engram-kek-v1:AAAA\nAAAA", "hello",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		canon, err := local.ParseKeyFile(text)
		if err != nil {
			return
		}
		// Strict: one spelling per key file.
		if canon != strings.TrimSpace(text) {
			t.Fatalf("accepted %q, which formats as %q", text, canon)
		}
		again, err := local.ParseKeyFile(canon)
		if err != nil || again != canon {
			t.Fatalf("format does not parse back: %q: %v", canon, err)
		}
	})
}
