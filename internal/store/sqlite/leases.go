package sqlite

import "context"

// Lead always leads: an embedded store's data directory is served by one
// process (serve holds its lock), so there is no other node to elect. The
// offline commands that may open the file beside it (audit seal, …) do
// their work in write transactions that are safe to run twice.
func (db *DB) Lead(context.Context, string) (bool, error) { return true, nil }

// Resign does nothing: see Lead.
func (db *DB) Resign(string) {}
