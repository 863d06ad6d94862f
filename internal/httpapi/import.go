package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"

	"github.com/danielgtaylor/huma/v2"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/importer"
)

// importPath is the one route whose body may exceed engram.MaxBodyBytes:
// limitBody caps it at Config.ImportMaxBytes, and utf8Bodies leaves it
// alone (it would hold the whole body in memory).
const importPath = "/v1/import"

type importInput struct {
	Format   string `query:"format" enum:"json,jsonld,pam,mem0" doc:"The document's format: json (default, Engram's own export), jsonld, pam, or mem0 (mem0's get_all answer or memory export; unsigned)."`
	Mode     string `query:"mode" enum:"skip,overwrite,new_ids" doc:"What a record whose id the tenant already holds does: skip (default: the stored one is kept), overwrite (replaced), new_ids (every record gets a fresh id; references between records follow)."`
	DryRun   bool   `query:"dry_run" doc:"Report what would be created, overwritten and skipped, per kind, without writing anything."`
	ToUserID string `query:"to_user_id" maxLength:"256" doc:"Move every record that belongs to an end user to this user_id (import one user's export as another user)."`
}

type spoolKey struct{}

// spooled is the request body copied to a temporary file (the import
// reads it twice: verification, then the records), or why it could not be.
type spooled struct {
	f    *os.File
	size int64
	err  error
}

// registerImport serves POST /v1/import.
func registerImport(api huma.API, svc engram.ImportService, maxBytes int64, dir string) {
	if svc == nil {
		return
	}
	if maxBytes <= 0 {
		maxBytes = importer.DefaultMaxBytes
	}
	o := op("importTenant", http.MethodPost, importPath, "Import an export into the tenant (owners)", http.StatusOK, "export")
	o.Description = "The body is the document itself (up to the server's --import-max-bytes, 1 GiB by default; 413 beyond). " +
		"A signed document (json, jsonld, pam) is verified first: a changed or truncated one answers 400 import_tampered and nothing is written. " +
		"Every record is then checked, and written a page (200 records) per transaction, re-embedded with the tenant's embedder; no LLM is called. " +
		"Lifecycle is kept: memory history, created and updated times, invalidated and expired facts, expiration dates. " +
		"A failure after the first page leaves the pages before it committed and says how far the import got: run it again with mode=skip to resume. " +
		"Needs the tenant:admin scope. Audited (memory.import: who, how many records). See docs/LIFECYCLE.md, \"Import\"."
	o.MaxBodyBytes = maxBytes
	o.RequestBody = &huma.RequestBody{Required: true, Description: "The export document.",
		Content: map[string]*huma.MediaType{"application/json": {}}}
	o.Middlewares = huma.Middlewares{func(hctx huma.Context, next func(huma.Context)) {
		// The upload may take as long as the request may (the server's
		// read timeout is for ordinary bodies).
		if d, ok := hctx.Context().Deadline(); ok {
			_ = hctx.SetReadDeadline(d)
		}
		s := spool(hctx.BodyReader(), maxBytes, dir)
		if s.f != nil {
			defer func() {
				s.f.Close()
				os.Remove(s.f.Name())
			}()
		}
		next(huma.WithValue(hctx, spoolKey{}, s))
	}}
	huma.Register(api, o, func(ctx context.Context, in *importInput) (*struct{ Body *engram.ImportReport }, error) {
		s, _ := ctx.Value(spoolKey{}).(*spooled)
		if s == nil {
			return nil, problemOf(ctx, errors.New("import: body not spooled"))
		}
		if s.err != nil {
			return nil, problemOf(ctx, s.err)
		}
		rep, err := svc.Import(ctx, engram.ImportRequest{Format: in.Format, Mode: in.Mode, DryRun: in.DryRun, ToUserID: in.ToUserID,
			Body: s.f, Size: s.size})
		if err != nil {
			return nil, problemOf(ctx, err)
		}
		return &struct{ Body *engram.ImportReport }{Body: rep}, nil
	})
}

// spool copies at most maxBytes of r to a new temporary file in dir ("":
// the system's), readable by this process only.
func spool(r io.Reader, maxBytes int64, dir string) *spooled {
	f, err := os.CreateTemp(dir, "engram-import-*")
	if err != nil {
		return &spooled{err: err}
	}
	s := &spooled{f: f}
	n, err := io.Copy(f, io.LimitReader(r, maxBytes+1))
	var tooLarge *http.MaxBytesError
	switch {
	case n > maxBytes || errors.As(err, &tooLarge):
		s.err = engram.Errorf(engram.CodeTooLarge, "the document is larger than the server's import limit of %d bytes", maxBytes)
	case err != nil:
		s.err = &bodyError{err}
	case n == 0:
		s.err = engram.Errorf(engram.CodeInvalid, "the document is empty")
	}
	s.size = n
	return s
}
