package saml_test

import (
	"context"
	"errors"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/engram-memory/engram/internal/sso/saml"
	"github.com/engram-memory/engram/internal/sso/saml/replaytest"
)

func TestMemoryReplayCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := saml.NewMemoryReplayCache()
	c.Now = func() time.Time { return now }
	ctx := context.Background()
	exp := now.Add(5 * time.Minute)
	if err := c.Consume(ctx, "org-a", "id-1", exp); err != nil {
		t.Fatalf("first consume: %v", err)
	}
	err := c.Consume(ctx, "org-a", "id-1", exp)
	if !errors.Is(err, saml.ErrReplayed) || !errors.Is(err, crewjam.ErrAssertionReplayed) {
		t.Fatalf("second consume: %v, want ErrReplayed (and crewjam's)", err)
	}
	if err := c.Consume(ctx, "org-b", "id-1", exp); err != nil {
		t.Fatalf("same id in another organisation: %v", err)
	}
	if err := c.Consume(ctx, "org-a", "", exp); err == nil {
		t.Fatal("empty id accepted")
	}
	now = exp.Add(time.Second)
	if n, _ := c.Sweep(ctx, now); n != 2 {
		t.Fatalf("sweep dropped %d, want 2", n)
	}
	if err := c.Consume(ctx, "org-a", "id-1", now.Add(time.Minute)); err != nil {
		t.Fatalf("after expiry and sweep: %v", err)
	}
}

func TestMemoryReplayCacheConformance(t *testing.T) {
	replaytest.Run(t, func(*testing.T) saml.ReplayCache { return saml.NewMemoryReplayCache() })
}

// FuzzFinish posts arbitrary SAMLResponse values to the ACS: every one must be
// refused with an error, and none may panic.
func FuzzFinish(f *testing.F) {
	idp := startIdP(f)
	sp := newSP(f, idp, "fuzz", saml.NewMemoryReplayCache())
	_, pending, _ := sp.Begin("")
	f.Add("PHNhbWxwOlJlc3BvbnNlLz4=") // <samlp:Response/>
	f.Add("not base64")
	f.Add("PFJlc3BvbnNlIHhtbG5zPSJ1cm46b2FzaXM6bmFtZXM6dGM6U0FNTDoyLjA6cHJvdG9jb2wiPjxBc3NlcnRpb24+PC9Bc3NlcnRpb24+PC9SZXNwb25zZT4=")
	f.Fuzz(func(t *testing.T, resp string) {
		if _, err := sp.Finish(context.Background(), pending, resp); err == nil {
			t.Fatalf("accepted %q", resp)
		}
	})
}
