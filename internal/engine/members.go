package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/mailer"
	"github.com/engram-memory/engram/internal/password"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
)

// Lifetimes of one-time links.
const (
	inviteTTL = 7 * 24 * time.Hour
	resetTTL  = time.Hour
)

// Invite invites someone by email with a role: it creates a pending
// account (sealed email and name) and a one-time link. The link is mailed
// when a mailer is configured, else returned as AcceptURL for the inviter
// to pass on. The mail goes out before the invitation is stored, so a
// failed delivery leaves nothing behind, and a link of an invitation
// whose write then failed opens nothing.
func (e *Engine) Invite(ctx context.Context, req engram.InviteRequest) (inv *engram.Invitation, err error) {
	a := e.begin(ctx, engram.AuditMemberInvite, engram.TargetAccount, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.MemberInvite)
	if err != nil {
		return nil, err
	}
	if err := rbacErr(rbac.CheckInvite(actorOf(p), req.Role)); err != nil {
		return nil, err
	}
	return e.invite(ctx, a, p.TenantID, p.AccountID, req)
}

// InviteAsOperator invites someone into the named tenant from the command
// line (`engram members invite`), with any role including owner: the
// operator runs the server. It returns the invitation with its AcceptURL
// when no mailer is configured.
func (e *Engine) InviteAsOperator(ctx context.Context, tenantName string, req engram.InviteRequest) (*engram.Invitation, error) {
	t, err := e.TenantByName(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	if !req.Role.Valid() {
		return nil, invalid("role must be one of owner, admin, operator, member, reader")
	}
	// The operator is no account of the tenant: the entry is appended
	// after the commit, with the outcome, as other operator actions are.
	inv, err := e.invite(ctx, e.begin(ctx, engram.AuditMemberInvite, engram.TargetAccount, ""), t.ID, "", req)
	target := ""
	if inv != nil {
		target = inv.ID
	}
	if err = e.operator(ctx, t.ID, engram.AuditMemberInvite, engram.TargetAccount, target, err); err != nil {
		return nil, err
	}
	return inv, nil
}

func (e *Engine) invite(ctx context.Context, a *action, tenantID, inviterID string, req engram.InviteRequest) (*engram.Invitation, error) {
	id, err := e.ident(ctx)
	if err != nil {
		return nil, err
	}
	email, err := normalEmail(req.Email)
	if err != nil {
		return nil, err
	}
	if err := checkMemberName(req.Name); err != nil {
		return nil, err
	}
	idx := id.emailIndex(email)
	var tenant *store.Tenant
	var inviterName string
	if err := e.st.Read(ctx, func(tx store.Tx) error {
		if tenant, err = tx.Tenant(ctx, tenantID); err != nil {
			return err
		}
		logins, err := tx.LoginsByEmail(ctx, idx)
		if err != nil {
			return err
		}
		for _, l := range logins {
			if l.TenantID == tenantID {
				return engram.Errorf(engram.CodeConflict, "this email is already a member or invited")
			}
		}
		if inviterID != "" {
			inviter, err := tx.Account(ctx, tenantID, inviterID)
			if err != nil {
				return err
			}
			_, inviterName, _ = e.openAccount(e.opener(ctx, tenantID), inviter)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	acct, err := e.prepareMember(ctx, tenantID, email, req.Name, req.Role)
	if err != nil {
		return nil, err
	}
	a.entry.TargetID = acct.ID
	token, err := newAccountToken()
	if err != nil {
		return nil, err
	}
	now := e.clock()
	inv := &engram.Invitation{ID: acct.ID, Email: email, Role: req.Role, ExpiresAt: now.Add(inviteTTL)}
	link := id.base + "/accept#token=" + token
	m, err := mailer.Render(mailer.Invitation, mailer.Data{To: email, Link: link, Expires: inv.ExpiresAt,
		OrgName: tenant.Name, InviterName: inviterName, Role: string(req.Role)})
	if err != nil {
		return nil, invalid("cannot address an invitation to this email")
	}
	out, err := id.mail.Deliver(ctx, m)
	if err != nil {
		return nil, engram.Errorf(engram.CodeUnavailable, "the invitation email could not be sent; try again later")
	}
	purpose := store.TokenInvite
	if out.Sent {
		inv.Sent = true
	} else {
		// Handed to the inviter, not proven to reach the address: the
		// account's email stays unverified when it is accepted.
		inv.AcceptURL, purpose = out.Link, store.TokenInviteLink
	}
	err = e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateAccount(ctx, acct); err != nil {
			return err
		}
		if err := tx.PutLogin(ctx, &store.Login{AccountID: acct.ID, TenantID: tenantID, EmailIndex: idx, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.PutAccountToken(ctx, &store.AccountToken{Digest: id.tokenDigest(store.TokenInvite, token),
			TenantID: tenantID, AccountID: acct.ID, Purpose: purpose, CreatedAt: now, ExpiresAt: inv.ExpiresAt}); err != nil {
			return err
		}
		if a.p == nil {
			return nil // the operator's entry is appended after the commit
		}
		return a.record(tx)
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, engram.Errorf(engram.CodeConflict, "this email is already a member or invited")
	}
	if err != nil {
		return nil, err
	}
	return inv, nil
}

func checkMemberName(name string) error {
	if len(name) > maxMemberName || !utf8.ValidString(name) {
		return invalid("name must be valid text of at most %d bytes", maxMemberName)
	}
	return nil
}

// rbacErr maps internal/rbac's refusals to client errors.
func rbacErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, rbac.ErrLastOwner):
		return engram.Errorf(engram.CodeConflict, "an organisation keeps at least one owner")
	case errors.Is(err, rbac.ErrRole):
		return invalid("role must be one of owner, admin, operator, member, reader")
	default:
		return engram.Errorf(engram.CodeForbidden, "your role may not grant or change this role")
	}
}

// AcceptInvitation activates an invited account with a password. The
// token is the proof: no principal is needed. It is single use (a
// compare-and-set in the activating transaction).
func (e *Engine) AcceptInvitation(ctx context.Context, req engram.AcceptRequest) (*engram.Member, error) {
	id, err := e.ident(ctx)
	if err != nil {
		return nil, err
	}
	if !validAccountToken(req.Token) {
		return nil, errBadLink
	}
	if err := checkMemberName(req.Name); err != nil {
		return nil, err
	}
	d := id.tokenDigest(store.TokenInvite, req.Token)
	tok, acct, login, email, name, err := e.openToken(ctx, d, store.TokenInvite, store.TokenInviteLink)
	if err != nil {
		return nil, err
	}
	if req.Name != "" {
		name = req.Name
	}
	hash, err := e.newPassword(ctx, id, req.Password, email, name)
	if err != nil {
		return nil, err
	}
	if req.Name != "" {
		k, err := e.ring.SubjectKey(ctx, acct.TenantID, acct.Subject, acct.KeyVersion)
		if err != nil {
			return nil, keyFailure(err)
		}
		if err := e.sealAccount(k, acct, email, name); err != nil {
			return nil, err
		}
	}
	a := e.begin(ctx, engram.AuditMemberAccept, engram.TargetAccount, acct.ID)
	a.as(acct.TenantID, acct.ID)
	now := e.clock()
	err = e.st.Write(ctx, func(tx store.Tx) error {
		ok, err := tx.UseAccountToken(ctx, d, now)
		if err != nil {
			return err
		}
		if !ok {
			return errBadLink
		}
		if req.Name != "" {
			if err := tx.ReplaceAccount(ctx, acct); err != nil {
				return err
			}
		}
		login.PasswordHash, login.ActivatedAt, login.UpdatedAt = hash, &now, now
		if tok.Purpose == store.TokenInvite {
			login.EmailVerifiedAt = &now
		}
		if err := tx.PutLogin(ctx, login); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err = a.finish(err); err != nil {
		return nil, err
	}
	return &engram.Member{ID: acct.ID, Email: email, Name: name, Role: engram.Role(acct.Role), Status: engram.MemberActive,
		EmailVerified: login.EmailVerifiedAt != nil, CreatedAt: acct.CreatedAt}, nil
}

// errBadLink is every refused one-time link: unknown, used, expired.
var errBadLink = engram.Errorf(engram.CodeNotFound, "this link is invalid, used or expired")

// openToken reads an unused, unexpired one-time token of one of purposes
// with its account, login, email and name.
func (e *Engine) openToken(ctx context.Context, digest []byte, purposes ...string) (tok *store.AccountToken, acct *store.Account, login *store.Login, email, name string, err error) {
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		if tok, err = tx.AccountToken(ctx, digest); err != nil {
			return err
		}
		if acct, err = tx.Account(ctx, tok.TenantID, tok.AccountID); err != nil {
			return err
		}
		login, err = tx.Login(ctx, tok.TenantID, tok.AccountID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, "", "", errBadLink
	}
	if err != nil {
		return nil, nil, nil, "", "", err
	}
	valid := false
	for _, p := range purposes {
		valid = valid || tok.Purpose == p
	}
	if !valid || tok.UsedAt != nil || !e.clock().Before(tok.ExpiresAt) {
		return nil, nil, nil, "", "", errBadLink
	}
	email, name, err = e.openAccount(e.opener(ctx, acct.TenantID), acct)
	return tok, acct, login, email, name, err
}

// newPassword checks a new password against the policy (length, common
// and predictable passwords, the account's own email and name) and hashes
// it.
func (e *Engine) newPassword(ctx context.Context, id *identity, pw, email, name string) (string, error) {
	if err := password.Check(pw, email, name, "engram"); err != nil {
		return "", invalid("%s", strings.TrimPrefix(err.Error(), "password: "))
	}
	return id.hasher.Hash(ctx, pw)
}

// Members lists the tenant's accounts: active members, pending
// invitations and key-only accounts.
func (e *Engine) Members(ctx context.Context) (out []engram.Member, err error) {
	a := e.begin(ctx, engram.AuditMemberList, engram.TargetTenant, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.MemberList)
	if err != nil {
		return nil, err
	}
	a.entry.TargetID = p.TenantID
	var ms []store.Member
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		ms, err = tx.Members(ctx, p.TenantID)
		return err
	}); err != nil {
		return nil, err
	}
	o := e.opener(ctx, p.TenantID)
	out = []engram.Member{}
	for _, m := range ms {
		mm, err := e.member(o, &m)
		if err != nil {
			return nil, err
		}
		out = append(out, mm)
	}
	return out, nil
}

func (e *Engine) member(o *opener, m *store.Member) (engram.Member, error) {
	email, name, err := e.openAccount(o, &m.Account)
	if err != nil {
		return engram.Member{}, err
	}
	out := engram.Member{ID: m.Account.ID, Email: email, Name: name, Role: engram.Role(m.Account.Role),
		Status: engram.MemberKeyOnly, CreatedAt: m.Account.CreatedAt}
	if m.Login != nil {
		out.Status = engram.MemberInvited
		if m.Login.ActivatedAt != nil {
			out.Status = engram.MemberActive
		}
		out.EmailVerified = m.Login.EmailVerifiedAt != nil
	}
	return out, nil
}

// ChangeRole changes a member's role within the matrix's limits (at most
// the actor's own role; owner only from an owner; never the last owner
// away). A demotion ends the member's sessions in the same transaction.
func (e *Engine) ChangeRole(ctx context.Context, accountID string, role engram.Role) (out *engram.Member, err error) {
	a := e.begin(ctx, engram.AuditMemberRole, engram.TargetAccount, accountID)
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.MemberRoleChange)
	if err != nil {
		return nil, err
	}
	if !validID(accountID) {
		return nil, errNoMember
	}
	var m *store.Member
	err = e.st.Write(ctx, func(tx store.Tx) error {
		target, owners, err := e.memberOf(ctx, tx, p.TenantID, accountID)
		if err != nil {
			return err
		}
		from := engram.Role(target.Account.Role)
		if err := rbacErr(rbac.CheckRoleChange(actorOf(p), rbac.Member{AccountID: accountID, Role: from}, role, owners)); err != nil {
			return err
		}
		if err := tx.SetRole(ctx, p.TenantID, accountID, string(role)); err != nil {
			return err
		}
		if rev, ok := session.OnRoleChange(e.clock(), p.TenantID, accountID, from, role); ok {
			if _, err := tx.RevokeSessions(ctx, rev); err != nil {
				return err
			}
		}
		target.Account.Role = string(role)
		m = target
		return a.record(tx)
	})
	if err != nil {
		return nil, err
	}
	mm, err := e.member(e.opener(ctx, p.TenantID), m)
	return &mm, err
}

var errNoMember = engram.Errorf(engram.CodeNotFound, "member not found")

// memberOf reads a member of the tenant and the tenant's owner count, in
// the caller's transaction.
func (e *Engine) memberOf(ctx context.Context, tx store.Tx, tenantID, accountID string) (*store.Member, int, error) {
	acct, err := tx.Account(ctx, tenantID, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, errNoMember
	}
	if err != nil {
		return nil, 0, err
	}
	m := &store.Member{Account: *acct}
	if l, err := tx.Login(ctx, tenantID, accountID); err == nil {
		m.Login = l
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, 0, err
	}
	owners, err := tx.CountOwners(ctx, tenantID)
	return m, owners, err
}

// RemoveMember removes an account from the tenant (or the caller leaves).
// Its sessions, API keys and pending links go with it in the same
// transaction, so nothing it held works a moment later. Its memories stay,
// shared ones readable as before; its private ones only by an owner.
func (e *Engine) RemoveMember(ctx context.Context, accountID string) (err error) {
	a := e.begin(ctx, engram.AuditMemberRemove, engram.TargetAccount, accountID)
	defer func() { err = a.finish(err) }()
	p := engram.PrincipalFrom(ctx)
	if p == nil || p.TenantID == "" {
		return engram.Errorf(engram.CodeUnauthenticated, "authentication required")
	}
	if !validID(accountID) {
		return errNoMember
	}
	return e.st.Write(ctx, func(tx store.Tx) error {
		target, owners, err := e.memberOf(ctx, tx, p.TenantID, accountID)
		if err != nil {
			return err
		}
		if err := rbacErr(rbac.CheckRemove(actorOf(p), rbac.Member{AccountID: accountID, Role: engram.Role(target.Account.Role)}, owners)); err != nil {
			return err
		}
		if _, err := tx.RevokeSessions(ctx, session.OnRemoval(e.clock(), p.TenantID, accountID)); err != nil {
			return err
		}
		if err := tx.DeleteAccount(ctx, p.TenantID, accountID); err != nil {
			return err
		}
		return a.record(tx)
	})
}

// TransferOwnership makes another member an owner and the caller (an
// owner, signed in) an admin, in one transaction.
func (e *Engine) TransferOwnership(ctx context.Context, accountID string) (err error) {
	a := e.begin(ctx, engram.AuditOwnerTransfer, engram.TargetAccount, accountID)
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.OwnershipTransfer)
	if err != nil {
		return err
	}
	if !validID(accountID) {
		return errNoMember
	}
	return e.st.Write(ctx, func(tx store.Tx) error {
		target, _, err := e.memberOf(ctx, tx, p.TenantID, accountID)
		if err != nil {
			return err
		}
		if target.Login != nil && target.Login.ActivatedAt == nil {
			return engram.Errorf(engram.CodeConflict, "ownership goes to an active member, not a pending invitation")
		}
		changes, err := rbac.Transfer(actorOf(p), rbac.Member{AccountID: accountID, Role: engram.Role(target.Account.Role)})
		if err != nil {
			return rbacErr(err)
		}
		for _, c := range changes {
			if err := tx.SetRole(ctx, p.TenantID, c.AccountID, string(c.To)); err != nil {
				return err
			}
		}
		return a.record(tx)
	})
}

// Me describes the caller.
func (e *Engine) Me(ctx context.Context) (*engram.Me, error) {
	p := engram.PrincipalFrom(ctx)
	if p == nil || p.TenantID == "" {
		return nil, engram.Errorf(engram.CodeUnauthenticated, "authentication required")
	}
	var (
		t       *store.Tenant
		acct    *store.Account
		pending *time.Time
	)
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		if t, err = tx.Tenant(ctx, p.TenantID); err != nil {
			return err
		}
		if acct, err = tx.Account(ctx, p.TenantID, p.AccountID); err != nil {
			return err
		}
		d, err := tx.PendingDeletion(ctx, p.TenantID, engram.DeletionAccount, p.AccountID)
		if err == nil {
			pending = &d.ScheduledAt
		} else if !isNotFound(err) {
			return err
		}
		return nil
	}); err != nil {
		return nil, err
	}
	email, name, err := e.openAccount(e.opener(ctx, p.TenantID), acct)
	if err != nil {
		return nil, err
	}
	via := "key"
	switch {
	case p.Delegated:
		via = "oauth"
	case p.SessionID != "":
		via = "session"
	}
	perms := append([]engram.Permission{}, p.Permissions...)
	return &engram.Me{ID: acct.ID, Email: email, Name: name, Role: engram.Role(acct.Role), Tenant: t.Name, TenantID: t.ID,
		Via: via, Permissions: perms, DeletionScheduledFor: pending}, nil
}

// ChangePassword sets a new password after checking the current one
// (throttled like a login). Every other session of the account ends.
func (e *Engine) ChangePassword(ctx context.Context, current, next string) (err error) {
	a := e.begin(ctx, engram.AuditPasswordChange, engram.TargetAccount, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.Profile)
	if err != nil {
		return err
	}
	a.entry.TargetID = p.AccountID
	var (
		acct   *store.Account
		login  *store.Login
		tenant *store.Tenant
	)
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		if tenant, err = tx.Tenant(ctx, p.TenantID); err != nil {
			return err
		}
		if acct, err = tx.Account(ctx, p.TenantID, p.AccountID); err != nil {
			return err
		}
		login, err = tx.Login(ctx, p.TenantID, p.AccountID)
		return err
	}); errors.Is(err, store.ErrNotFound) {
		return engram.Errorf(engram.CodeConflict, "this account signs in without a password")
	} else if err != nil {
		return err
	}
	email, name, err := e.openAccount(e.opener(ctx, p.TenantID), acct)
	if err != nil {
		return err
	}
	if who, err := e.verifyPassword(ctx, tenant.Name, email, current); err != nil {
		return err
	} else if who.ID != p.AccountID {
		return errBadLogin
	}
	id, err := e.ident(ctx)
	if err != nil {
		return err
	}
	hash, err := e.newPassword(ctx, id, next, email, name)
	if err != nil {
		return err
	}
	return e.st.Write(ctx, func(tx store.Tx) error {
		return e.setPassword(ctx, tx, login, hash, p.SessionID, a)
	})
}

// setPassword stores a new hash and ends the account's sessions but keep.
func (e *Engine) setPassword(ctx context.Context, tx store.Tx, login *store.Login, hash, keep string, a *action) error {
	now := e.clock()
	login.PasswordHash, login.UpdatedAt = hash, now
	if err := tx.PutLogin(ctx, login); err != nil {
		return err
	}
	fams, err := tx.SessionFamilies(ctx, login.TenantID, login.AccountID)
	if err != nil {
		return err
	}
	var ptrs []*session.Family
	for i := range fams {
		ptrs = append(ptrs, &fams[i].Family)
	}
	for _, r := range session.OnPasswordChange(now, ptrs, keep) {
		if _, err := tx.RevokeSessions(ctx, r); err != nil {
			return err
		}
	}
	return a.record(tx)
}

// RequestPasswordReset mails a reset link to an active account with this
// address. It answers nil whether or not the account exists, and the mail
// goes out in the background so the answer takes the same time. Without
// a mailer nothing is sent: a link handed to whoever asked would let
// anyone take over any account. An admin re-invites instead.
func (e *Engine) RequestPasswordReset(ctx context.Context, email, tenantName string) error {
	id, err := e.ident(ctx)
	if err != nil {
		return err
	}
	norm, err := normalEmail(email)
	if err != nil {
		return err
	}
	if id.linkOnly {
		return nil
	}
	idx := id.emailIndex(norm)
	who, where := "reset:"+hex.EncodeToString(idx[:16]), "reset:"+engram.OriginFrom(ctx).IP
	now := e.clock()
	if ok, wait := id.gate.Allow(now, who, where); !ok {
		return &engram.RetryLater{Err: engram.Errorf(engram.CodeRateLimited, "too many reset requests; try again later"), After: wait}
	}
	// Each request counts as a failure: the gate then limits how many
	// reset mails one address or one client can cause.
	id.gate.Record(now, who, where, false)
	o := engram.OriginFrom(ctx)
	e.mails.Go(func(bg context.Context) {
		ctx, cancel := context.WithTimeout(engram.WithOrigin(bg, o), time.Minute)
		defer cancel()
		if err := e.sendReset(ctx, id, idx, norm, tenantName); err != nil {
			// The caller has its answer already: the operator is told,
			// without the address (an SMTP error may quote it).
			e.logger().Error("password reset mail failed", "component", "mail",
				"error", strings.ReplaceAll(err.Error(), norm, "<address>"))
		}
	})
	return nil
}

func (e *Engine) sendReset(ctx context.Context, id *identity, idx []byte, email, tenantName string) error {
	var logins []store.Login
	if err := e.st.Read(ctx, func(tx store.Tx) error {
		all, err := tx.LoginsByEmail(ctx, idx)
		if err != nil {
			return err
		}
		for _, l := range all {
			if l.ActivatedAt == nil {
				continue
			}
			if tenantName != "" {
				t, err := tx.Tenant(ctx, l.TenantID)
				if err != nil || t.Name != tenantName {
					continue
				}
			}
			logins = append(logins, l)
		}
		return nil
	}); err != nil || len(logins) != 1 {
		return err
	}
	l := logins[0]
	token, err := newAccountToken()
	if err != nil {
		return err
	}
	now := e.clock()
	m, err := mailer.Render(mailer.PasswordReset, mailer.Data{To: email, Link: id.base + "/reset#token=" + token, Expires: now.Add(resetTTL)})
	if err != nil {
		return err
	}
	if err := e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.DropAccountTokens(ctx, l.TenantID, l.AccountID, store.TokenReset); err != nil {
			return err
		}
		return tx.PutAccountToken(ctx, &store.AccountToken{Digest: id.tokenDigest(store.TokenReset, token), TenantID: l.TenantID,
			AccountID: l.AccountID, Purpose: store.TokenReset, CreatedAt: now, ExpiresAt: now.Add(resetTTL)})
	}); err != nil {
		return err
	}
	_, err = id.mail.Deliver(ctx, m)
	return err
}

// ResetPassword sets a new password with a reset link's token. The link
// proves the address, so the email counts as verified; every session of
// the account ends.
func (e *Engine) ResetPassword(ctx context.Context, token, pw string) error {
	id, err := e.ident(ctx)
	if err != nil {
		return err
	}
	if !validAccountToken(token) {
		return errBadLink
	}
	d := id.tokenDigest(store.TokenReset, token)
	_, acct, login, email, name, err := e.openToken(ctx, d, store.TokenReset)
	if err != nil {
		return err
	}
	hash, err := e.newPassword(ctx, id, pw, email, name)
	if err != nil {
		return err
	}
	a := e.begin(ctx, engram.AuditPasswordReset, engram.TargetAccount, acct.ID)
	a.as(acct.TenantID, acct.ID)
	err = e.st.Write(ctx, func(tx store.Tx) error {
		ok, err := tx.UseAccountToken(ctx, d, e.clock())
		if err != nil {
			return err
		}
		if !ok {
			return errBadLink
		}
		now := e.clock()
		login.EmailVerifiedAt = &now
		return e.setPassword(ctx, tx, login, hash, "", a)
	})
	return a.finish(err)
}
