package engine

import (
	"context"
	"encoding/hex"
	"errors"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/password"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/session"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/throttle"
)

// errBadLogin is every refused sign-in: unknown address, wrong password,
// pending invitation, SSO-only account. One message, so the answer does
// not tell which addresses have accounts.
var errBadLogin = engram.Errorf(engram.CodeUnauthenticated, "invalid email or password")

// errBadSession is every refused access or refresh token.
var errBadSession = engram.Errorf(engram.CodeUnauthenticated, "invalid or expired session")

// Login signs a person in with email and password and starts a session.
func (e *Engine) Login(ctx context.Context, req engram.LoginRequest) (*engram.Tokens, error) {
	acct, err := e.passwordSignIn(ctx, req.Tenant, req.Email, req.Password)
	if err != nil {
		return nil, err
	}
	a := e.begin(ctx, engram.AuditLogin, engram.TargetAccount, acct.ID)
	a.as(acct.TenantID, acct.ID)
	var tokens *engram.Tokens
	err = e.st.Write(ctx, func(tx store.Tx) (err error) {
		if tokens, err = e.startSession(ctx, tx, acct, "password", nil); err != nil {
			return err
		}
		return a.record(tx)
	})
	return tokens, a.finish(err)
}

// passwordSignIn is every sign-in by password (the login route, an OAuth
// host's consent page): the password checked, then the organisation's
// rule — an SSO-only organisation (sso.go) refuses the right password too.
func (e *Engine) passwordSignIn(ctx context.Context, tenant, email, pw string) (*store.Account, error) {
	acct, err := e.verifyPassword(ctx, tenant, email, pw)
	if err != nil {
		return nil, err
	}
	if err := e.passwordLoginAllowed(ctx, acct); err != nil {
		e.authFailure(ctx, acct.TenantID, "", "sso_required")
		return nil, err
	}
	return acct, nil
}

// as makes the action's actor an account that is not (yet) the request's
// principal: the person signing in, accepting an invitation, resetting a
// password.
func (a *action) as(tenantID, accountID string) {
	a.p = &engram.Principal{TenantID: tenantID, AccountID: accountID}
	a.entry.TenantID = tenantID
}

// verifyPassword checks a sign-in: throttled per address and per client
// address first (a refusal costs no lookup and no hashing), then the same
// work whether or not the email has an account (one argon2id per
// candidate, VerifyAbsent when there is none), and the same error for
// every failure. tenantName narrows the search when the address belongs
// to several organisations. It returns the account on success; a password
// hashed with weaker parameters than today's is re-hashed.
func (e *Engine) verifyPassword(ctx context.Context, tenantName, email, pw string) (*store.Account, error) {
	id, err := e.ident(ctx)
	if err != nil {
		return nil, err
	}
	norm, err := normalEmail(email)
	if err != nil {
		return nil, err
	}
	if pw == "" || len(pw) > 4*password.MaxBytes {
		return nil, invalid("password must be 1 to %d bytes", 4*password.MaxBytes)
	}
	idx := id.emailIndex(norm)
	who, where := hex.EncodeToString(idx[:16]), throttle.AddressKey(engram.OriginFrom(ctx).IP)
	now := e.clock()
	if ok, wait := id.gate.Allow(now, who, where); !ok {
		e.authFailure(ctx, "", "", "login_throttled")
		return nil, &engram.RetryLater{Err: engram.Errorf(engram.CodeRateLimited,
			"too many failed sign-ins; try again in %s", throttle.RetryAfter(wait)+"s"), After: wait}
	}
	var logins []store.Login
	err = e.st.Read(ctx, func(tx store.Tx) error {
		all, err := tx.LoginsByEmail(ctx, idx)
		if err != nil {
			return err
		}
		var tenantID string
		if tenantName != "" {
			t, err := tx.TenantByName(ctx, tenantName)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if t != nil {
				tenantID = t.ID
			} else {
				tenantID = "-" // matches nothing
			}
		}
		for _, l := range all {
			if l.PasswordHash != "" && l.ActivatedAt != nil && (tenantID == "" || l.TenantID == tenantID) {
				logins = append(logins, l)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var matched []store.Login
	if len(logins) == 0 {
		if err := id.hasher.VerifyAbsent(ctx, pw); err != nil {
			return nil, err
		}
	}
	for _, l := range logins {
		ok, err := id.hasher.Verify(ctx, l.PasswordHash, pw)
		if err != nil {
			return nil, err
		}
		if ok {
			matched = append(matched, l)
		}
	}
	id.gate.Record(now, who, where, len(matched) > 0)
	switch len(matched) {
	case 0:
		tenant := ""
		if len(logins) == 1 {
			tenant = logins[0].TenantID
		}
		e.authFailure(ctx, tenant, "", "login")
		return nil, errBadLogin
	case 1:
	default:
		// Said only to someone who knows the password.
		return nil, engram.Errorf(engram.CodeConflict, "this email belongs to several organisations: name one in \"tenant\"")
	}
	l := matched[0]
	var acct *store.Account
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		acct, err = tx.Account(ctx, l.TenantID, l.AccountID)
		return err
	}); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errBadLogin // removed meanwhile
		}
		return nil, err
	}
	if id.hasher.NeedsRehash(l.PasswordHash) {
		if h, err := id.hasher.Hash(ctx, pw); err == nil {
			l.PasswordHash, l.UpdatedAt = h, e.clock()
			// Best effort: the sign-in stands even if the upgrade waits
			// for the next one.
			_ = e.st.Write(ctx, func(tx store.Tx) error { return tx.PutLogin(ctx, &l) })
		}
	}
	return acct, nil
}

// Refresh spends a refresh token for a new pair. A spent token presented
// again is a stolen copy or a replay: the whole family is revoked (and
// recorded) and the answer is the same 401 as for any refused token.
func (e *Engine) Refresh(ctx context.Context, token string) (*engram.Tokens, error) {
	id, err := e.ident(ctx)
	if err != nil {
		return nil, err
	}
	d, err := id.digest.Digest(session.Refresh, token)
	if err != nil {
		e.authFailure(ctx, "", "", "malformed_refresh")
		return nil, errBadSession
	}
	a := e.begin(ctx, engram.AuditRefresh, engram.TargetAccount, "")
	var tokens *engram.Tokens
	var refused error
	err = e.st.Write(ctx, func(tx store.Tx) error {
		tokens, refused = nil, nil
		rec, err := tx.RefreshToken(ctx, d)
		if errors.Is(err, store.ErrNotFound) {
			refused = errBadSession
			return nil
		}
		if err != nil {
			return err
		}
		fam, err := tx.SessionFamily(ctx, rec.FamilyID)
		if err != nil {
			return err
		}
		a.as(fam.TenantID, fam.AccountID)
		a.entry.TargetID = fam.AccountID
		now := e.clock()
		dec, err := id.issuer.Rotate(now, &fam.Family, *rec)
		if err != nil {
			return err
		}
		if dec.Outcome == session.Rotated {
			spent, err := tx.SpendRefreshToken(ctx, d, now)
			if err != nil {
				return err
			}
			if !spent {
				dec = id.issuer.Reuse(now, &fam.Family)
			}
		}
		switch dec.Outcome {
		case session.Rotated:
			if tokens, err = e.storeGrant(ctx, tx, &fam.Family, dec.Grant); err != nil {
				return err
			}
			return a.record(tx)
		case session.Reused:
			if _, err := tx.RevokeSessions(ctx, *dec.Revoke); err != nil {
				return err
			}
			a.entry.Action, a.entry.TargetType, a.entry.TargetID = engram.AuditSessionRevoke, engram.TargetAccount, fam.AccountID
			a.entry.Reason = string(session.ReasonReuse)
			refused = errBadSession
			return a.record(tx)
		default:
			refused = errBadSession
			return nil
		}
	})
	if err == nil && refused != nil {
		if a.inTx {
			// The revocation committed with its entry; the client is
			// refused all the same.
			_ = a.finish(nil)
			return nil, refused
		}
		e.authFailure(ctx, a.entry.TenantID, "", "refresh")
		return nil, refused
	}
	return tokens, a.finish(err)
}

// Logout ends a session: the caller's own when it signed in with a
// session, or the one refreshToken belongs to (holding it proves the
// right to end it).
func (e *Engine) Logout(ctx context.Context, refreshToken string) error {
	id, err := e.ident(ctx)
	if err != nil {
		return err
	}
	a := e.begin(ctx, engram.AuditLogout, engram.TargetAccount, "")
	var digest []byte
	var familyID string
	switch p := engram.PrincipalFrom(ctx); {
	case refreshToken != "":
		if digest, err = id.digest.Digest(session.Refresh, refreshToken); err != nil {
			return errBadSession
		}
	case p != nil && p.SessionID != "":
		familyID = p.SessionID
	default:
		return engram.Errorf(engram.CodeInvalid, "logout needs a session: sign in, or send the refresh token")
	}
	// One transaction finds the family (by the refresh token when given)
	// and revokes it.
	err = e.st.Write(ctx, func(tx store.Tx) error {
		fid := familyID
		if digest != nil {
			rec, err := tx.RefreshToken(ctx, digest)
			if err != nil {
				return err
			}
			fid = rec.FamilyID
		}
		fam, err := tx.SessionFamily(ctx, fid)
		if err != nil {
			return err
		}
		a.as(fam.TenantID, fam.AccountID)
		a.entry.TargetID = fam.AccountID
		if _, err := tx.RevokeSessions(ctx, session.RevokeFamily(e.clock(), &fam.Family, session.ReasonLogout)); err != nil {
			return err
		}
		return a.record(tx)
	})
	if errors.Is(err, store.ErrNotFound) {
		return errBadSession
	}
	return a.finish(err)
}

// LogoutEverywhere ends every session of the caller's account.
func (e *Engine) LogoutEverywhere(ctx context.Context) (n int, err error) {
	a := e.begin(ctx, engram.AuditSessionRevoke, engram.TargetAccount, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.SessionRevoke)
	if err != nil {
		return 0, err
	}
	a.entry.TargetID, a.entry.Reason = p.AccountID, string(session.ReasonLogoutAll)
	err = e.st.Write(ctx, func(tx store.Tx) (err error) {
		if n, err = tx.RevokeSessions(ctx, session.LogoutEverywhere(e.clock(), p.TenantID, p.AccountID)); err != nil {
			return err
		}
		return a.record(tx)
	})
	return n, err
}

// Sessions lists the caller's sessions, newest first.
func (e *Engine) Sessions(ctx context.Context) ([]engram.SessionInfo, error) {
	p, _, err := can(ctx, rbac.SessionRevoke)
	if err != nil {
		return nil, err
	}
	var fams []store.SessionFamily
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		fams, err = tx.SessionFamilies(ctx, p.TenantID, p.AccountID)
		return err
	}); err != nil {
		return nil, err
	}
	out := []engram.SessionInfo{}
	for _, f := range fams {
		out = append(out, engram.SessionInfo{ID: f.ID, Method: f.Method, ClientID: f.ClientID, Scopes: f.Scopes,
			CreatedAt: f.CreatedAt, RevokedAt: f.RevokedAt, RevokeReason: string(f.RevokeReason), Current: f.ID == p.SessionID})
	}
	return out, nil
}

// authenticateSession turns an access token into a principal: the token's
// record and family in one read, then the account's current role (never a
// role remembered in the token). Every failure is the same 401.
func (e *Engine) authenticateSession(ctx context.Context, token string) (*engram.Principal, error) {
	id, err := e.ident(ctx)
	if err != nil {
		return nil, err
	}
	d, err := id.digest.Digest(session.Access, token)
	if err != nil {
		e.authFailure(ctx, "", "", "malformed")
		return nil, errBadSession
	}
	var (
		rec  *session.AccessToken
		fam  *store.SessionFamily
		acct *store.Account
	)
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		if rec, err = tx.AccessToken(ctx, d); err != nil {
			return err
		}
		if fam, err = tx.SessionFamily(ctx, rec.FamilyID); err != nil {
			return err
		}
		acct, err = tx.Account(ctx, rec.TenantID, rec.AccountID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		e.authFailure(ctx, "", "", "unknown_session")
		return nil, errBadSession
	}
	if err != nil {
		return nil, err
	}
	if err := id.issuer.CheckAccess(e.clock(), &fam.Family, *rec); err != nil {
		reason := "expired_session"
		if errors.Is(err, session.ErrRevoked) {
			reason = "revoked_session"
		}
		e.authFailure(ctx, rec.TenantID, "", reason)
		return nil, errBadSession
	}
	role := engram.Role(acct.Role)
	p := &engram.Principal{TenantID: acct.TenantID, AccountID: acct.ID, SessionID: fam.ID, Role: role}
	if fam.Scopes != nil {
		var granted []engram.Permission
		for _, s := range fam.Scopes {
			granted = append(granted, engram.Permission(s))
		}
		p.Delegated, p.Permissions = true, rbac.EffectiveScopes(role, granted)
	} else {
		p.Permissions = role.Permissions()
	}
	return p, nil
}

// SweepSessions deletes expired access and refresh tokens, one-time
// links past their expiry, and session families with no token left.
func (e *Engine) SweepSessions(ctx context.Context) (int, error) {
	var n int
	err := e.st.Write(ctx, func(tx store.Tx) (err error) {
		n, err = tx.SweepIdentity(ctx, e.clock())
		return err
	})
	return n, err
}
