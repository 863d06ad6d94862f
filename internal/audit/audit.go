// Package audit builds and checks Engram's tamper-evident audit trail.
//
// Each tenant's entries form one HMAC chain (the system chain has tenant id
// ""):
//
//	mac_n = HMAC-SHA256(K_audit, "engram/audit/link/v1" ‖ lp(mac_{n-1}) ‖ u64(n) ‖ canonical(entry_n))
//
// where canonical is a length-prefixed encoding of every field (see
// Canonical) and mac_0 is empty. Editing, removing, inserting or reordering
// a stored entry breaks the chain at the first entry touched. Removing the
// tail does not: the store also keeps, per tenant, a head record (latest
// seq and MAC) under its own MAC, written in the same transaction as the
// entry, and Verify checks the chain reaches it. Checkpoints kept outside
// the database (the Checkpoint interface) extend that to an attacker who
// can rewrite the head as well.
//
// K_audit and the pseudonym key come from the tenant's index key, which
// survives subject-key erasure and is rewrapped, never replaced, by key
// rotation: so neither forgetting a user nor rotating keys ever changes
// the key an old entry was chained under. Each entry records the version of
// the audit key (always 1 today) so that a future audit-key rotation can
// keep old entries verifiable.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/engram-memory/engram"
)

// KeyVersion is the audit key version new entries are chained under.
const KeyVersion = 1

const (
	linkDomain = "engram/audit/link/v1"
	headDomain = "engram/audit/head/v1"
	entryTag   = "engram/audit/entry/v1"
	detailTag  = "engram/audit/detail/v1"
)

// appendField appends a length-prefixed byte string: 8-byte big-endian
// length, then the bytes. Lengths make the encoding injective: no two
// different entries encode to the same bytes.
func appendField(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// Canonical is the exact byte encoding of an entry that its MAC covers:
// a version tag, then every field in a fixed order, strings length-prefixed
// and integers as 8-byte big-endian. Time counts Unix microseconds (what
// stores keep). Count, when not 0, follows as the last 8 bytes; entries
// without it encode as they did before Count existed, so their MACs still
// verify. The encoding stays injective: every string is length-prefixed,
// so what follows the transport field is either nothing or the count
// (and, for a deletion's compliance record, its Detail after the count).
func Canonical(e *engram.AuditEntry) []byte {
	b := make([]byte, 0, 256)
	b = appendField(b, entryTag)
	b = binary.BigEndian.AppendUint64(b, e.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Time.UnixMicro()))
	for _, s := range []string{e.TenantID, e.Actor, e.KeyID, string(e.Action), e.TargetType, e.TargetID,
		string(e.Outcome), e.Reason, e.IP, e.RequestID, e.Transport} {
		b = appendField(b, s)
	}
	if e.Count != 0 || e.Detail != nil {
		b = binary.BigEndian.AppendUint64(b, e.Count)
	}
	if d := e.Detail; d != nil {
		// After the count (always present then): a tag, the two times,
		// then the counts sorted by kind. What follows the transport is
		// nothing, exactly 8 bytes (a count) or more (a count and a
		// detail), so the encoding stays injective and every entry
		// without a detail encodes as it did before Detail existed.
		b = appendField(b, detailTag)
		b = binary.BigEndian.AppendUint64(b, uint64(d.RequestedAt.UnixMicro()))
		b = binary.BigEndian.AppendUint64(b, uint64(d.ScheduledFor.UnixMicro()))
		kinds := make([]string, 0, len(d.Counts))
		for k := range d.Counts {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		b = binary.BigEndian.AppendUint64(b, uint64(len(kinds)))
		for _, k := range kinds {
			b = appendField(b, k)
			b = binary.BigEndian.AppendUint64(b, d.Counts[k])
		}
	}
	return b
}

// Link returns mac_n for an entry given the previous entry's MAC (nil for
// the first entry of a chain).
func Link(key, prev []byte, e *engram.AuditEntry) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(linkDomain))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(prev)))
	m.Write(n[:])
	m.Write(prev)
	binary.BigEndian.PutUint64(n[:], e.Seq)
	m.Write(n[:])
	m.Write(Canonical(e))
	return m.Sum(nil)
}

// HeadMAC authenticates a chain's head record (tenant, latest seq, its MAC),
// so that deleting the tail of the chain cannot be hidden by lowering the
// head without the key.
func HeadMAC(key []byte, tenantID string, seq uint64, mac []byte) []byte {
	m := hmac.New(sha256.New, key)
	b := appendField(nil, headDomain)
	b = appendField(b, tenantID)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = appendField(b, string(mac))
	m.Write(b)
	return m.Sum(nil)
}

// PseudonymPrefix starts every pseudonym, so a filter can tell one from a
// raw identifier.
const PseudonymPrefix = "ps_"

// Pseudonym is a keyed, truncated MAC of an identifier of the given kind
// ("account", "user"): stable within a tenant, so entries about the same
// person can be filtered together, but meaningless without the tenant's
// key, and unaffected when that person's data is erased. 128 bits keep
// collisions out of reach for any realistic number of identifiers.
func Pseudonym(key []byte, kind, id string) string {
	if id == "" {
		return ""
	}
	m := hmac.New(sha256.New, key)
	m.Write(appendField(appendField(nil, kind), id))
	return PseudonymPrefix + hex.EncodeToString(m.Sum(nil)[:16])
}

// IsPseudonym reports whether s has the form Pseudonym returns.
func IsPseudonym(s string) bool {
	if !strings.HasPrefix(s, PseudonymPrefix) || len(s) != len(PseudonymPrefix)+32 {
		return false
	}
	_, err := hex.DecodeString(s[len(PseudonymPrefix):])
	return err == nil
}

// Record is an entry as sinks receive it (engram.AuditRecord).
type Record = engram.AuditRecord

// JSON is the exact bytes a sink receives for an entry: one JSON object,
// fields in a fixed order, time in RFC 3339 UTC with microseconds, no
// trailing newline.
func JSON(e *engram.AuditEntry, keyVersion int, mac []byte) []byte {
	r := Record{AuditEntry: *e, KeyVersion: keyVersion, MAC: hex.EncodeToString(mac)}
	r.Time = r.Time.UTC().Truncate(time.Microsecond)
	b, err := json.Marshal(r)
	if err != nil {
		// Every field is a string, an integer or a time: Marshal cannot
		// fail on it.
		panic("audit: encode entry: " + err.Error())
	}
	return b
}

// Sink receives every entry after the transaction holding it committed
// (in fail-closed mode, the entries of mutating actions just before:
// engine.WithAuditSinkFailClosed).
// Publish is called from the request's goroutine, so two concurrent
// requests of one tenant may publish seq n+1 before seq n: a sink that needs
// order sorts by seq. Entries that missed their publish (another process,
// a crash, a refusal) are published later by the engine's back-fill
// (engine.BackfillAudit), so a sink may receive an entry twice, late, and
// out of order, never not at all. The hook is optional (the engine
// works without one: engine.WithAuditSink) and must not block for long: a
// slow sink delays the request that produced the entry. An error goes to
// the engine's error report and does not undo the action. Implementations
// (file, syslog, webhook) live in internal/audit/sink.
type Sink interface {
	Publish(ctx context.Context, tenantID string, seq uint64, entryJSON []byte) error
}

// AckSink is a Sink that also says whether any destination accepted an
// entry. A best-effort Sink's Publish returns nil even when every
// destination refused, so that no request fails on its account; the
// engine's back-fill needs the truth, to publish such an entry again
// later. accepted is true when some destination took the entry; err is
// what Publish would have returned. A Sink without PublishAck counts a nil
// Publish as accepted.
type AckSink interface {
	Sink
	PublishAck(ctx context.Context, tenantID string, seq uint64, entryJSON []byte) (accepted bool, err error)
}

// Head is the state of a chain after entry Seq: that entry's MAC.
type Head struct {
	TenantID string
	Seq      uint64
	MAC      []byte
}

// Checkpoint is a source of trusted heads kept apart from the chain rows:
// the head record in the store (StoredHead), and signed checkpoints
// (internal/audit/checkpoint). Verify asks each for the newest head it
// vouches for and requires the chain to contain that seq with that MAC:
// fewer entries is truncation, another MAC is a rewritten chain.
type Checkpoint interface {
	// Name says which checkpoint a failure came from ("head", "signed").
	Name() string
	// Latest returns the newest head vouched for, or nil when there is
	// none for this tenant. When the checkpoint itself is bad (a forged
	// signature, a head whose MAC does not match) the error wraps
	// ErrBadCheckpoint; any other error means it could not be read.
	Latest(ctx context.Context, tenantID string) (*Head, error)
}
