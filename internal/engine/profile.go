package engine

import (
	"context"
	"errors"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/mailer"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
)

// verifyTTL is how long an address verification link works.
const verifyTTL = 24 * time.Hour

// UpdateProfile changes the caller's name (a person signed in).
func (e *Engine) UpdateProfile(ctx context.Context, name string) (out *engram.Me, err error) {
	a := e.begin(ctx, engram.AuditProfileUpdate, engram.TargetAccount, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.Profile)
	if err != nil {
		return nil, err
	}
	a.entry.TargetID = p.AccountID
	// A profile is read-only while its deletion is pending.
	if err := e.writable(ctx, p.TenantID, engram.DeletionAccount, p.AccountID); err != nil {
		return nil, err
	}
	if err := checkMemberName(name); err != nil {
		return nil, err
	}
	var acct *store.Account
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		acct, err = tx.Account(ctx, p.TenantID, p.AccountID)
		return err
	}); err != nil {
		return nil, err
	}
	email, _, err := e.openAccount(e.opener(ctx, p.TenantID), acct)
	if err != nil {
		return nil, err
	}
	k, err := e.ring.SubjectKey(ctx, acct.TenantID, acct.Subject, acct.KeyVersion)
	if err != nil {
		return nil, keyFailure(err)
	}
	if err := e.sealAccount(k, acct, email, name); err != nil {
		return nil, err
	}
	if err := e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.ReplaceAccount(ctx, acct); err != nil {
			return err
		}
		return a.record(tx)
	}); err != nil {
		return nil, err
	}
	return e.Me(ctx)
}

// RequestVerification mails the caller a link that proves its address
// (an account made from a link handed over by hand, or by SSO without a
// verified address). It needs a mail server: the point is to prove the
// mailbox.
func (e *Engine) RequestVerification(ctx context.Context) (err error) {
	a := e.begin(ctx, engram.AuditEmailVerify, engram.TargetAccount, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.Profile)
	if err != nil {
		return err
	}
	a.entry.TargetID = p.AccountID
	id, err := e.ident(ctx)
	if err != nil {
		return err
	}
	if id.linkOnly {
		return engram.Errorf(engram.CodeConflict, "no mail server is configured: an address cannot be verified")
	}
	var (
		acct  *store.Account
		login *store.Login
	)
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		if acct, err = tx.Account(ctx, p.TenantID, p.AccountID); err != nil {
			return err
		}
		login, err = tx.Login(ctx, p.TenantID, p.AccountID)
		return err
	}); errors.Is(err, store.ErrNotFound) {
		return engram.Errorf(engram.CodeConflict, "this account has no email address")
	} else if err != nil {
		return err
	}
	if login.EmailVerifiedAt != nil {
		return engram.Errorf(engram.CodeConflict, "the address is verified already")
	}
	email, _, err := e.openAccount(e.opener(ctx, p.TenantID), acct)
	if err != nil {
		return err
	}
	token, err := newAccountToken()
	if err != nil {
		return err
	}
	now := e.clock()
	m, err := mailer.Render(mailer.Verification, mailer.Data{To: email, Link: id.base + "/verify#token=" + token, Expires: now.Add(verifyTTL)})
	if err != nil {
		return err
	}
	if _, err := id.mail.Deliver(ctx, m); err != nil {
		return engram.Errorf(engram.CodeUnavailable, "the verification email could not be sent; try again later")
	}
	return e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.DropAccountTokens(ctx, p.TenantID, p.AccountID, store.TokenVerify); err != nil {
			return err
		}
		if err := tx.PutAccountToken(ctx, &store.AccountToken{Digest: id.tokenDigest(store.TokenVerify, token), TenantID: p.TenantID,
			AccountID: p.AccountID, Purpose: store.TokenVerify, CreatedAt: now, ExpiresAt: now.Add(verifyTTL)}); err != nil {
			return err
		}
		return a.record(tx)
	})
}

// VerifyEmail marks an address verified with a verification link's token
// (no principal: the link is the proof).
func (e *Engine) VerifyEmail(ctx context.Context, token string) error {
	id, err := e.ident(ctx)
	if err != nil {
		return err
	}
	if !validAccountToken(token) {
		return errBadLink
	}
	d := id.tokenDigest(store.TokenVerify, token)
	_, acct, login, _, _, err := e.openToken(ctx, d, store.TokenVerify)
	if err != nil {
		return err
	}
	a := e.begin(ctx, engram.AuditEmailVerify, engram.TargetAccount, acct.ID)
	a.as(acct.TenantID, acct.ID)
	err = e.st.Write(ctx, func(tx store.Tx) error {
		now := e.clock()
		ok, err := tx.UseAccountToken(ctx, d, now)
		if err != nil {
			return err
		}
		if !ok {
			return errBadLink
		}
		login.EmailVerifiedAt, login.UpdatedAt = &now, now
		if err := tx.PutLogin(ctx, login); err != nil {
			return err
		}
		return a.record(tx)
	})
	return a.finish(err)
}
