package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
)

// The OAuth authorization server MCP hosts sign in through
// (internal/oauth holds the protocol's rules; docs/IDENTITY.md the flow).
// Protocol refusals are *oauth.Error, which the transport writes as RFC
// 6749 errors; anything else is an internal failure.

// RegisterOAuthClient registers a public client (RFC 7591). Anyone may:
// registration grants nothing until a member signs in and consents.
func (e *Engine) RegisterOAuthClient(ctx context.Context, reg oauth.Registration) (*oauth.Client, error) {
	c, err := oauth.Register(rand.Reader, e.clock(), reg)
	if err != nil {
		return nil, err
	}
	a := e.begin(ctx, engram.AuditOAuthRegister, engram.TargetOAuthClient, c.ID)
	a.as("", "") // nobody signed in: the system chain records it
	err = e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateOAuthClient(ctx, c); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err := a.finish(err); err != nil {
		return nil, err
	}
	return c, nil
}

// OAuthAuthorization validates an authorization request (the sign-in
// page shows it; the form posts it back). resource is the /mcp URL. The
// *oauth.AuthError says whether the refusal may be redirected.
func (e *Engine) OAuthAuthorization(ctx context.Context, q url.Values, resource string) (*oauth.AuthRequest, *oauth.AuthError, error) {
	var client *oauth.Client
	if id := q.Get("client_id"); oauth.ValidClientID(id) {
		err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			client, err = tx.OAuthClient(ctx, id)
			return err
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, nil, err
		}
	}
	r, aerr := oauth.ParseAuthorization(q, client, resource)
	return r, aerr, nil
}

// ApproveOAuth is the sign-in form's post: a member's password (checked
// and throttled as a login is) and consent to the request q. It returns
// where to send the browser: the client's redirect URI with a code, or
// with an error the client should see. Errors are for the page: a
// refused sign-in (the same for every failure), a throttle (429), an
// AuthError that may not be redirected.
func (e *Engine) ApproveOAuth(ctx context.Context, q url.Values, issuer, resource, tenant, email, password string) (string, error) {
	r, redirect, err := e.approvable(ctx, q, issuer, resource)
	if r == nil {
		return redirect, err
	}
	acct, err := e.passwordSignIn(ctx, tenant, email, password)
	if err != nil {
		return "", err
	}
	return e.issueOAuthCode(ctx, r, issuer, acct)
}

// approvable re-checks a consent post's authorization request: nil and
// where to send the browser (the client's redirect URI with an error) or
// the error for the page when it may not be approved.
func (e *Engine) approvable(ctx context.Context, q url.Values, issuer, resource string) (*oauth.AuthRequest, string, error) {
	r, aerr, err := e.OAuthAuthorization(ctx, q, resource)
	switch {
	case err != nil:
		return nil, "", err
	case aerr != nil && aerr.Redirect != nil:
		return nil, aerr.Redirect.RedirectError(issuer, aerr.Error), nil
	case aerr != nil:
		return nil, "", aerr.Error
	}
	return r, "", nil
}

// issueOAuthCode is consent given by acct, however they signed in: the
// requested scopes narrowed to the role, a code stored by digest, and an
// oauth.authorize entry naming the account.
func (e *Engine) issueOAuthCode(ctx context.Context, r *oauth.AuthRequest, issuer string, acct *store.Account) (string, error) {
	scopes, err := oauth.Grant(engram.Role(acct.Role), r.Scopes)
	if err != nil {
		oe, _ := oauth.As(err)
		return r.RedirectError(issuer, oe), nil
	}
	code, rec, err := oauth.NewCode(rand.Reader, e.clock(), oauth.DefaultCodeLife, r, acct.TenantID, acct.ID, scopes)
	if err != nil {
		return "", err
	}
	a := e.begin(ctx, engram.AuditOAuthAuthorize, engram.TargetOAuthClient, r.ClientID)
	a.as(acct.TenantID, acct.ID)
	err = e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateOAuthCode(ctx, rec); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err := a.finish(err); err != nil {
		return "", err
	}
	return r.RedirectCode(issuer, code), nil
}

// OAuthToken answers the token endpoint: an authorization code exchanged
// with its PKCE verifier, or a refresh token rotated. resource is the
// /mcp URL every grant is bound to.
func (e *Engine) OAuthToken(ctx context.Context, form url.Values, resource string) (*oauth.TokenResponse, error) {
	t, err := oauth.ParseTokenRequest(form)
	if err != nil {
		return nil, err
	}
	if t.Resource != "" && !oauth.SameResource(t.Resource, resource) {
		return nil, &oauth.Error{Code: oauth.ErrInvalidTarget, Description: "the only resource here is " + resource, Status: 400}
	}
	var client *oauth.Client
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		client, err = tx.OAuthClient(ctx, t.ClientID)
		return err
	}); errors.Is(err, store.ErrNotFound) {
		return nil, &oauth.Error{Code: oauth.ErrInvalidClient, Description: "unknown client", Status: 401}
	} else if err != nil {
		return nil, err
	}
	var tok *engram.Tokens
	if t.GrantType == oauth.GrantRefreshToken {
		tok, err = e.oauthRefresh(ctx, t)
	} else {
		tok, err = e.exchangeCode(ctx, client, t)
	}
	if err != nil {
		return nil, err
	}
	return &oauth.TokenResponse{AccessToken: tok.AccessToken, TokenType: "Bearer", ExpiresIn: int64(tok.ExpiresIn),
		RefreshToken: tok.RefreshToken, Scope: tok.Scope}, nil
}

// exchangeCode spends the code (whatever the outcome: a code is tried
// once) and, when everything matches, starts the host's session family
// with the granted scopes. A code used twice revokes the family its first
// exchange started (RFC 6749 §4.1.2).
func (e *Engine) exchangeCode(ctx context.Context, client *oauth.Client, t *oauth.TokenRequest) (*engram.Tokens, error) {
	d, ok := oauth.CodeDigest(t.Code)
	if !ok {
		e.authFailure(ctx, "", "", "oauth_code")
		return nil, oauth.ErrGrant()
	}
	id, err := e.ident(ctx)
	if err != nil {
		return nil, err
	}
	a := e.begin(ctx, engram.AuditOAuthToken, engram.TargetOAuthClient, client.ID)
	var tokens *engram.Tokens
	var refused error
	err = e.st.Write(ctx, func(tx store.Tx) error {
		tokens, refused = nil, nil
		now := e.clock()
		c, err := tx.SpendOAuthCode(ctx, d, now)
		if errors.Is(err, store.ErrNotFound) {
			refused = oauth.ErrGrant()
			return nil
		}
		if err != nil {
			return err
		}
		a.as(c.TenantID, c.AccountID)
		if refused = c.Redeem(now, t); refused != nil {
			if !oauth.IsReuse(refused) || c.FamilyID == "" {
				return nil // the spend commits; nothing to revoke
			}
			fam, err := tx.SessionFamily(ctx, c.FamilyID)
			if errors.Is(err, store.ErrNotFound) {
				return nil // swept already
			} else if err != nil {
				return err
			}
			if _, err := tx.RevokeSessions(ctx, session.RevokeFamily(now, &fam.Family, session.ReasonReuse)); err != nil {
				return err
			}
			a.entry.Action, a.entry.TargetType, a.entry.TargetID = engram.AuditSessionRevoke, engram.TargetAccount, c.AccountID
			a.entry.Reason = "oauth_code_reuse"
			return a.record(tx)
		}
		acct, err := tx.Account(ctx, c.TenantID, c.AccountID)
		if errors.Is(err, store.ErrNotFound) {
			refused = oauth.ErrGrant() // removed since consenting
			return nil
		} else if err != nil {
			return err
		}
		// The role may have shrunk since consent: grant only what it
		// still allows (authentication intersects again every request).
		scopes := rbac.EffectiveScopes(engram.Role(acct.Role), c.Scopes)
		if len(scopes) == 0 {
			refused = oauth.ErrGrant()
			return nil
		}
		if tokens, err = e.startSessionFor(ctx, tx, acct, "oauth", scopes, client.ID); err != nil {
			return err
		}
		ad, err := id.digest.Digest(session.Access, tokens.AccessToken)
		if err != nil {
			return err
		}
		rec, err := tx.AccessToken(ctx, ad)
		if err != nil {
			return err
		}
		if err := tx.SetOAuthCodeFamily(ctx, d, rec.FamilyID); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err == nil && refused != nil {
		if a.inTx {
			_ = a.finish(nil) // the revocation committed with its entry
		}
		e.authFailure(ctx, a.entry.TenantID, "", "oauth_code")
		return nil, refused
	}
	if err := a.finish(err); err != nil {
		return nil, err
	}
	return tokens, nil
}

// oauthRefresh rotates a host's refresh token (the session package's
// rules: a reused token revokes the family). The token must belong to a
// family granted to this client; a person's own refresh token, or another
// host's, is refused here.
func (e *Engine) oauthRefresh(ctx context.Context, t *oauth.TokenRequest) (*engram.Tokens, error) {
	id, err := e.ident(ctx)
	if err != nil {
		return nil, err
	}
	d, err := id.digest.Digest(session.Refresh, t.RefreshToken)
	if err != nil {
		e.authFailure(ctx, "", "", "malformed_refresh")
		return nil, oauth.ErrGrant()
	}
	var fam *store.SessionFamily
	err = e.st.Read(ctx, func(tx store.Tx) error {
		rec, err := tx.RefreshToken(ctx, d)
		if err != nil {
			return err
		}
		fam, err = tx.SessionFamily(ctx, rec.FamilyID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		e.authFailure(ctx, "", "", "refresh")
		return nil, oauth.ErrGrant()
	} else if err != nil {
		return nil, err
	}
	if fam.ClientID != t.ClientID || fam.Method != "oauth" {
		e.authFailure(ctx, fam.TenantID, "", "oauth_client_mismatch")
		return nil, oauth.ErrGrant()
	}
	if t.Scope != nil {
		granted := make([]engram.Permission, len(fam.Scopes))
		for i, s := range fam.Scopes {
			granted[i] = engram.Permission(s)
		}
		if _, err := oauth.Narrow(granted, t.Scope); err != nil {
			return nil, err
		}
		if !slices.Equal(granted, t.Scope) {
			// A family keeps its scopes for its life; narrowing needs a
			// new authorization.
			return nil, &oauth.Error{Code: oauth.ErrInvalidScope, Description: "a refresh keeps the grant's scopes", Status: 400}
		}
	}
	tok, err := e.Refresh(ctx, t.RefreshToken)
	if engram.ErrorCode(err) == engram.CodeUnauthenticated {
		return nil, oauth.ErrGrant()
	}
	return tok, err
}

// oauthCodeKeep is how long a code is kept past its expiry: long enough
// that a late second use is still recognised as a reuse (and revokes what
// the first use issued), short enough that the table stays small.
const oauthCodeKeep = time.Hour

// oauthClientIdle is how long a registered client with no code and no
// session left is kept: a host keeps its client id and signs in again
// with it after its sessions ended, so only long disuse removes it (the
// host then registers again: the token endpoint answers invalid_client,
// on which MCP clients re-register).
const oauthClientIdle = 30 * 24 * time.Hour

// sweepOAuthCodes deletes authorization codes past their expiry and
// clients long unused (part of Maintain).
func (e *Engine) sweepOAuthCodes(ctx context.Context) error {
	return e.st.Write(ctx, func(tx store.Tx) error {
		if _, err := tx.DeleteExpiredOAuthCodes(ctx, e.clock().Add(-oauthCodeKeep)); err != nil {
			return err
		}
		_, err := tx.DeleteIdleOAuthClients(ctx, e.clock().Add(-oauthClientIdle))
		return err
	})
}
