package password_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/engram-memory/engram/internal/password"
)

// testParams are far below OWASP's so tests run fast; production uses
// password.OWASP. Only TestOWASPDefault runs the real cost, once.
var testParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func newHasher(t *testing.T, p password.Params) *password.Hasher {
	t.Helper()
	h, err := password.New(p, rand.Reader, 2)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, testParams)
	enc, err := h.Hash(ctx, "tangerine elephant umbrella")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("Hash = %q, want an argon2id PHC string with the test parameters", enc)
	}
	if strings.Contains(enc, "tangerine") {
		t.Fatal("the hash contains the password")
	}
	ok, err := h.Verify(ctx, enc, "tangerine elephant umbrella")
	if err != nil || !ok {
		t.Fatalf("Verify(right) = %v, %v", ok, err)
	}
	for _, wrong := range []string{"tangerine elephant umbrellA", "tangerine elephant umbrella ", "", "tangerine"} {
		if ok, err := h.Verify(ctx, enc, wrong); ok || err != nil {
			t.Errorf("Verify(%q) = %v, %v; want false, nil", wrong, ok, err)
		}
	}
	// Oversized input is refused without being hashed as is, and a
	// password at the policy's ceiling still verifies.
	if ok, err := h.Verify(ctx, enc, strings.Repeat("x", 1<<20)); ok || err != nil {
		t.Errorf("Verify(1 MiB) = %v, %v", ok, err)
	}
	long := strings.Repeat("long passphrase ", 64) // 1024 bytes
	encLong, _ := h.Hash(ctx, long)
	if ok, err := h.Verify(ctx, encLong, long); !ok || err != nil {
		t.Errorf("Verify(1024 bytes) = %v, %v", ok, err)
	}
	// A fresh salt each time: the same password never hashes the same.
	enc2, _ := h.Hash(ctx, "tangerine elephant umbrella")
	if enc2 == enc {
		t.Error("two hashes of one password are equal: the salt is not fresh")
	}
}

// TestReferenceVectors checks Verify (and so the PHC parser, the argon2id
// core and the normalisation) against hashes made by the reference C
// implementation.
func TestReferenceVectors(t *testing.T) {
	ctx := context.Background()
	h := newHasher(t, testParams)
	f, err := os.Open("testdata/argon2-cli.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		q, enc, _ := strings.Cut(line, "\t")
		pw, err := strconv.Unquote(q)
		if err != nil {
			t.Fatal(err)
		}
		n++
		spellings := []string{pw, norm.NFD.String(pw)}
		if strings.Contains(pw, "fi") {
			spellings = append(spellings, strings.Replace(pw, "fi", "\ufb01", 1))
		}
		for _, s := range spellings {
			if ok, err := h.Verify(ctx, enc, s); !ok || err != nil {
				t.Errorf("Verify(%q [% x], %s) = %v, %v", pw, s, enc, ok, err)
			}
		}
		if ok, _ := h.Verify(ctx, enc, pw+"!"); ok {
			t.Errorf("Verify accepted a wrong password against %s", enc)
		}
		// The parser round-trips the reference's encoding byte for byte.
		parsed, err := password.Parse(enc)
		if err != nil || parsed.String() != enc {
			t.Errorf("Parse(%s) = %v, %v", enc, parsed, err)
		}
	}
	if n != 4 {
		t.Fatalf("read %d vectors, want 4", n)
	}
}

func TestNeedsRehash(t *testing.T) {
	ctx := context.Background()
	old := newHasher(t, testParams)
	enc, _ := old.Hash(ctx, "tangerine elephant umbrella")
	if old.NeedsRehash(enc) {
		t.Error("NeedsRehash with the same parameters")
	}
	for _, p := range []password.Params{
		{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 32, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 64},
	} {
		h := newHasher(t, p)
		if !h.NeedsRehash(enc) {
			t.Errorf("NeedsRehash under %+v = false", p)
		}
		// The old hash still verifies under the new Hasher: its own
		// parameters travel with it.
		if ok, err := h.Verify(ctx, enc, "tangerine elephant umbrella"); !ok || err != nil {
			t.Errorf("old hash under %+v: Verify = %v, %v", p, ok, err)
		}
	}
	if !old.NeedsRehash("$2a$10$bcrypt.hash") {
		t.Error("NeedsRehash of a foreign hash = false")
	}
}

// TestVerifyAbsent: an unknown account costs the Hasher's full work. We
// do not assert time (flaky on a shared machine); we assert work: argon2id
// must fill Memory KiB, so VerifyAbsent allocates at least that much, as
// much as a real Verify, and it waits for a slot like every hash.
func TestVerifyAbsent(t *testing.T) {
	ctx := context.Background()
	p := password.Params{Memory: 4096, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	h := newHasher(t, p)
	enc, _ := h.Hash(ctx, "tangerine elephant umbrella")
	allocated := func(f func()) uint64 {
		var a, b runtime.MemStats
		runtime.ReadMemStats(&a)
		f()
		runtime.ReadMemStats(&b)
		return b.TotalAlloc - a.TotalAlloc
	}
	real := allocated(func() { _, _ = h.Verify(ctx, enc, "wrong password guess") })
	absent := allocated(func() {
		if err := h.VerifyAbsent(ctx, "wrong password guess"); err != nil {
			t.Error(err)
		}
	})
	floor := uint64(p.Memory) * 1024
	if real < floor || absent < floor {
		t.Errorf("allocated %d (Verify) and %d (VerifyAbsent) bytes, want both >= %d", real, absent, floor)
	}

	release := h.Hold()
	release2 := h.Hold() // concurrency 2: both slots taken
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := h.VerifyAbsent(cctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyAbsent with no free slot = %v, want context.Canceled", err)
	}
	if ok, err := h.Verify(cctx, enc, "tangerine elephant umbrella"); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with no free slot = %v, %v, want false, context.Canceled", ok, err)
	}
	if _, err := h.Hash(cctx, "tangerine elephant umbrella"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with no free slot = %v, want context.Canceled", err)
	}
	release()
	release2()
}

func TestNewRefusesBadParams(t *testing.T) {
	for _, p := range []password.Params{
		{},
		{Memory: 7, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
		{Memory: password.MaxMemory + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: password.MaxTime + 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		if _, err := password.New(p, rand.Reader, 1); !errors.Is(err, password.ErrParams) {
			t.Errorf("New(%+v) = %v, want ErrParams", p, err)
		}
	}
	if _, err := password.New(testParams, bytes.NewReader(nil), 1); err == nil {
		t.Error("New with an empty random source succeeded")
	}
}

// TestOWASPDefault pins the production parameters. Hashing with them is
// the same code as with testParams; it is not run here because under -race
// one such hash takes seconds.
func TestOWASPDefault(t *testing.T) {
	if password.OWASP != (password.Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}) {
		t.Fatalf("OWASP = %+v", password.OWASP)
	}
	h := newHasher(t, password.OWASP)
	if h.Params() != password.OWASP {
		t.Errorf("Params = %+v", h.Params())
	}
}

func TestVerifyCancelled(t *testing.T) {
	h := newHasher(t, testParams)
	enc, _ := h.Hash(context.Background(), "tangerine elephant umbrella")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A free slot may still be taken; what must hold is that a cancelled
	// context never turns a wrong password into success.
	if ok, _ := h.Verify(ctx, enc, "wrong password here"); ok {
		t.Error("wrong password verified")
	}
}
