package engine

import (
	"context"
	"errors"
	"net/url"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
)

// The consent page for a person already signed in (by the session cookie,
// typically just back from their organisation's SSO): no password, the
// session is the proof. docs/IDENTITY.md, "Signing in with SSO".

// OAuthFormKey is the key of the consent form's CSRF tokens. It is derived
// from the key hierarchy (never stored), so every node of a deployment
// holds the same one: a form one node showed may be posted to another.
func (e *Engine) OAuthFormKey(ctx context.Context) ([]byte, error) {
	k, err := e.ring.SystemDerived(ctx, keys.PurposeOAuthForm)
	if err != nil {
		return nil, keyFailure(err)
	}
	return k, nil
}

// errNoSession: the cookie is not a person's own live session.
var errNoSession = engram.Errorf(engram.CodeUnauthenticated, "sign in first")

// sessionAccount authenticates a session cookie's access token as a
// person's own session: an OAuth client's (Delegated) token, an API key
// or anything else is not one.
func (e *Engine) sessionAccount(ctx context.Context, accessToken string) (*engram.Principal, *store.Account, error) {
	if accessToken == "" {
		return nil, nil, errNoSession
	}
	p, err := e.Authenticate(ctx, accessToken)
	if err != nil {
		if engram.ErrorCode(err) == engram.CodeUnauthenticated {
			return nil, nil, errNoSession
		}
		return nil, nil, err
	}
	if !p.Person() || p.KeyID != "" || p.AccountID == "" {
		return nil, nil, errNoSession
	}
	var acct *store.Account
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		acct, err = tx.Account(ctx, p.TenantID, p.AccountID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errNoSession
	}
	if err != nil {
		return nil, nil, err
	}
	return p, acct, nil
}

// OAuthSignedIn says who the session cookie's access token signs in, for
// the consent page ("Signed in as …"); an unauthenticated error when it is
// not a person's own live session.
func (e *Engine) OAuthSignedIn(ctx context.Context, accessToken string) (*engram.Me, error) {
	p, _, err := e.sessionAccount(ctx, accessToken)
	if err != nil {
		return nil, err
	}
	return e.Me(engram.WithPrincipal(ctx, p))
}

// ApproveOAuthSession is the consent page's post by a person signed in:
// the request q approved for the session's account, through the same
// path as a password consent (scopes narrowed to the role, audited). The
// transport has checked the form's CSRF token and the request's origin.
func (e *Engine) ApproveOAuthSession(ctx context.Context, q url.Values, issuer, resource, accessToken string) (string, error) {
	r, redirect, err := e.approvable(ctx, q, issuer, resource)
	if r == nil {
		return redirect, err
	}
	_, acct, err := e.sessionAccount(ctx, accessToken)
	if err != nil {
		return "", err
	}
	return e.issueOAuthCode(ctx, r, issuer, acct)
}
