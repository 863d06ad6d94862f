// Package kektest is the conformance suite every KEK provider passes, so
// that the key hierarchy can rely on the same behaviour from a key file, a
// Vault server or a cloud KMS.
package kektest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/kek"
)

// Run checks the KEK returned by open (a fresh one for each subtest).
func Run(t *testing.T, open func(t *testing.T) kek.KEK) {
	t.Run("RoundTrip", func(t *testing.T) {
		k := open(t)
		ctx := context.Background()
		for _, n := range []int{16, 32, 48, 64} {
			key := random(t, n)
			aad := []byte(fmt.Sprintf("tenant=t1;purpose=tenant;v=%d", n))
			w, err := k.Wrap(ctx, key, aad)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(w, key) {
				t.Fatal("wrapped key contains the key")
			}
			got, err := k.Unwrap(ctx, w, aad)
			if err != nil || !bytes.Equal(got, key) {
				t.Fatalf("unwrap %d bytes: %v", n, err)
			}
		}
	})
	t.Run("ID", func(t *testing.T) {
		k := open(t)
		if k.ID() == "" || k.ID() != k.ID() {
			t.Fatal("ID must be non-empty and stable")
		}
	})
	t.Run("Randomised", func(t *testing.T) {
		k := open(t)
		key := random(t, 32)
		a, err := k.Wrap(context.Background(), key, []byte("aad"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Wrap(context.Background(), key, []byte("aad"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(a, b) {
			t.Fatal("two wraps of one key are identical: the wrapping is deterministic")
		}
	})
	t.Run("WrongAAD", func(t *testing.T) {
		k := open(t)
		ctx := context.Background()
		w, err := k.Wrap(ctx, random(t, 32), []byte("tenant=t1"))
		if err != nil {
			t.Fatal(err)
		}
		for _, aad := range [][]byte{[]byte("tenant=t2"), []byte("tenant=t1 "), nil, []byte("Tenant=t1")} {
			if _, err := k.Unwrap(ctx, w, aad); !errors.Is(err, kek.ErrUnwrap) {
				t.Fatalf("aad %q: want ErrUnwrap, got %v", aad, err)
			}
		}
	})
	t.Run("Tampered", func(t *testing.T) {
		k := open(t)
		ctx := context.Background()
		aad := []byte("x")
		w, err := k.Wrap(ctx, random(t, 32), aad)
		if err != nil {
			t.Fatal(err)
		}
		bad := [][]byte{nil, {}, w[:len(w)/2], append(bytes.Clone(w), 0)}
		for _, i := range []int{0, len(w) / 2, len(w) - 1} {
			b := bytes.Clone(w)
			b[i] ^= 0x40
			bad = append(bad, b)
		}
		for i, b := range bad {
			if _, err := k.Unwrap(ctx, b, aad); !errors.Is(err, kek.ErrUnwrap) {
				t.Fatalf("tampered input %d: want ErrUnwrap, got %v", i, err)
			}
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		k := open(t)
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					key := []byte(fmt.Sprintf("key-%02d-%02d-................", g, i))
					aad := []byte(fmt.Sprintf("g%d", g))
					w, err := k.Wrap(ctx, key, aad)
					if err != nil {
						errs <- err
						return
					}
					got, err := k.Unwrap(ctx, w, aad)
					if err != nil || !bytes.Equal(got, key) {
						errs <- fmt.Errorf("goroutine %d: %v", g, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		k := open(t)
		ctx, cancel := context.WithCancel(context.Background())
		w, err := k.Wrap(ctx, random(t, 32), []byte("a"))
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		start := time.Now()
		// A provider that calls out must give up at once; a local one may
		// still answer. Either way it must not hang or return a wrong key.
		got, err := k.Unwrap(ctx, w, []byte("a"))
		if err == nil && len(got) != 32 {
			t.Fatal("unwrap under a cancelled context returned a wrong key")
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("unwrap ignored a cancelled context")
		}
	})
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
