package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/engram-memory/engram/internal/kek/kekconfig"
)

type tenantsCmd struct {
	Create tenantsCreateCmd `cmd:"" help:"Create a tenant with an owner account; prints the owner's API key."`
	Forget tenantsForgetCmd `cmd:"" help:"Erase a tenant: destroy its keys and delete everything it holds."`
	KEK    tenantsKEKCmd    `cmd:"" name:"kek" help:"Put a tenant's keys under its own KEK (bring your own key)."`

	Minimise tenantsMinimiseCmd `cmd:"" name:"minimise" help:"Data minimisation: discard (on) or keep (off) the raw text of observed conversations once extraction has run."`
	OwnerKey tenantsOwnerKeyCmd `cmd:"" name:"owner-key" help:"Mint a new owner API key for an existing tenant (offline recovery); prints it once."`
	Plan     tenantsPlanCmd     `cmd:"" name:"plan" help:"Set a tenant's retention plan: free (memories kept 60 days), pro (kept until deleted; the default), enterprise (kept --retention-days)."`
}

type tenantsCreateCmd struct {
	Name string `arg:"" help:"Tenant name (a-z, 0-9, '-')."`
	dataFlags
}

func (c *tenantsCreateCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
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

type tenantsOwnerKeyCmd struct {
	Name string `arg:"" help:"Tenant name."`
	dataFlags
}

// Run is the way back when every owner key of a tenant was revoked, lost
// or expired: only someone with the data directory (and the KEK) can run
// it, and the minting is recorded in the tenant's audit chain.
func (c *tenantsOwnerKeyCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	k, err := l.MintOwnerKey(ctx, c.Name)
	if err != nil {
		return err
	}
	// The key alone on stdout, like tenants create.
	_, err = fmt.Fprintln(s.out, k.Secret)
	return err
}

type tenantsKEKCmd struct {
	Name     string `arg:"" help:"Tenant name."`
	Provider string `name:"provider" required:"" enum:"awskms,vault" help:"KEK provider: awskms or vault."`
	dataFlags

	AWSKeyID    string `name:"aws-key-id" help:"KMS key id, ARN or alias (awskms)."`
	AWSRegion   string `name:"aws-region" env:"AWS_REGION" help:"KMS region (awskms)."`
	AWSEndpoint string `name:"aws-endpoint" help:"KMS endpoint override (awskms)."`

	VaultAddr  string `name:"vault-addr" env:"VAULT_ADDR" help:"Vault address (vault)."`
	VaultMount string `name:"vault-mount" default:"transit" help:"Transit mount path (vault)."`
	VaultKey   string `name:"vault-key" help:"Transit key name (vault); the token comes from VAULT_TOKEN."`
}

// Run stores the configuration (credentials included, wrapped by the
// system KEK) and rewraps the tenant key under the tenant's KEK. A running
// server picks it up within 5 minutes; restart it to switch at once.
func (c *tenantsKEKCmd) Run(ctx context.Context, s *ioStreams) error {
	var cfg any
	switch c.Provider {
	case kekconfig.AWSKMS:
		// Credentials come from the environment only, never from flags
		// (which other users can read in the process list). When unset,
		// the server uses the SDK's default chain (instance role, …).
		cfg = kekconfig.AWSKMSConfig{KeyID: c.AWSKeyID, Region: c.AWSRegion, Endpoint: c.AWSEndpoint,
			AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
	case kekconfig.Vault:
		cfg = kekconfig.VaultConfig{Address: c.VaultAddr, Token: os.Getenv("VAULT_TOKEN"), Mount: c.VaultMount, Key: c.VaultKey}
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	n, err := l.SetTenantKEK(ctx, c.Name, c.Provider, raw)
	if err != nil {
		return err
	}
	return printJSON(s, map[string]any{"tenant": c.Name, "provider": c.Provider, "keys_rewrapped": n})
}

type tenantsMinimiseCmd struct {
	Name  string `arg:"" help:"Tenant name."`
	State string `arg:"" enum:"on,off" help:"on: discard episode text after extraction; off: keep it (the default)."`
	dataFlags
}

// Run sets the tenant's data minimisation. It applies to episodes
// extracted from then on; the turns stay stored as memories either way
// (forget them with DELETE /v1/memories or user erasure).
func (c *tenantsMinimiseCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.SetDiscardEpisodeText(ctx, c.Name, c.State == "on"); err != nil {
		return err
	}
	return printJSON(s, map[string]any{"tenant": c.Name, "discard_episode_text": c.State == "on"})
}
