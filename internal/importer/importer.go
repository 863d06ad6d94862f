// Package importer holds the rules of an import (docs/LIFECYCLE.md,
// "## Import"): the options and their defaults, the conflict modes, how
// ids are mapped, how scopes are remapped, what a record must be to be
// imported, and the report's tally. The engine authorises, opens the
// transactions and audits; it asks this package what to do.
package importer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"

	"github.com/google/uuid"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/export"
)

// Limits.
const (
	// PageSize is how many records one write transaction imports: memory
	// stays a page, whatever the document's size.
	PageSize = 200
	// DefaultMaxBytes is the largest document accepted by default
	// (serve --import-max-bytes).
	DefaultMaxBytes int64 = 1 << 30
	// MaxHistory is the most changes one memory may bring.
	MaxHistory = 10000
	// MaxMessages is the most messages one episode may bring.
	MaxMessages = 1000
	// MaxRefs is the most references (episodes of a fact, memories of an
	// episode, aliases of an entity) one record may hold.
	MaxRefs = 1000
)

// Notes: why a record was changed or left out, as counted in the report.
const (
	NoteTopicDerived     = "topic_not_imported"       // topic counts are derived from labels, never imported
	NoteAuthorUnknown    = "author_reassigned"        // the author is no account of this tenant: the importer becomes it
	NotePendingEpisode   = "episode_not_extracted"    // a pending episode is imported as failed: import never extracts
	NoteFactNoEntity     = "fact_entity_missing"      // a fact whose subject or object entity is in neither the document nor the tenant
	NoteScopeConflict    = "overwrite_scope_conflict" // overwrite of an episode or entity stored under another scope: kept, not replaced
	NoteIDTakenElsewhere = "id_remapped"              // the id belongs to another tenant of this node: a fresh one was given
)

// Options is what the caller asks for.
type Options struct {
	Format   string
	Mode     string
	DryRun   bool
	ToUserID string
}

// Clean applies the defaults (json, skip) and refuses unknown values.
func (o *Options) Clean() error {
	switch o.Format {
	case "":
		o.Format = engram.ExportJSON
	case engram.ExportJSON, engram.ExportJSONLD, engram.ExportPAM, engram.ImportMem0:
	default:
		return engram.Errorf(engram.CodeInvalid, "format must be json, jsonld, pam or mem0")
	}
	switch o.Mode {
	case "":
		o.Mode = engram.ImportSkip
	case engram.ImportSkip, engram.ImportOverwrite, engram.ImportNewIDs:
	default:
		return engram.Errorf(engram.CodeInvalid, "mode must be skip, overwrite or new_ids")
	}
	return nil
}

// Signed reports whether documents of format carry a checksum and a
// signature, which are verified before anything is written.
func Signed(format string) bool { return format != engram.ImportMem0 }

// Outcome is what happens to one record.
type Outcome int

const (
	Create Outcome = iota
	Overwrite
	Skip
)

// Decide applies the mode to a record whose (mapped) id exists in the
// tenant or not.
func Decide(mode string, exists bool) Outcome {
	switch {
	case !exists:
		return Create
	case mode == engram.ImportOverwrite:
		return Overwrite
	}
	// skip; new_ids never finds its fresh id taken (a collision of 80
	// random bits), and would skip rather than overwrite if it did.
	return Skip
}

// Mapper gives each id of the document the id it has in the tenant. It
// holds no table: a fresh id is derived from the old one under a secret,
// so every reference to a record (a fact's entities and episodes, an
// episode's memories, a memory's history) maps to the same fresh id in
// constant memory.
type Mapper struct {
	mode string
	salt []byte
}

// NewMapper returns the mapper of one import. In new_ids mode its secret
// is random: each import makes fresh ids. Otherwise it is tenantSecret (a
// secret of the target tenant), so an id remapped because another tenant
// holds it maps to the same fresh id in every import into that tenant:
// importing the same document again skips (or overwrites) what the first
// import wrote, and a failed import resumes.
func NewMapper(mode string, tenantSecret []byte) *Mapper {
	salt := tenantSecret
	if mode == engram.ImportNewIDs || len(salt) == 0 {
		salt = make([]byte, 32)
		_, _ = rand.Read(salt)
	}
	return &Mapper{mode: mode, salt: salt}
}

// ID returns the id a record (or a reference to it) of kind gets: the
// same id in skip and overwrite modes, unless it is not one of ours or
// another tenant of this node holds it (elsewhere), and a fresh one in
// new_ids mode.
func (m *Mapper) ID(kind, old string, elsewhere bool) string {
	if m.mode != engram.ImportNewIDs && Valid(old) && !elsewhere {
		return old
	}
	return m.Fresh(kind, old)
}

// Fresh derives the fresh id of old: a UUID whose first 48 bits keep the
// old id's time when it is a UUIDv7 (so records keep their order), the
// rest (all of it for another id) from an HMAC of the kind and the old id
// under the import's secret.
func (m *Mapper) Fresh(kind, old string) string {
	h := hmac.New(sha256.New, m.salt)
	h.Write([]byte(kind + "\x00" + old))
	sum := h.Sum(nil)
	var u uuid.UUID
	copy(u[:], sum[:16])
	if p, err := uuid.Parse(old); err == nil && p.Version() == 7 {
		copy(u[:6], p[:6])
	}
	u[6] = (u[6] & 0x0f) | 0x70 // version 7
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return u.String()
}

// Valid reports whether s is an id of the shape Engram issues.
func Valid(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// RemapUser returns the user_id a record of user gets: to, when set and
// the record belongs to an end user; else user.
func RemapUser(user, to string) string {
	if to != "" && user != "" {
		return to
	}
	return user
}

// UserOf is the end user a record belongs to once remapped to to ("" for
// none: a topic, the tenant's shared records).
func UserOf(r *export.Record, to string) string {
	var u string
	switch {
	case r.Memory != nil:
		u = r.Memory.UserID
	case r.Episode != nil:
		u = r.Episode.UserID
	case r.Entity != nil:
		u = r.Entity.UserID
	case r.Fact != nil:
		u = r.Fact.UserID
	}
	return RemapUser(u, to)
}

// Check refuses a record that cannot be imported: unknown kind, missing
// data, sizes beyond the limits. Messages never quote content.
func Check(r *export.Record) error {
	bad := func(format string, a ...any) error {
		return engram.Errorf(engram.CodeInvalid, "%s record: %s", r.Kind, fmt.Sprintf(format, a...))
	}
	switch r.Kind {
	case export.KindMemory:
		switch {
		case r.Memory == nil:
			return bad("no data")
		case r.Memory.Content == "":
			return bad("memory is empty")
		case len(r.Memory.Content) > engram.MaxContentBytes:
			return bad("memory is longer than %d bytes", engram.MaxContentBytes)
		case len(r.History) > MaxHistory:
			return bad("more than %d history entries", MaxHistory)
		}
		for _, h := range r.History {
			if len(h.OldMemory) > engram.MaxContentBytes || len(h.NewMemory) > engram.MaxContentBytes {
				return bad("a history entry is longer than %d bytes", engram.MaxContentBytes)
			}
		}
	case export.KindEpisode:
		switch {
		case r.Episode == nil:
			return bad("no data")
		case len(r.Episode.Messages) > MaxMessages:
			return bad("more than %d messages", MaxMessages)
		case len(r.Episode.Memories) > MaxRefs:
			return bad("more than %d memories", MaxRefs)
		}
		for _, m := range r.Episode.Messages {
			if len(m.Content) > engram.MaxContentBytes {
				return bad("a message is longer than %d bytes", engram.MaxContentBytes)
			}
		}
	case export.KindEntity:
		switch {
		case r.Entity == nil:
			return bad("no data")
		case r.Entity.Name == "":
			return bad("entity has no name")
		case len(r.Entity.Aliases) > MaxRefs:
			return bad("more than %d aliases", MaxRefs)
		}
	case export.KindFact:
		switch {
		case r.Fact == nil:
			return bad("no data")
		case r.Fact.Subject.ID == "":
			return bad("fact has no subject entity")
		case r.Fact.Predicate == "" || len(r.Fact.Predicate) > engram.MaxPredicateBytes:
			return bad("predicate is empty or longer than %d bytes", engram.MaxPredicateBytes)
		case len(r.Fact.Fact) > engram.MaxContentBytes || len(r.Fact.Value) > engram.MaxValueBytes:
			return bad("fact is too long")
		case len(r.Fact.Episodes) > MaxRefs:
			return bad("more than %d episodes", MaxRefs)
		}
	case export.KindTopic:
	default:
		return engram.Errorf(engram.CodeInvalid, "unknown record kind")
	}
	return nil
}

// Report tallies an import.
type Report struct{ engram.ImportReport }

// NewReport starts the report of an import with opts.
func NewReport(o Options) *Report {
	return &Report{engram.ImportReport{Format: o.Format, Mode: o.Mode, DryRun: o.DryRun, Kinds: map[string]engram.ImportCounts{}}}
}

// Count records the outcome of one record of kind.
func (r *Report) Count(kind string, o Outcome) {
	c := r.Kinds[kind]
	switch o {
	case Create:
		c.Created++
	case Overwrite:
		c.Overwritten++
	case Skip:
		c.Skipped++
	}
	r.Kinds[kind] = c
}

// Note counts one note.
func (r *Report) Note(n string) {
	if r.Notes == nil {
		r.Notes = map[string]int{}
	}
	r.Notes[n]++
}
