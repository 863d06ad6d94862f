package engine

import (
	"context"
	"errors"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/store"
)

// MintOwnerKey makes a new key with every owner permission for the owner
// account of an existing tenant (operator, CLI, offline): the way back
// when every owner key was revoked, lost or expired. The key and its
// key.create entry in the tenant's chain (transport "cli", no actor) commit
// together; the secret is returned once and never stored.
func (e *Engine) MintOwnerKey(ctx context.Context, tenantName string) (*engram.NewAPIKey, error) {
	t, err := e.TenantByName(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	owner, err := e.ownerAccount(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	nk, sk, err := e.newKey(ctx, t.ID, owner, "owner", engram.RoleOwner.Permissions(), nil)
	if err != nil {
		return nil, err
	}
	var mac []byte
	if !e.noAudit {
		if mac, _, err = e.ring.AuditKeys(ctx, t.ID, audit.KeyVersion); err != nil {
			return nil, keyFailure(err)
		}
	}
	o := engram.OriginFrom(ctx)
	if o.Transport == "" {
		o.Transport = "cli"
	}
	var rec *store.AuditRecord
	var accepted bool
	err = e.st.Write(ctx, func(tx store.Tx) error {
		if err := tx.CreateAPIKey(ctx, sk); err != nil {
			return err
		}
		if e.noAudit {
			return nil
		}
		var err error
		rec, err = audit.Append(ctx, tx, mac, &engram.AuditEntry{TenantID: t.ID, Time: e.clock(), Action: engram.AuditKeyCreate,
			TargetType: engram.TargetAPIKey, TargetID: sk.ID, Outcome: engram.OutcomeSuccess,
			IP: o.IP, RequestID: o.RequestID, Transport: o.Transport})
		if err != nil || !e.sinkInTx {
			return err
		}
		accepted, err = e.publishInTx(ctx, rec)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !e.sinkInTx {
		e.publish(ctx, rec)
	} else if accepted {
		e.pub.noted(t.ID, rec.Entry.Seq)
	}
	return nk, nil
}

// ownerAccount finds the tenant's owner account through its keys (revoked
// ones included): every tenant is created with an owner account and its
// key, and neither is ever deleted but with the tenant.
func (e *Engine) ownerAccount(ctx context.Context, tenantID string) (string, error) {
	var id string
	err := e.st.Read(ctx, func(tx store.Tx) error {
		keys, err := tx.ListAPIKeys(ctx, tenantID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			acct, err := tx.Account(ctx, tenantID, k.AccountID)
			if err != nil {
				return err
			}
			if engram.Role(acct.Role) == engram.RoleOwner {
				id = acct.ID
				return nil
			}
		}
		return errors.New("engine: the tenant has no owner account")
	})
	return id, err
}
