package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// What signing in and authenticating a request cost, with production
// argon2id parameters (OWASP: 19 MiB, t=2) and the store on disk:
//
//	go test -run '^$' -bench 'Benchmark(Login|LoginUnknown|AuthSession|AuthKey)$' -count 5 ./internal/engine/
//
// BenchmarkLoginUnknown (a new unknown address each time, so the throttle
// never answers first) does one argon2id against a dummy hash, as a wrong
// password does against the real one; BenchmarkLogin adds the session's
// write to that. BenchmarkAuthSession against BenchmarkAuthKey is what an
// access token costs per request over an API key.
func BenchmarkLogin(b *testing.B)        { benchLogin(b, "", benchPassword) }
func BenchmarkLoginUnknown(b *testing.B) { benchLogin(b, "nobody", "Not-The-Password-11") }

const benchPassword = "Thistle-Beacon-Ferry-73"

func signedUp(b *testing.B, e *engine.Engine) {
	b.Helper()
	ctx := context.Background()
	if _, err := e.CreateTenant(ctx, "t"); err != nil {
		b.Fatal(err)
	}
	inv, err := e.InviteAsOperator(ctx, "t", engram.InviteRequest{Email: "pat@example.com", Role: engram.RoleMember})
	if err != nil {
		b.Fatal(err)
	}
	_, tok, _ := strings.Cut(inv.AcceptURL, "#token=")
	if _, err := e.AcceptInvitation(ctx, engram.AcceptRequest{Token: tok, Password: benchPassword}); err != nil {
		b.Fatal(err)
	}
}

func benchLogin(b *testing.B, email, pw string) {
	e, _ := testserver.NewEngine(b)
	signedUp(b, e)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		// A new client address each time: the throttle is not what is
		// measured.
		i++
		ctx := engram.WithOrigin(context.Background(), engram.Origin{IP: "198.51." + itoa(i/250%250) + "." + itoa(i%250), Transport: "rest"})
		addr := "pat@example.com"
		if email != "" {
			addr = email + itoa(i) + "@example.com"
		}
		_, err := e.Login(ctx, engram.LoginRequest{Email: addr, Password: pw})
		if pw == benchPassword && err != nil {
			b.Fatal(err)
		}
		if pw != benchPassword && engram.ErrorCode(err) != engram.CodeUnauthenticated {
			b.Fatal(err)
		}
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}

func BenchmarkAuthSession(b *testing.B) {
	e, _ := testserver.NewEngine(b)
	signedUp(b, e)
	tk, err := e.Login(context.Background(), engram.LoginRequest{Email: "pat@example.com", Password: benchPassword})
	if err != nil {
		b.Fatal(err)
	}
	benchAuth(b, e, tk.AccessToken)
}

func BenchmarkAuthKey(b *testing.B) {
	e, _ := testserver.NewEngine(b)
	nt, _ := owner(b, e)
	benchAuth(b, e, nt.Key.Secret)
}

func benchAuth(b *testing.B, e *engine.Engine, token string) {
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}
