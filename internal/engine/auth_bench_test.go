package engine_test

import (
	"context"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// The pair measures what a refused key costs with an unknown id and with a
// known id and a wrong secret; equal medians mean response time does not
// tell which ids exist (docs/SECURITY.md has the figures):
//
//	go test -run '^$' -bench 'BenchmarkAuth(UnknownID|WrongSecret)$' -count 5 ./internal/engine/
func BenchmarkAuthUnknownID(b *testing.B)   { benchRefused(b, true) }
func BenchmarkAuthWrongSecret(b *testing.B) { benchRefused(b, false) }

func benchRefused(b *testing.B, unknownID bool) {
	e, _ := testserver.NewEngine(b)
	nt, _ := owner(b, e)
	unknown, wrong := refusedKeys(b, nt.Key.Secret)
	key := wrong
	if unknownID {
		key = unknown
	}
	ctx := engram.WithOrigin(context.Background(), engram.Origin{IP: "192.0.2.1", Transport: "rest", RequestID: "r"})
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Authenticate(ctx, key); engram.ErrorCode(err) != engram.CodeUnauthenticated {
			b.Fatal(err)
		}
	}
}
