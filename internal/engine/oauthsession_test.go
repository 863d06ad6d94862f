package engine_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/engram-memory/engram"
)

// TestOAuthFormKeyShared: two processes on one data directory derive the
// same consent-form key (nothing stored), and it is stable.
func TestOAuthFormKeyShared(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	e1 := openDir(t, dir)
	k1, err := e1.OAuthFormKey(ctx)
	if err != nil || len(k1) != 32 {
		t.Fatalf("OAuthFormKey: %d bytes, %v", len(k1), err)
	}
	e2 := openDir(t, dir)
	k2, err := e2.OAuthFormKey(ctx)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("the second process's key differs (%v)", err)
	}
	// Another deployment (another KEK and pepper) has another key.
	k3, err := openDir(t, t.TempDir()).OAuthFormKey(ctx)
	if err != nil || bytes.Equal(k1, k3) {
		t.Fatalf("two deployments share a form key (%v)", err)
	}
}

// TestSSOReturnTargetRefused: BeginSSO refuses a return target that is not
// this server's consent page, and any for a program's sign-in, before
// looking the organisation up.
func TestSSOReturnTargetRefused(t *testing.T) {
	e := openDir(t, t.TempDir())
	ctx := context.Background()
	for _, c := range []struct {
		program bool
		to      string
	}{{false, "https://evil.example/oauth/authorize?a=1"}, {false, "//evil.example/oauth/authorize?a=1"},
		{false, "/v1/me?a=1"}, {true, "/oauth/authorize?a=1"}} {
		if _, err := e.BeginSSO(ctx, "acme", c.program, c.to); engram.ErrorCode(err) != engram.CodeInvalid {
			t.Errorf("BeginSSO(program=%v, %q): %v, want invalid", c.program, c.to, err)
		}
	}
	if _, err := e.BeginSSO(ctx, "acme", false, "/oauth/authorize?a=1"); engram.ErrorCode(err) != engram.CodeNotFound {
		t.Errorf("a valid target for an organisation without SSO: %v, want not_found", err)
	}
}
