package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/engram-memory/engram"
)

// importCmd brings an export (Engram's own, or mem0's) into a tenant of
// the data directory: docs/LIFECYCLE.md, "## Import".
type importCmd struct {
	File   string `arg:"" type:"existingfile" help:"The document: an Engram export (json; jsonld, pam) or a mem0 export (--format mem0)."`
	Tenant string `name:"tenant" required:"" help:"The tenant to import into (by name)."`
	Format string `name:"format" default:"json" enum:"json,jsonld,pam,mem0" help:"The document's format."`
	Mode   string `name:"mode" default:"skip" enum:"skip,overwrite,new_ids" help:"A record whose id the tenant holds: skip (keep the stored one), overwrite (replace it), new_ids (give every imported record a fresh id)."`
	DryRun bool   `name:"dry-run" help:"Report what would be created, overwritten and skipped; write nothing."`
	UserID string `name:"user-id" help:"Move every record that belongs to an end user to this user_id."`
	JSON   bool   `name:"json" help:"Print the report as JSON."`
	dataFlags
	// The server's embedder: every memory and fact is re-embedded with it,
	// so give the same --embedder as serve.
	embedFlags
}

// Run opens the data directory (safe beside a running server) and imports
// as the tenant's owner account. The file is read twice (verification,
// then the records), a page at a time.
func (c *importCmd) Run(ctx context.Context, s *ioStreams) error {
	f, err := os.Open(c.File)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	opts, err := c.options(ctx)
	if err != nil {
		return err
	}
	l, err := openLocal(ctx, c.dataFlags, opts...)
	if err != nil {
		return err
	}
	defer l.Close()
	rep, err := l.ImportInto(ctx, c.Tenant, engram.ImportRequest{Format: c.Format, Mode: c.Mode, DryRun: c.DryRun, ToUserID: c.UserID,
		Body: f, Size: fi.Size()})
	if err != nil {
		if engram.ErrorCode(err) == engram.CodeImportTampered {
			return &exitError{code: 1, err: err}
		}
		return err
	}
	if c.JSON {
		return json.NewEncoder(s.out).Encode(rep)
	}
	verb := "imported"
	if rep.DryRun {
		verb = "would import (dry run)"
	}
	signed := "unsigned"
	if rep.Verified {
		signed = "verified, signed by key " + rep.KeyID
	}
	fmt.Fprintf(s.out, "%s %d records into %s (format %s, mode %s; %s)\n", verb, rep.Records, c.Tenant, rep.Format, rep.Mode, signed)
	for _, k := range slices.Sorted(maps.Keys(rep.Kinds)) {
		n := rep.Kinds[k]
		fmt.Fprintf(s.out, "  %-8s created %d, overwritten %d, skipped %d\n", k, n.Created, n.Overwritten, n.Skipped)
	}
	for _, k := range slices.Sorted(maps.Keys(rep.Notes)) {
		fmt.Fprintf(s.out, "  note: %s %d\n", k, rep.Notes[k])
	}
	return nil
}
