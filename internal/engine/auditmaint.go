package engine

import (
	"context"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

// auditMaintenance is one round of the audit background work: seal what is
// due, then drop what retention lets go (only sealed segments can be).
func (e *Engine) auditMaintenance(ctx context.Context, p checkpoint.Policy) error {
	if _, err := e.SealAudit(ctx, p); err != nil {
		return err
	}
	_, err := e.SweepAudit(ctx)
	return err
}
