package password_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/engram-memory/engram/internal/password"
)

// BenchmarkVerifyOWASP measures one login's hashing cost with the
// production parameters (19 MiB, t=2, p=1):
//
//	go test -run XXX -bench VerifyOWASP -benchmem ./internal/password/
func BenchmarkVerifyOWASP(b *testing.B) {
	ctx := context.Background()
	h, err := password.New(password.OWASP, rand.Reader, 1)
	if err != nil {
		b.Fatal(err)
	}
	enc, err := h.Hash(ctx, "tangerine elephant umbrella")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("known", func(b *testing.B) {
		for b.Loop() {
			if ok, _ := h.Verify(ctx, enc, "tangerine elephant umbrella"); !ok {
				b.Fatal("no match")
			}
		}
	})
	b.Run("absent", func(b *testing.B) {
		for b.Loop() {
			_ = h.VerifyAbsent(ctx, "tangerine elephant umbrella")
		}
	})
}
