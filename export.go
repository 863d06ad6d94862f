package engram

import (
	"context"
	"io"
)

// Export formats. Only ExportJSON is written today; the others are
// refused with CodeExportFormat (docs/LIFECYCLE.md, "## Export").
const (
	ExportJSON   = "json"
	ExportJSONLD = "jsonld"
	ExportPAM    = "pam"
)

// CodeExportFormat: the format asked for is known but not written yet.
const CodeExportFormat = "export_format_unsupported"

// ExportKey is the public half of a tenant's export signing key.
type ExportKey struct {
	Alg       string `json:"alg"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key" doc:"Standard base64 of the 32-byte Ed25519 key: pass to engram export verify --public-key."`
}

// ExportStream writes a prepared export to w. Authorisation and validation
// happened when it was prepared, so an error here can only truncate the
// document, which then fails verification.
type ExportStream func(w io.Writer) error

// ExportService takes a tenant's data out in Engram's own signed format.
type ExportService interface {
	// ExportTenant prepares an export of everything in the tenant (owners).
	ExportTenant(ctx context.Context, format string) (ExportStream, error)
	// ExportUser prepares an export of one end user's data.
	ExportUser(ctx context.Context, userID, format string) (ExportStream, error)
	// ExportMine prepares an export of the memories the signed-in account
	// authored.
	ExportMine(ctx context.Context, format string) (ExportStream, error)
	// ExportKey returns the tenant's export verification key.
	ExportKey(ctx context.Context) (*ExportKey, error)
}
