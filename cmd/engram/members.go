package main

import (
	"context"
	"fmt"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/httpapi"
)

type membersCmd struct {
	Invite membersInviteCmd `cmd:"" help:"Invite someone into a tenant with a role (offline); prints the one-time accept URL."`
}

type membersInviteCmd struct {
	Email     string `arg:"" help:"The person's email address."`
	Role      string `name:"role" required:"" enum:"owner,admin,operator,member,reader" help:"Their role: owner, admin, operator, member or reader."`
	Tenant    string `name:"tenant" default:"default" help:"Tenant name."`
	Name      string `name:"name" help:"Their name (they may set it when accepting)."`
	PublicURL string `name:"public-url" env:"ENGRAM_PUBLIC_URL" default:"http://127.0.0.1:8420" help:"The URL people reach the server at: the accept URL starts with it."`
	dataFlags
}

// Run is how the first person gets into an organisation (its owner, say)
// before anyone can sign in to invite others: whoever holds the data
// directory may. The invitation is recorded in the tenant's audit chain;
// the URL is printed once, alone on stdout, and is the only copy.
func (c *membersInviteCmd) Run(ctx context.Context, s *ioStreams) error {
	base, err := httpapi.ParsePublicURL(c.PublicURL)
	if err != nil {
		return err
	}
	l, err := openLocal(ctx, c.dataFlags, engine.WithIdentity(engine.IdentityOptions{PublicURL: base}))
	if err != nil {
		return err
	}
	defer l.Close()
	inv, err := l.InviteAsOperator(ctx, c.Tenant, engram.InviteRequest{Email: c.Email, Role: engram.Role(c.Role), Name: c.Name})
	if err != nil {
		return err
	}
	fmt.Fprintf(s.err, "invited %s as %s to %s; the link expires %s\n", inv.Email, inv.Role, c.Tenant, inv.ExpiresAt.Format("2006-01-02 15:04 MST"))
	_, err = fmt.Fprintln(s.out, inv.AcceptURL)
	return err
}
