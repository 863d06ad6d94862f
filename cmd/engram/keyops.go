package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/engram-memory/engram/internal/kek/local"
)

type keysRotateCmd struct {
	Tenant string `name:"tenant" required:"" help:"Tenant name."`
	dataFlags
}

// Run rotates, then re-encrypts every stale record before returning. It is
// resumable: after an interruption, run it again (or let a server finish
// the job in the background).
func (c *keysRotateCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	rot, err := l.RotateTenant(ctx, c.Tenant)
	if err != nil {
		return err
	}
	t, err := l.TenantByName(ctx, c.Tenant)
	if err != nil {
		return err
	}
	moved := 0
	for {
		n, remaining, err := l.Reencrypt(ctx, t.ID, 500)
		moved += n
		if err != nil {
			return fmt.Errorf("re-encrypt (rotation is done; run again to resume): %w", err)
		}
		if remaining == 0 {
			break
		}
		if n == 0 {
			return fmt.Errorf("re-encrypt: %d records could not be moved", remaining)
		}
	}
	return printJSON(s, map[string]any{
		"tenant": c.Tenant, "tenant_key_version": rot.TenantKeyVersion,
		"keys_rewrapped": rot.Rewrapped, "records_reencrypted": moved, "records_pending": 0,
	})
}

type tenantsForgetCmd struct {
	Name string `arg:"" help:"Tenant to erase."`
	Yes  bool   `name:"yes" help:"Do not ask for confirmation."`
	dataFlags
}

func (c *tenantsForgetCmd) Run(ctx context.Context, s *ioStreams) error {
	if !c.Yes {
		return errors.New("erasing a tenant destroys its keys and every record for good: add --yes")
	}
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	r, err := l.ForgetTenant(ctx, c.Name)
	if err != nil {
		return err
	}
	return printJSON(s, r)
}

type kekCmd struct {
	Rotate kekRotateCmd `cmd:"" help:"Replace the local key-encryption key: rewrap every tenant key and the pepper under a new one."`
}

type kekRotateCmd struct {
	dataFlags
}

// Run writes the new KEK beside the old one, rewraps in one transaction,
// then renames it into place; openLocal finishes an interrupted rotation.
// It refuses to run beside a server (which would go on unwrapping with
// the old KEK) or any other command (datalock.go).
func (c *kekRotateCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocalFor(ctx, c.dataFlags, useExclusive)
	if err != nil {
		return err
	}
	defer l.Close()
	next := filepath.Join(c.Data, kekFile+".next")
	if err := os.Remove(next); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	nk, err := local.OpenOrCreate(next)
	if err != nil {
		return err
	}
	n, err := l.ring.RewrapKEK(ctx, nk)
	if err != nil {
		os.Remove(next)
		return err
	}
	if err := os.Rename(next, filepath.Join(c.Data, kekFile)); err != nil {
		return fmt.Errorf("keys were rewrapped under %s but it could not replace %s (the next start finishes this): %w", next, kekFile, err)
	}
	return printJSON(s, map[string]any{"kek": nk.ID(), "keys_rewrapped": n})
}
