package engine

// WithStorageGuard makes the engine ask room before an operation that
// stores new content (adding a memory, replacing its text): a non-nil
// error (diskspace.ErrLow, insufficient_storage) refuses it, recorded in
// the audit trail like any failure. Everything else goes on below the
// floor on purpose: reads and their audit entries, deletions and erasures
// (which free space and may be legal duties), API key creation and
// revocation (incident response), and background work.
func WithStorageGuard(room func() error) Option {
	return func(e *Engine) { e.room = room }
}

// roomToGrow is nil when no guard is set or it allows growth.
func (e *Engine) roomToGrow() error {
	if e.room == nil {
		return nil
	}
	return e.room()
}
