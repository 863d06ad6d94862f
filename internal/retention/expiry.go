package retention

import (
	"errors"
	"time"
)

// ErrExpiration is returned for an expiration_date that is neither an
// RFC 3339 date nor an RFC 3339 date-time.
var ErrExpiration = errors.New("expiration_date must be an RFC 3339 date (2026-01-31) or date-time (2026-01-31T12:00:00Z)")

// ParseExpiration reads mem0's expiration_date: a full date means the end
// of that day is not reached — the memory lives through the day and
// expires at the start of the next (UTC) — and a date-time is the instant
// itself. The result is UTC.
func ParseExpiration(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.AddDate(0, 0, 1).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, ErrExpiration
}

// Expired reports whether a memory with this expiry is gone at now: an
// expired memory is invisible to every read at once, before a sweep
// deletes it. nil never expires.
func Expired(expiresAt *time.Time, now time.Time) bool {
	return expiresAt != nil && !now.Before(*expiresAt)
}

// Reason says why a memory is due for deletion.
type Reason int

// Reasons, in the order they are checked.
const (
	Keep   Reason = iota
	Expiry        // its own expiration_date has passed
	Window        // it is older than the plan's window
)

// Due decides one memory's fate at now under plan p.
func Due(p Plan, createdAt time.Time, expiresAt *time.Time, now time.Time) Reason {
	if Expired(expiresAt, now) {
		return Expiry
	}
	if cut, ok := p.Cutoff(now); ok && createdAt.Before(cut) {
		return Window
	}
	return Keep
}
