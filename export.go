package engram

import (
	"context"
	"io"
)

// Export formats (docs/LIFECYCLE.md, "## Export"): Engram's own JSON,
// JSON-LD and Portable AI Memory v1.0, all checksummed and signed.
const (
	ExportJSON   = "json"
	ExportJSONLD = "jsonld"
	ExportPAM    = "pam"
)

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

// ExportService takes a tenant's data out in a signed format.
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
