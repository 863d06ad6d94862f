// Package entity holds the rules that decide whether a newly mentioned name
// is an entity Engram already knows: normalisation of names, type
// compatibility, exact and fuzzy matching, the keys a store indexes (and
// blinds) to find candidates, and how two entities merge.
//
// It is pure and deterministic: no store, no clock, no randomness (MinHash
// uses fixed seeds), so the same mention and candidates always give the same
// decision on every node. The store keeps the keys returned by EntityKeys
// (each one meant to be blinded with an HMAC under a per-tenant key before
// it is written), looks up Keys(mention name), opens the
// candidates it finds and hands them to Resolve.
//
// The rules are conservative on purpose: a false merge mixes two people's
// facts and is hard to undo, while a missed merge costs one click
// (POST /v1/entities/{id}/merge). So only an exact normalised match or a
// narrow fuzzy rule is a Match; everything merely similar is Uncertain: a new
// entity is created and the near candidates are reported so a user can merge.
// See docs/OBSERVE.md ("internal/entity") for the rules, figures and limits.
package entity
