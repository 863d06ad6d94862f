package store

import "context"

// Leases elect, among the processes that share a store, the one that does
// a piece of background work (audit sealing, sweeps, re-encryption): with
// several nodes on one database, each sweep runs on one node per period
// instead of on every node.
//
// A lease is held by a store handle (a node) until it resigns it, closes
// the store or loses its connection to the database; Lead then finds it
// free on another handle. Holding a lease is an optimisation, never what
// keeps data correct: the work it guards must stay safe to run twice (in
// write transactions that re-read what they change), because a holder cut
// off from the database may still be finishing a round when another node
// takes over.
type Leases interface {
	// Lead reports whether this handle holds the named lease, taking it
	// when no other handle does. Calling it again while holding the lease
	// checks that it is still held (false once it was lost). A store used
	// by one process alone (SQLite) always leads.
	Lead(ctx context.Context, name string) (bool, error)
	// Resign gives the named lease up; a lease not held is ignored.
	Resign(name string)
}
