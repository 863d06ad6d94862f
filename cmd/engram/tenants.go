package main

import (
	"context"
	"fmt"
)

type tenantsCmd struct {
	Create tenantsCreateCmd `cmd:"" help:"Create a tenant with an owner account; prints the owner's API key."`
	Forget tenantsForgetCmd `cmd:"" help:"Erase a tenant: destroy its keys and delete everything it holds."`
}

type tenantsCreateCmd struct {
	Name string `arg:"" help:"Tenant name (a-z, 0-9, '-')."`
	dataFlags
}

func (c *tenantsCreateCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.Data)
	if err != nil {
		return err
	}
	defer l.Close()
	nt, err := l.CreateTenant(ctx, c.Name)
	if err != nil {
		return err
	}
	// The key alone on stdout, so scripts can capture it.
	_, err = fmt.Fprintln(s.out, nt.Key.Secret)
	return err
}
