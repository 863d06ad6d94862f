package main

import (
	"log/slog"

	"github.com/engram-memory/engram/internal/diskspace"
)

// storageGuard builds the free-space floor of --min-free-space; it logs
// each time the data directory's filesystem crosses the floor.
func (c *serveCmd) storageGuard(log *slog.Logger) (*diskspace.Guard, error) {
	floor, err := diskspace.ParseFloor(c.MinFree)
	if err != nil {
		return nil, err
	}
	log = log.With("component", "storage")
	return &diskspace.Guard{Dir: c.Data, Floor: floor, OnChange: func(low bool, s diskspace.Space, err error) {
		switch {
		case err != nil:
			log.Warn("cannot read free space; the floor is not enforced", "error", err)
		case low:
			log.Warn("free space below the floor: new content is refused (507) until space is freed",
				"free_bytes", s.Avail, "total_bytes", s.Total, "floor", floor.String())
		default:
			log.Info("free space above the floor again: writes accepted", "free_bytes", s.Avail, "floor", floor.String())
		}
	}}, nil
}
