package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/testserver"
)

// observeEngine opens an engine on a fresh data directory and returns it
// with the directory and the store under it, so a test can read rows the
// engine wrote and close the store itself.
func observeEngine(t *testing.T, opts ...engine.Option) (*engine.Engine, string, store.Store) {
	t.Helper()
	dir := t.TempDir()
	var st store.Store
	e := testserver.OpenEngineOver(t, dir, nil, func(s store.Store) store.Store { st = s; return s }, opts...)
	return e, dir, st
}

// marker is a random word that reads as a proper noun (capitalised, only
// letters), so the extractor takes it for a name; it cannot occur in a
// data directory by chance.
func marker(t *testing.T) string {
	t.Helper()
	const consonants, vowels = "bdfgklmnprstvz", "aeiou"
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for i, x := range b {
		if i%2 == 0 {
			sb.WriteByte(consonants[int(x)%len(consonants)])
		} else {
			sb.WriteByte(vowels[int(x)%len(vowels)])
		}
	}
	s := sb.String()
	return strings.ToUpper(s[:1]) + s[1:]
}

// spellings are the byte forms of s a leak could take: as written, lower
// and upper case, and UTF-16 in both byte orders.
func spellings(s string) [][]byte {
	var out [][]byte
	for _, v := range []string{s, strings.ToLower(s), strings.ToUpper(s)} {
		out = append(out, []byte(v))
		u := utf16.Encode([]rune(v))
		le, be := make([]byte, 2*len(u)), make([]byte, 2*len(u))
		for i, c := range u {
			binary.LittleEndian.PutUint16(le[2*i:], c)
			binary.BigEndian.PutUint16(be[2*i:], c)
		}
		out = append(out, le, be)
	}
	return out
}

// scanDataDir reads every file under dir (database, WAL, shm, key file,
// anything) and calls found for each needle that occurs in one. Needles
// are named so a failure says what leaked, never the bytes themselves.
func scanDataDir(t *testing.T, dir string, needles map[string][]byte, found func(file, name string)) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for name, n := range needles {
			if len(n) > 0 && bytes.Contains(raw, n) {
				found(filepath.Base(path), name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatal("the data directory holds no file to scan")
	}
}

// tenantCtx creates a tenant and returns its owner's context.
func tenantCtx(t *testing.T, e *engine.Engine, name string) context.Context {
	t.Helper()
	ctx := context.Background()
	nt, err := e.CreateTenant(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return engram.WithPrincipal(ctx, p)
}

// keyCtx creates an API key with the given scopes in the tenant of ctx and
// returns a context authenticated by it.
func keyCtx(t *testing.T, e *engine.Engine, ctx context.Context, name string, scopes ...engram.Permission) context.Context {
	t.Helper()
	k, err := e.CreateKey(ctx, engram.CreateKeyRequest{Name: name, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(context.Background(), k.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return engram.WithPrincipal(context.Background(), p)
}

// observe stores one user message of user at time when (a day) and fails
// the test on error.
func observe(t *testing.T, e *engine.Engine, ctx context.Context, user, text, when string) *engram.Episode {
	t.Helper()
	ep, err := e.Observe(ctx, engram.ObserveRequest{Scope: engram.Scope{UserID: user},
		Messages: []engram.ObserveMessage{{Role: "user", Content: text, Timestamp: day(when)}}})
	if err != nil {
		t.Fatalf("observe: %v", err)
	}
	return ep
}

// obsWantCode fails unless err is an engram error with code.
func obsWantCode(t *testing.T, err error, code string) {
	t.Helper()
	if engram.ErrorCode(err) != code {
		t.Fatalf("got %v, want %s", err, code)
	}
}
