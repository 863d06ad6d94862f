package store

import "context"

// ImportTx is what an import (docs/LIFECYCLE.md, "## Import") asks of a
// store beyond the ordinary writes.
type ImportTx interface {
	// RecordTenant returns the tenant that holds the record of kind
	// ("memory", "episode", "entity" or "fact") with id, whichever tenant
	// it is: ids are unique across the node, so an import keeps an id only
	// when no other tenant holds it. ErrNotFound when none does.
	RecordTenant(ctx context.Context, kind, id string) (string, error)
}
