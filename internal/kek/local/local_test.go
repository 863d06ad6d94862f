package local_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/kek/kektest"
	"github.com/engram-memory/engram/internal/kek/local"
)

func TestKeyFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kek.key")
	k1, err := local.OpenOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	w, err := k1.Wrap(ctx, []byte("a tenant key of 32 bytes........"), []byte("tenant=1"))
	if err != nil {
		t.Fatal(err)
	}
	// Reopening reads the same key.
	k2, err := local.OpenOrCreate(path)
	if err != nil {
		t.Fatal(err)
	}
	if k1.ID() != k2.ID() {
		t.Fatal("reopened key has another id")
	}
	got, err := k2.Unwrap(ctx, w, []byte("tenant=1"))
	if err != nil || !bytes.Equal(got, []byte("a tenant key of 32 bytes........")) {
		t.Fatalf("unwrap: %q %v", got, err)
	}
	// Other context, other key, tampering: all ErrUnwrap.
	if _, err := k2.Unwrap(ctx, w, []byte("tenant=2")); !errors.Is(err, kek.ErrUnwrap) {
		t.Fatalf("other aad: %v", err)
	}
	other, err := local.OpenOrCreate(filepath.Join(t.TempDir(), "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Unwrap(ctx, w, []byte("tenant=1")); !errors.Is(err, kek.ErrUnwrap) {
		t.Fatalf("other kek: %v", err)
	}
	for i := range w {
		bad := bytes.Clone(w)
		bad[i] ^= 1
		if _, err := k1.Unwrap(ctx, bad, []byte("tenant=1")); !errors.Is(err, kek.ErrUnwrap) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	if _, err := k1.Unwrap(ctx, nil, nil); !errors.Is(err, kek.ErrUnwrap) {
		t.Fatal("empty input")
	}
}

func TestKeyFileRefusals(t *testing.T) {
	dir := t.TempDir()
	loose := filepath.Join(dir, "loose.key")
	if _, err := local.OpenOrCreate(loose); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := local.OpenOrCreate(loose); err == nil {
		t.Fatal("a world-readable key file must be refused")
	}
	for name, content := range map[string]string{
		"garbage":   "hello",
		"short key": "engram-kek-v1:AAAA",
		"bad b64":   "engram-kek-v1:!!!!",
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := local.OpenOrCreate(p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := local.New(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}

func TestConformance(t *testing.T) {
	kektest.Run(t, func(t *testing.T) kek.KEK {
		k, err := local.OpenOrCreate(filepath.Join(t.TempDir(), "kek.key"))
		if err != nil {
			t.Fatal(err)
		}
		return k
	})
}
