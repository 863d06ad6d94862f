package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

// auditKeyCmd: `engram audit key [--all]` prints verifier keys, `engram
// audit key rotate` rotates the signing key.
type auditKeyCmd struct {
	Show   auditKeyShowCmd   `cmd:"" default:"withargs" help:"Print the current checkpoint verifier key (--all: every version); the default."`
	Rotate auditKeyRotateCmd `cmd:"" help:"Rotate the checkpoint signing key: a new version signs from now on, the retired seed is destroyed, its public key kept (offline; serve may run)."`
}

type auditKeyShowCmd struct {
	All bool `name:"all" help:"Print every version's verifier key, oldest first, the current one marked."`
	dataFlags
}

func (c *auditKeyShowCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	if !c.All {
		vk, err := l.AuditVerifierKey(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintln(s.out, vk)
		return nil
	}
	ks, err := l.AuditVerifierKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range ks {
		state := "retired"
		if k.Current {
			state = "current"
		}
		fmt.Fprintf(s.out, "%d\t%s\t%s\n", k.Version, state, k.VerifierKey)
	}
	return nil
}

type auditKeyRotateCmd struct {
	dataFlags
}

// Run rotates in one transaction; a running server picks the new key up
// at its next seal. It prints only public keys.
func (c *auditKeyRotateCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	rot, err := l.RotateCheckpointKey(ctx)
	if err != nil {
		return err
	}
	for _, id := range rot.Skipped {
		fmt.Fprintf(s.err, "warning: chain %q: its newest checkpoint does not verify, so it got no hand-over; run engram audit verify\n", id)
	}
	return printJSON(s, rot)
}

type auditSealCmd struct {
	Entries int           `name:"entries" default:"1000" help:"Seal once a segment holds this many entries."`
	Age     time.Duration `name:"age" default:"0s" help:"Seal a segment whose oldest entry is this old (0: seal whatever is pending)."`
	dataFlags
}

func (c *auditSealCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	p := checkpoint.Policy{MaxEntries: uint64(max(c.Entries, 1)), MaxAge: c.Age}
	if c.Age == 0 {
		// On demand: anything pending is due.
		p.MaxAge = time.Nanosecond
	}
	st, err := l.SealAudit(ctx, p)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "audit: %d chain(s), sealed %d segment(s), %d entries\n", st.Chains, st.Segments, st.Entries)
	return nil
}

type auditProveCmd struct {
	Tenant  string `name:"tenant" required:"" help:"Tenant name."`
	Segment uint64 `name:"segment" required:"" help:"First seq of the sealed segment (see GET /v1/audit/segments)."`
	Out     string `name:"out" required:"" type:"path" help:"File to write the bundle JSON to."`
	dataFlags
}

func (c *auditProveCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	t, err := l.TenantByName(ctx, c.Tenant)
	if err != nil {
		return err
	}
	b, err := l.AuditBundle(ctx, t.ID, c.Segment)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.Out, append(data, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "audit: bundle of entries %d..%d of tenant %s written to %s\n", b.First+1, b.Last+1, c.Tenant, c.Out)
	return nil
}

type auditCheckBundleCmd struct {
	File string   `arg:"" type:"existingfile" help:"Bundle JSON (from engram audit prove or GET /v1/audit/segments/{first}/bundle)."`
	Key  []string `name:"key" help:"A checkpoint verifier key, obtained out of band (engram audit key; GET /v1/audit/keys). Repeat it (or separate with commas) to accept several key versions."`
	Keys string   `name:"keys" placeholder:"FILE" help:"A file of verifier keys: the output of 'engram audit key --all', one key per line, or the JSON of GET /v1/audit/keys ('-': standard input). After a key rotation a bundle needs the old and the new key: pass them all."`
}

// Run needs no data directory and no secret: it is the customer's check.
func (c *auditCheckBundleCmd) Run(_ context.Context, s *ioStreams) error {
	f, err := os.Open(c.File)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := checkpoint.ParseBundle(f)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("bundle: %w", err)}
	}
	keys := c.Key
	if c.Keys != "" {
		more, err := readVerifierKeys(c.Keys)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		keys = append(keys, more...)
	}
	if len(keys) == 0 {
		return &exitError{code: 2, err: errors.New("give the verifier keys: --keys FILE (engram audit key --all > FILE) or --key KEY")}
	}
	rep, err := checkpoint.VerifyBundle(b, keys...)
	if errors.Is(err, checkpoint.ErrSignature) {
		// The usual cause: a rotation since the segment was sealed, and
		// only the current key given.
		err = fmt.Errorf("%w (after a signing key rotation the bundle needs every key version: engram audit key --all > keys.txt, then --keys keys.txt)", err)
	}
	if err != nil {
		if rep.FirstBad >= 0 && (errors.Is(err, checkpoint.ErrProof) || errors.Is(err, checkpoint.ErrRange)) {
			seq := b.First + uint64(rep.FirstBad) + 1
			return &exitError{code: 1, err: fmt.Errorf("bundle of tenant %s FAILED at entry seq %d (bundle entry #%d): %w", b.Tenant, seq, rep.FirstBad, err)}
		}
		return &exitError{code: 1, err: fmt.Errorf("bundle of tenant %s FAILED: %w", b.Tenant, err)}
	}
	fmt.Fprintf(s.out, "bundle: tenant %s, entries %d..%d (%d), checkpoint size %d: intact", b.Tenant, b.First+1, b.Last+1, rep.Entries, rep.TreeSize)
	if rep.Complete {
		fmt.Fprint(s.out, ", complete segment")
	}
	fmt.Fprintln(s.out)
	return nil
}

type auditRetentionCmd struct {
	Tenant string `name:"tenant" required:"" help:"Tenant name."`
	Days   int    `name:"days" required:"" help:"Keep sealed audit segments this many days (1 to 36500; default 90)."`
	dataFlags
}

func (c *auditRetentionCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	if err := l.SetAuditRetention(ctx, c.Tenant, c.Days); err != nil {
		return err
	}
	fmt.Fprintf(s.out, "audit: retention of tenant %s is %d days\n", c.Tenant, c.Days)
	return nil
}

type auditSweepCmd struct {
	dataFlags
}

func (c *auditSweepCmd) Run(ctx context.Context, s *ioStreams) error {
	l, err := openLocal(ctx, c.dataFlags)
	if err != nil {
		return err
	}
	defer l.Close()
	st, err := l.SweepAudit(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "audit: dropped %d segment(s), %d entries from %d chain(s); %d chain(s) under legal hold\n",
		st.Segments, st.Entries, st.Chains, st.Held)
	return nil
}

// sealFlags are serve's audit sealing settings; the defaults are
// engine.DefaultSealEntries and engine.DefaultSealAge.
type sealFlags struct {
	SealEntries int           `name:"audit-seal-entries" default:"1000" help:"Seal an audit segment once it holds this many entries."`
	SealAge     time.Duration `name:"audit-seal-age" default:"1m" help:"Seal an audit segment once its oldest entry is this old."`
	SealEvery   time.Duration `name:"audit-seal-interval" default:"10s" help:"How often serve checks for due segments and expired ones."`
}

func (f sealFlags) policy() checkpoint.Policy {
	return checkpoint.Policy{MaxEntries: uint64(max(f.SealEntries, 1)), MaxAge: f.SealAge}
}
