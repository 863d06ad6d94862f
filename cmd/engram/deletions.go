package main

import (
	"context"
)

type deletionsCmd struct {
	List deletionsListCmd `cmd:"" help:"List a tenant's pending deletions (accounts and end users), soonest first."`
}

type deletionsListCmd struct {
	Tenant string `name:"tenant" required:"" help:"Tenant name."`
	dataFlags
}

// Run prints the pending deletions as JSON. A read: nothing is recorded
// or changed; the sweep of a running server completes them when due.
func (c *deletionsListCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	ds, err := l.DeletionsOf(ctx, c.Tenant)
	if err != nil {
		return err
	}
	return printJSON(s, map[string]any{"results": ds})
}
