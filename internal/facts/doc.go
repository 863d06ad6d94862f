// Package facts holds the bi-temporal rules for Observe's facts, as pure
// functions over in-memory values: no store, no clock, no randomness (the
// caller passes "now" and the new fact's id), so the same inputs always give
// the same plan.
//
// A fact is (subject, predicate, object entity or literal value) with two
// time axes:
//
//   - world time: ValidAt ≤ t < InvalidAt is when the fact was true in the
//     world (InvalidAt nil while it is still true);
//   - knowledge time: CreatedAt ≤ t < ExpiredAt is when Engram held the fact
//     as it stands (ExpiredAt set when a rule retired it).
//
// Resolve decides what one new statement does to the facts Engram already
// holds about its subject, following Graphiti's contradiction rule: a new
// value of a single-valued predicate ends the old value at the new fact's
// ValidAt; a fact that is newer in world time ends the new one instead (an
// old statement learned late); intervals that do not overlap are left alone;
// the same value again merges episodes; a negation ends the matching fact.
// Nothing is ever deleted: every rule only closes intervals, extends a
// duplicate backwards, or adds episode ids. Current, AsOf and KnownAt read
// the result along either axis. docs/OBSERVE.md ("internal/facts") has a
// worked example and what the rules do not do.
package facts
