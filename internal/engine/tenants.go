package engine

import (
	"context"
	"errors"
	"regexp"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
)

// tenantName: lowercase, digits and dashes, so names are safe in paths,
// logs and shell commands.
var tenantName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

func accountContext(tenantID, subject, id, field string) seal.Context {
	return seal.Context{Domain: "account", Tenant: tenantID, Subject: subject, Record: id, Field: field}
}

// CreateTenant creates a tenant, its key, an owner account and the owner's
// first API key, in one transaction.
func (e *Engine) CreateTenant(ctx context.Context, name string) (*engram.NewTenant, error) {
	if !tenantName.MatchString(name) {
		return nil, invalid("tenant name must be 1 to 63 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	if err := e.st.Read(ctx, func(tx store.Tx) error {
		_, err := tx.TenantByName(ctx, name)
		return err
	}); err == nil {
		return nil, engram.Errorf(engram.CodeConflict, "tenant %q already exists", name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	now := e.clock()
	t := &store.Tenant{ID: newID(), Name: name, CreatedAt: now}
	tk, wks, err := e.ring.NewTenant(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	acct := &store.Account{ID: newID(), TenantID: t.ID, Role: string(engram.RoleOwner), CreatedAt: now}
	acct.Subject = "a:" + acct.ID
	subject := acct.Subject
	sk, wsk, err := e.ring.NewChildKey(tk, t.ID, keys.PurposeSubject, subject, 1)
	if err != nil {
		return nil, err
	}
	acct.KeyVersion = int(sk.Version)
	if acct.Name, err = seal.Seal(sk, accountContext(t.ID, subject, acct.ID, "name"), []byte("owner")); err != nil {
		return nil, err
	}
	nk, skey, err := e.newKey(ctx, t.ID, acct.ID, "owner", engram.RoleOwner.Permissions(), nil)
	if err != nil {
		return nil, err
	}
	sysMAC, _, err := e.ring.AuditKeys(ctx, "", audit.KeyVersion)
	if err != nil {
		return nil, err
	}
	var created *store.AuditRecord
	var accepted bool
	err = e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateTenant(ctx, t); err != nil {
			return err
		}
		for _, w := range append(wks, wsk) {
			if err := tx.PutKey(ctx, w); err != nil {
				return err
			}
		}
		if err := tx.CreateAccount(ctx, acct); err != nil {
			return err
		}
		if err := tx.CreateAPIKey(ctx, skey); err != nil {
			return err
		}
		if created, err = e.recordTenantCreate(ctx, tx, t.ID, sysMAC); err != nil {
			return err
		}
		if e.sinkInTx {
			accepted, err = e.publishInTx(ctx, created)
			return err
		}
		return nil
	})
	if errors.Is(err, store.ErrConflict) {
		return nil, engram.Errorf(engram.CodeConflict, "tenant %q already exists", name)
	}
	if err != nil {
		return nil, err
	}
	if !e.sinkInTx {
		e.publish(ctx, created)
	} else if accepted {
		e.pub.noted("", created.Entry.Seq) // committed: see action.finish
	}
	return &engram.NewTenant{
		Tenant: engram.Tenant{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt},
		Owner:  engram.Account{ID: acct.ID, TenantID: t.ID, Name: "owner", Role: engram.RoleOwner, CreatedAt: now},
		Key:    *nk,
	}, nil
}

// recordTenantCreate records a tenant's creation in the system chain, in
// the creating transaction. The tenant's own chain starts with its first
// action.
func (e *Engine) recordTenantCreate(ctx context.Context, tx store.Tx, tenantID string, mac []byte) (*store.AuditRecord, error) {
	if e.noAudit {
		return nil, nil
	}
	o := engram.OriginFrom(ctx)
	if o.Transport == "" {
		o.Transport = "cli"
	}
	return audit.Append(ctx, tx, mac, &engram.AuditEntry{Time: e.clock(), Action: engram.AuditTenantCreate,
		TargetType: engram.TargetTenant, TargetID: tenantID, Outcome: engram.OutcomeSuccess,
		IP: o.IP, RequestID: o.RequestID, Transport: o.Transport})
}

// TenantByName looks a tenant up by name.
func (e *Engine) TenantByName(ctx context.Context, name string) (*engram.Tenant, error) {
	var t *store.Tenant
	err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		t, err = tx.TenantByName(ctx, name)
		return err
	})
	if err != nil {
		return nil, notFound(err, "tenant")
	}
	return &engram.Tenant{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}, nil
}

// Tenants lists every tenant by name (operator).
func (e *Engine) Tenants(ctx context.Context) ([]engram.Tenant, error) {
	var ts []store.Tenant
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		ts, err = tx.ListTenants(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]engram.Tenant, 0, len(ts))
	for _, t := range ts {
		out = append(out, engram.Tenant{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt})
	}
	return out, nil
}
