package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/oauth"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/sso"
	"github.com/engram-memory/engram/internal/sso/oidc"
	"github.com/engram-memory/engram/internal/sso/saml"
	"github.com/engram-memory/engram/internal/store"
)

// ssoPendingTTL bounds Begin → Finish (the protocol packages' default).
const ssoPendingTTL = 10 * time.Minute

// maxSSOPending bounds the cookie value opened.
const maxSSOPending = 4096

type ssoPending struct {
	Tenant  string        `json:"t"`
	Kind    string        `json:"k"`
	Version int64         `json:"v"` // the configuration's UpdatedAt (µs)
	OIDC    *oidc.Pending `json:"o,omitempty"`
	SAML    *saml.Pending `json:"s,omitempty"`
	Program bool          `json:"p,omitempty"`
	// Return is where the browser goes back to (an OAuth authorization
	// page): sealed here, never taken from the IdP's callback.
	Return string `json:"r,omitempty"`
}

// errSSOFailed is every refused sign-in whose cause is the protocol (bad
// state, signature, replay, expired attempt): one message, no detail of
// the IdP's answer.
var errSSOFailed = engram.Errorf(engram.CodeUnauthenticated, "single sign-on failed; start again")

// ssoTenant finds the organisation a sign-in URL names.
func (e *Engine) ssoTenant(ctx context.Context, name string) (*store.Tenant, error) {
	if !tenantName.MatchString(name) {
		return nil, engram.Errorf(engram.CodeNotFound, "no single sign-on for this organisation")
	}
	var t *store.Tenant
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		t, err = tx.TenantByName(ctx, name)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, engram.Errorf(engram.CodeNotFound, "no single sign-on for this organisation")
	}
	return t, err
}

func (e *Engine) ssoProviderOf(ctx context.Context, name string) (*store.Tenant, *ssoProvider, error) {
	t, err := e.ssoTenant(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	p, err := e.ssoProviderFor(ctx, t)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, engram.Errorf(engram.CodeNotFound, "no single sign-on for this organisation")
	}
	return t, p, err
}

// BeginSSO starts a sign-in with the organisation's identity provider.
func (e *Engine) BeginSSO(ctx context.Context, tenantName string, program bool, returnTo string) (*engram.SSOStart, error) {
	if returnTo != "" && (program || !oauth.ValidReturnTarget(returnTo)) {
		return nil, engram.Errorf(engram.CodeInvalid, "return_to must be this server's /oauth/authorize?… page, at most %d bytes", oauth.MaxReturnTarget)
	}
	t, p, err := e.ssoProviderOf(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	pend := ssoPending{Tenant: t.ID, Kind: p.cfg.Kind, Version: p.version.UnixMicro(), Program: program, Return: returnTo}
	var redirect string
	switch p.cfg.Kind {
	case "oidc":
		var op oidc.Pending
		if redirect, op, err = p.oidc.Begin(); err == nil {
			pend.OIDC = &op
		}
	case "saml":
		var sp saml.Pending
		if redirect, sp, err = p.saml.Begin(""); err == nil {
			pend.SAML = &sp
		}
	}
	if err != nil {
		return nil, err
	}
	// Not json.Marshal: it would write each "&" of a return target as
	// six bytes, and the sealed value must fit a cookie.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(pend); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	w, err := e.writer(ctx, t.ID, ssoSubject)
	if err != nil {
		return nil, err
	}
	sealed, err := w.seal(ssoContext(t.ID, "pending"), raw)
	if err != nil {
		return nil, err
	}
	return &engram.SSOStart{RedirectURL: redirect, Kind: p.cfg.Kind, Pending: base64.RawURLEncoding.EncodeToString(sealed),
		MaxAge: ssoPendingTTL}, nil
}

// openPending opens the cookie of a sign-in to t of kind.
func (e *Engine) openPending(ctx context.Context, t *store.Tenant, kind, cookie string) (*ssoPending, error) {
	if cookie == "" || len(cookie) > maxSSOPending {
		return nil, errSSOFailed
	}
	env, err := base64.RawURLEncoding.DecodeString(cookie)
	if err != nil {
		return nil, errSSOFailed
	}
	raw, err := e.opener(ctx, t.ID).open(ssoSubject, ssoContext(t.ID, "pending"), env)
	if err != nil {
		return nil, errSSOFailed // another tenant's, tampered, or its key rotated away
	}
	var p ssoPending
	if json.Unmarshal(raw, &p) != nil || p.Tenant != t.ID || p.Kind != kind {
		return nil, errSSOFailed
	}
	return &p, nil
}

// FinishOIDC completes an OpenID Connect sign-in at the callback: the
// pending cookie and the callback's query.
func (e *Engine) FinishOIDC(ctx context.Context, tenantName, pendingCookie string, query url.Values) (*engram.SSOSignedIn, error) {
	return e.finishSSO(ctx, tenantName, "oidc", pendingCookie, func(p *ssoProvider, pend *ssoPending) (sso.Identity, string, error) {
		if pend.OIDC == nil || p.oidc == nil {
			return sso.Identity{}, "", errSSOFailed
		}
		id, err := p.oidc.Finish(ctx, *pend.OIDC, query)
		return id, "", err
	})
}

// FinishSAML completes a SAML sign-in at the ACS: the pending cookie and
// the posted SAMLResponse. An assertion is accepted once, across every
// node sharing the store.
func (e *Engine) FinishSAML(ctx context.Context, tenantName, pendingCookie, samlResponse string) (*engram.SSOSignedIn, error) {
	return e.finishSSO(ctx, tenantName, "saml", pendingCookie, func(p *ssoProvider, pend *ssoPending) (sso.Identity, string, error) {
		if pend.SAML == nil || p.saml == nil {
			return sso.Identity{}, "", errSSOFailed
		}
		r, err := p.saml.Finish(ctx, *pend.SAML, samlResponse)
		return r.Identity, r.AssertionID, err
	})
}

// SAMLMetadata is the organisation's SP metadata, for its IdP.
func (e *Engine) SAMLMetadata(ctx context.Context, tenantName string) ([]byte, error) {
	_, p, err := e.ssoProviderOf(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	if p.saml == nil {
		return nil, engram.Errorf(engram.CodeNotFound, "this organisation does not use SAML")
	}
	return p.saml.Metadata()
}

// ssoFailure maps a refusal to what the client sees: the organisation's
// rules (domain, provisioning) are 403 with their reason; protocol
// failures one 401.
func ssoFailure(err error) error {
	var ee *engram.Error
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, sso.ErrEmailDomain):
		return engram.Errorf(engram.CodeForbidden, "this organisation accepts addresses of its own domains only")
	case errors.Is(err, sso.ErrEmailNotVerified):
		return engram.Errorf(engram.CodeForbidden, "the identity provider did not verify this address")
	case errors.Is(err, sso.ErrNotProvisioned):
		return engram.Errorf(engram.CodeForbidden, "you are not a member of this organisation; ask an administrator to invite you")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return errSSOFailed
}

// finishSSO verifies the identity with the protocol, then signs the
// person in: the account linked to (issuer, subject); else, when the
// policy allows linking by a verified address, the account with that
// address; else a new member (JIT). Group roles are synced, and a session
// starts as a password sign-in's would. Every outcome is audited by ids.
func (e *Engine) finishSSO(ctx context.Context, tenantName, kind, cookie string,
	verify func(*ssoProvider, *ssoPending) (sso.Identity, string, error)) (_ *engram.SSOSignedIn, err error) {
	t, err := e.ssoTenant(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	// Until the IdP's answer is verified, refusals are counted like
	// refused API keys (aggregated auth.failure entries): anyone can call
	// the callback, and one audit row per request would let them grow the
	// trail at will.
	refuse := func(err error) (*engram.SSOSignedIn, error) {
		e.authFailure(ctx, t.ID, "", "sso_"+kind)
		return nil, err
	}
	pend, err := e.openPending(ctx, t, kind, cookie)
	if err != nil {
		return refuse(err)
	}
	p, err := e.ssoProviderFor(ctx, t)
	if errors.Is(err, store.ErrNotFound) {
		return refuse(errSSOFailed)
	}
	if err != nil {
		return nil, err
	}
	if p.version.UnixMicro() != pend.Version || p.cfg.Kind != kind {
		return refuse(errSSOFailed) // the configuration changed during the sign-in
	}
	ident, _, err := verify(p, pend)
	if err != nil && ssoFailure(err) == errSSOFailed {
		return refuse(errSSOFailed)
	}
	// A verified identity: from here every outcome is an sso.login entry.
	a := e.begin(ctx, engram.AuditSSOLogin, engram.TargetAccount, "")
	a.as(t.ID, "")
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, ssoFailure(err)
	}
	if _, err := e.ident(ctx); err != nil { // startSession needs it built
		return nil, err
	}
	subject, err := e.ssoSubjectIndex(ctx, t.ID, ident)
	if err != nil {
		return nil, err
	}
	var emailIdx []byte
	email, emailErr := normalEmail(ident.Email)
	if ident.Email != "" && emailErr == nil {
		if emailIdx, err = e.emailIndex(ctx, email); err != nil {
			return nil, err
		}
	}
	// Who is it? Read first, so a new account's key can be made outside
	// the write transaction (key creation writes).
	var linked *store.Account
	if err := e.st.Read(ctx, func(tx store.Tx) error {
		linked, err = e.ssoAccount(ctx, tx, t.ID, ident, subject, emailIdx, p.policy)
		return err
	}); err != nil {
		return nil, err
	}
	var fresh *store.Account
	if linked == nil {
		if _, err := p.policy.Decide(ident, nil); err != nil {
			return nil, ssoFailure(err)
		}
		if emailIdx == nil {
			return nil, engram.Errorf(engram.CodeForbidden, "the identity provider sent no usable email address")
		}
		if fresh, err = e.prepareMember(ctx, t.ID, email, ident.Name, engram.RoleReader); err != nil {
			return nil, err
		}
	}
	prov := e.begin(ctx, engram.AuditSSOProvisioned, engram.TargetAccount, "")
	sync := e.begin(ctx, engram.AuditMemberRole, engram.TargetAccount, "")
	var created, changed bool
	var tokens *engram.Tokens
	err = e.st.Write(ctx, func(tx store.Tx) error {
		created, changed = false, false
		acct, err := e.ssoAccount(ctx, tx, t.ID, ident, subject, emailIdx, p.policy)
		if err != nil {
			return err
		}
		if acct == nil && fresh == nil {
			return errSSOFailed // raced with a removal: start again
		}
		now := e.clock()
		if acct == nil {
			d, err := p.policy.Decide(ident, nil)
			if err != nil {
				return ssoFailure(err)
			}
			acct, created = fresh, true
			acct.Role = string(d.Role)
			if err := tx.CreateAccount(ctx, acct); err != nil {
				return err
			}
			l := &store.Login{AccountID: acct.ID, TenantID: t.ID, EmailIndex: emailIdx, ActivatedAt: &now, UpdatedAt: now}
			if ident.EmailVerified {
				l.EmailVerifiedAt = &now
			}
			if err := tx.PutLogin(ctx, l); errors.Is(err, store.ErrConflict) {
				// The address has an account the policy did not let us link.
				return engram.Errorf(engram.CodeForbidden, "an account with this address exists; its owner must sign in once with a verified address, or an administrator must link it")
			} else if err != nil {
				return err
			}
		} else {
			if err := e.activateBySSO(ctx, tx, acct, ident, now); err != nil {
				return err
			}
			d, err := p.policy.Decide(ident, &sso.Member{Role: engram.Role(acct.Role)})
			if err != nil {
				return ssoFailure(err)
			}
			if d.RoleChanged {
				if r, demoted := session.OnRoleChange(now, t.ID, acct.ID, engram.Role(acct.Role), d.Role); demoted {
					if _, err := tx.RevokeSessions(ctx, r); err != nil {
						return err
					}
				}
				if err := tx.SetRole(ctx, t.ID, acct.ID, string(d.Role)); err != nil {
					return err
				}
				acct.Role, changed = string(d.Role), true
			}
		}
		if _, err := tx.SSOIdentity(ctx, t.ID, ident.Issuer, subject); errors.Is(err, store.ErrNotFound) {
			if err := tx.PutSSOIdentity(ctx, &store.SSOIdentity{TenantID: t.ID, Issuer: ident.Issuer, Subject: subject,
				AccountID: acct.ID, CreatedAt: now}); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if tokens, err = e.startSession(ctx, tx, acct, kind, nil); err != nil {
			return err
		}
		a.as(t.ID, acct.ID)
		a.entry.TargetID = acct.ID
		for _, x := range []struct {
			on  bool
			act *action
		}{{created, prov}, {changed, sync}} {
			if x.on {
				x.act.as(t.ID, acct.ID)
				x.act.entry.TargetID = acct.ID
				if err := x.act.record(tx); err != nil {
					return err
				}
			}
		}
		return a.record(tx)
	})
	if err != nil {
		return nil, err
	}
	if created {
		prov.finish(nil)
	}
	if changed {
		sync.finish(nil)
	}
	out := &engram.SSOSignedIn{Tokens: tokens, Program: pend.Program}
	if oauth.ValidReturnTarget(pend.Return) {
		out.ReturnTo = pend.Return
	}
	return out, nil
}

// ssoAccount finds the account an identity signs in as: its link, or an
// account of the tenant with the same verified address when the policy
// allows linking; nil when none.
func (e *Engine) ssoAccount(ctx context.Context, tx store.Tx, tenantID string, ident sso.Identity, subject string,
	emailIdx []byte, policy sso.Policy) (*store.Account, error) {
	link, err := tx.SSOIdentity(ctx, tenantID, ident.Issuer, subject)
	switch {
	case err == nil:
		acct, err := tx.Account(ctx, tenantID, link.AccountID)
		if err != nil {
			return nil, err
		}
		return acct, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	if emailIdx == nil || !policy.MayLinkByEmail(ident) {
		return nil, nil
	}
	logins, err := tx.LoginsByEmail(ctx, emailIdx)
	if err != nil {
		return nil, err
	}
	for _, l := range logins {
		if l.TenantID == tenantID {
			return tx.Account(ctx, tenantID, l.AccountID)
		}
	}
	return nil, nil
}

// purposeSSOSubject keys the blind index of IdP subjects.
const purposeSSOSubject = "engram/sso-subject/v1"

// ssoSubjectIndex is the stored form of an IdP's subject: a keyed MAC of
// (issuer, subject) under a tenant key that is never stored, so the
// database does not hold IdP user ids (for SAML often an email address).
func (e *Engine) ssoSubjectIndex(ctx context.Context, tenantID string, id sso.Identity) (string, error) {
	k, err := e.ring.Derived(ctx, tenantID, purposeSSOSubject)
	if err != nil {
		return "", keyFailure(err)
	}
	m := hmac.New(sha256.New, k)
	m.Write([]byte(id.Issuer))
	m.Write([]byte{0})
	m.Write([]byte(id.Subject))
	return hex.EncodeToString(m.Sum(nil)), nil
}

// activateBySSO completes a pending invitation that SSO signed in (linked
// by its verified address): the account is active from now on, and the
// invitation link dies unused.
func (e *Engine) activateBySSO(ctx context.Context, tx store.Tx, acct *store.Account, ident sso.Identity, now time.Time) error {
	l, err := tx.Login(ctx, acct.TenantID, acct.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || l.ActivatedAt != nil {
		return err
	}
	l.ActivatedAt, l.UpdatedAt = &now, now
	if ident.EmailVerified && l.EmailVerifiedAt == nil {
		l.EmailVerifiedAt = &now
	}
	if err := tx.PutLogin(ctx, l); err != nil {
		return err
	}
	return tx.DropAccountTokens(ctx, acct.TenantID, acct.ID, store.TokenInvite)
}
