package store

import (
	"context"
	"time"
)

// RetentionTx is what the retention sweep (docs/LIFECYCLE.md,
// "Retention") asks of a store.
type RetentionTx interface {
	// DueMemories returns up to limit memories of the tenant that are due
	// at now: expired (ExpiresAt at or before now), or, when createdBefore
	// is not zero, created before it. Oldest id first.
	DueMemories(ctx context.Context, tenantID string, now, createdBefore time.Time, limit int) ([]Memory, error)
	// DeleteMemoryHistory removes every history entry of a memory: a
	// memory removed by retention leaves nothing of its content behind.
	DeleteMemoryHistory(ctx context.Context, tenantID, memoryID string) (int, error)
	// DueEpisodeTexts returns up to limit episodes of the tenant created
	// before createdBefore that still hold their messages and are no
	// longer pending extraction. Oldest first.
	DueEpisodeTexts(ctx context.Context, tenantID string, createdBefore time.Time, limit int) ([]Episode, error)
}
