package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"strings"

	"github.com/engram-memory/engram/internal/export"
)

type exportCmd struct {
	Verify exportVerifyCmd `cmd:"" help:"Check an export's checksum and signature offline (json, jsonld or pam: told apart by their first key); exits 1 on any change."`
}

type exportVerifyCmd struct {
	File      string `arg:"" type:"existingfile" help:"An export in any format (GET /v1/export, /v1/users/{id}/export or /v1/me/export)."`
	PublicKey string `name:"public-key" help:"The tenant's export key (public_key of GET /v1/export/keys), pinned out of band. Without it only the document's own key is checked: proof of integrity, not of origin."`
}

// Run needs no server, data directory or secret: it is the recipient's
// check. It reads the file a page at a time (json and jsonld twice, pam
// once).
func (c *exportVerifyCmd) Run(_ context.Context, s *ioStreams) error {
	var pin ed25519.PublicKey
	if c.PublicKey != "" {
		var err error
		if pin, err = export.ParsePublicKey(c.PublicKey); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("--public-key: %w", err)}
		}
	}
	f, err := os.Open(c.File)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	rep, err := export.Verify(f, fi.Size(), pin)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("export %s FAILED: %w", c.File, err)}
	}
	var counts []string
	for _, k := range []string{export.KindMemory, export.KindEpisode, export.KindEntity, export.KindFact, export.KindTopic} {
		counts = append(counts, fmt.Sprintf("%s %d", k, rep.Counts[k]))
	}
	scope := rep.Scope.Kind
	if rep.Scope.UserID != "" {
		scope += " " + rep.Scope.UserID
	}
	fmt.Fprintf(s.out, "export (%s): tenant %s, scope %s, created %s: intact, signed by key %s\n", rep.Format, rep.Tenant, scope,
		rep.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), rep.KeyID)
	fmt.Fprintf(s.out, "records: %s\n", strings.Join(counts, ", "))
	if !rep.Pinned {
		fmt.Fprintln(s.out, "warning: no --public-key given; the signer's key was taken from the file itself")
	}
	return nil
}
