package engram

import (
	"context"
	"io"
)

// Import conflict modes: what an imported record does to a stored one
// with the same id (docs/LIFECYCLE.md, "## Import").
const (
	ImportSkip      = "skip"      // the stored record is kept, the imported one dropped (default)
	ImportOverwrite = "overwrite" // the stored record is replaced
	ImportNewIDs    = "new_ids"   // every imported record gets a fresh id; references follow
)

// ImportMem0 is the format of a mem0 export (get_all or the platform's
// memory export): unsigned.
const ImportMem0 = "mem0"

// CodeImportTampered: the document's checksum or signature does not
// verify (or it is not the format it claims); nothing was written.
const CodeImportTampered = "import_tampered"

// ImportRequest is one import into the caller's tenant. Body is read
// twice (verification, then the records), so it must be seekable: the
// REST handler spools the upload to a temporary file first.
type ImportRequest struct {
	Format string // json (default), jsonld, pam or mem0
	Mode   string // skip (default), overwrite or new_ids
	DryRun bool
	// ToUserID, when set, moves every record that belongs to an end user
	// to this user_id (a user's export imported as another user).
	ToUserID string
	Body     io.ReaderAt
	Size     int64
}

// ImportCounts is what an import did (or, in a dry run, would do) to one
// kind of record.
type ImportCounts struct {
	Created     int `json:"created"`
	Overwritten int `json:"overwritten"`
	Skipped     int `json:"skipped"`
}

// ImportReport says what an import did. Records counts every record read;
// Committed the records of the pages committed (a failed import stops at
// a page boundary: everything before Committed stays, nothing after).
type ImportReport struct {
	Format    string                  `json:"format"`
	Mode      string                  `json:"mode"`
	DryRun    bool                    `json:"dry_run"`
	Verified  bool                    `json:"verified" doc:"The document's checksum and signature verified (signed formats)."`
	KeyID     string                  `json:"key_id,omitempty" doc:"The key that signed the document."`
	Kinds     map[string]ImportCounts `json:"kinds"`
	Records   int                     `json:"records"`
	Committed int                     `json:"committed"`
	// Dropped counts records left out, by reason (topic counts are derived
	// and never imported; authors unknown to this tenant are cleared).
	Notes map[string]int `json:"notes,omitempty"`
}

// ImportService brings an export back into a tenant.
type ImportService interface {
	Import(ctx context.Context, req ImportRequest) (*ImportReport, error)
}
