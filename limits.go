package engram

// Limits on what a request may carry. They are part of the contract: a
// request over a limit fails with CodeInvalid (or CodeTooLarge for bodies)
// and writes nothing.
const (
	MaxBodyBytes       = 1 << 20 // one request body
	MaxContentBytes    = 64 << 10
	MaxMessages        = 100
	MaxMetadataBytes   = 16 << 10 // metadata as JSON
	MaxMetadataKeys    = 64
	MaxScopeIDBytes    = 256
	MaxQueryBytes      = 4 << 10
	MaxSearchLimit     = 100
	DefaultSearchLimit = 10
	MaxListLimit       = 100
	DefaultListLimit   = 20
	MaxKeyNameBytes    = 128
	MaxTenantNameBytes = 64
	MaxIdempotencyKey  = 128
)

// Times a request may carry (a memory's timestamp, time filters, audit
// since/until, a key's expiry) fall in these years, inclusive, in UTC:
// from the Unix epoch to the last year RFC 3339 can write.
const (
	MinTimeYear = 1970
	MaxTimeYear = 9999
)
