package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/export"
	"github.com/engram-memory/engram/internal/importer"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
)

// episodeImportPending is the error code of an episode that was pending
// extraction when exported: import never extracts (no LLM calls), so it
// arrives failed, its text kept.
const episodeImportPending = "import_not_extracted"

// purposeImportIDs derives the tenant's secret for ids an import remaps
// (importer.NewMapper).
const purposeImportIDs = "engram/import-ids/v1"

// maxImportAuthors bounds the cache of author accounts looked up during
// one import.
const maxImportAuthors = 10000

// maxImportUsersCached bounds the users the check pass remembers as
// writable (not pending deletion): memory stays bounded whatever the
// document holds.
const maxImportUsersCached = 10000

// Import brings a document (an export of Engram, or mem0's) into the
// caller's tenant (docs/LIFECYCLE.md, "## Import"). A signed document is
// verified, and every record checked, before anything is written; then the
// records are written a page (importer.PageSize) per write transaction,
// re-embedded with the tenant's embedder. The rules (modes, ids, scopes)
// are internal/importer's.
func (e *Engine) Import(ctx context.Context, req engram.ImportRequest) (_ *engram.ImportReport, err error) {
	a := e.begin(ctx, engram.AuditMemoryImport, engram.TargetTenant, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.TenantImport)
	if err != nil {
		return nil, err
	}
	a.entry.TargetID = p.TenantID
	opts := importer.Options{Format: req.Format, Mode: req.Mode, DryRun: req.DryRun, ToUserID: req.ToUserID}
	if err := opts.Clean(); err != nil {
		return nil, err
	}
	if opts.ToUserID, err = cleanScopeID("to_user_id", opts.ToUserID); err != nil {
		return nil, err
	}
	if req.Body == nil || req.Size <= 0 {
		return nil, invalid("the document is empty")
	}
	rep := importer.NewReport(opts)
	if importer.Signed(opts.Format) {
		vr, err := export.Verify(req.Body, req.Size, nil)
		if errors.Is(err, export.ErrTampered) {
			return nil, engram.Errorf(engram.CodeImportTampered,
				"the document does not verify (changed, truncated, or not a %s export); nothing was imported", opts.Format)
		}
		if err != nil {
			return nil, err
		}
		// A signed document of another of our formats verifies too: the
		// caller named the wrong one, which the decoder would misread.
		if got := export.FormatName(vr.Format); got != opts.Format {
			return nil, invalid("the document is a %s export, not %s: pass format=%s", got, opts.Format, got)
		}
		rep.Verified, rep.KeyID = true, vr.KeyID
	}
	// A first pass checks every record: a document that cannot be
	// imported whole is refused before its first page is written.
	// ... including a record for an end user whose deletion is pending:
	// that user's data is read-only until it is erased or cancelled.
	users := map[string]bool{}
	n, err := e.importPass(opts, req, func(r *export.Record) error {
		u := importer.UserOf(r, opts.ToUserID)
		if u == "" || users[u] {
			return nil
		}
		if err := e.userWritable(ctx, p.TenantID, u); err != nil {
			return err
		}
		if len(users) < maxImportUsersCached { // beyond, each record asks again
			users[u] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Records = n
	if n == 0 {
		return &rep.ImportReport, nil
	}
	if !opts.DryRun {
		if err := e.roomToGrow(); err != nil {
			return nil, err
		}
	}
	secret, err := e.ring.Derived(ctx, p.TenantID, purposeImportIDs)
	if err != nil {
		return nil, keyFailure(err)
	}
	run := &importRun{e: e, ctx: ctx, p: p, opts: opts, ids: importer.NewMapper(opts.Mode, secret), rep: rep, authors: map[string]bool{}}
	page := make([]*export.Record, 0, importer.PageSize)
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		err := run.page(page)
		page = page[:0]
		return err
	}
	_, err = e.importPass(opts, req, func(r *export.Record) error {
		page = append(page, r)
		if len(page) < importer.PageSize {
			return nil
		}
		return flush()
	})
	if err == nil {
		err = flush()
	}
	if !opts.DryRun {
		a.entry.Count = uint64(rep.Committed) // a dry run writes nothing: count 0
	}
	if err != nil {
		// Pages committed stay; the message says how far the import got,
		// so it can be resumed (mode=skip keeps what is there).
		return nil, errors.Join(engram.Errorf(engram.ErrorCode(err), "%s (the import stopped after %d of %d records were committed; run it again with mode=skip to resume)",
			engram.ErrorMessage(err), rep.Committed, n), err)
	}
	return &rep.ImportReport, nil
}

// importPass decodes the document once, checking each record, and hands
// it to fn. It returns how many records there were.
func (e *Engine) importPass(opts importer.Options, req engram.ImportRequest, fn func(*export.Record) error) (int, error) {
	dec, err := export.NewDecoder(opts.Format, io.NewSectionReader(req.Body, 0, req.Size))
	if err != nil {
		return 0, invalid("the document cannot be read as %s", opts.Format)
	}
	n := 0
	for {
		r, err := dec.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, invalid("record %d cannot be read as %s", n, opts.Format)
		}
		if err := importer.Check(r); err != nil {
			return n, invalid("record %d: %s", n, engram.ErrorMessage(err))
		}
		n++
		if err := fn(r); err != nil {
			return n, err
		}
	}
}

// importRun is one import's state: a few maps of bounded size, never the
// records.
type importRun struct {
	e       *Engine
	ctx     context.Context
	p       *engram.Principal
	opts    importer.Options
	ids     *importer.Mapper
	rep     *importer.Report
	authors map[string]bool // account id → exists in the tenant
	noID    int             // memories read without an id
}

// planned is one record of a page with its ids mapped, and what to do.
type planned struct {
	rec     export.Record
	out     importer.Outcome
	subject string
	text    string // what is embedded: a memory's content, a fact's sentence
	vec     []float32
}

// page imports one page: it plans in a read transaction, embeds, then
// writes everything in one write transaction (all or nothing per page).
func (r *importRun) page(recs []*export.Record) error {
	ctx, tenant := r.ctx, r.p.TenantID
	var plan []*planned
	err := r.e.st.Read(ctx, func(tx store.Tx) error {
		plan = plan[:0]
		for _, rec := range recs {
			pl, err := r.plan(tx, rec)
			if err != nil {
				return err
			}
			if pl != nil {
				plan = append(plan, pl)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if r.opts.DryRun {
		for _, pl := range plan {
			r.rep.Count(pl.rec.Kind, pl.out)
		}
		return nil // a dry run commits nothing: Committed stays 0
	}
	var texts []string
	var toEmbed []*planned
	for _, pl := range plan {
		if pl.out != importer.Skip && pl.text != "" {
			texts, toEmbed = append(texts, pl.text), append(toEmbed, pl)
		}
	}
	vecs, err := r.e.embedTexts(ctx, texts)
	if err != nil {
		return err
	}
	for i, v := range vecs {
		toEmbed[i].vec = v
	}
	b, err := r.e.blinds(ctx, tenant)
	if err != nil {
		return err
	}
	var kwOps []kwOp
	var counted []importer.Outcome
	kwDone := r.e.kwBegin(tenant)
	defer r.e.vecWrite(tenant)()
	epoch := r.e.vecEpoch(tenant)
	err = retry(func() error {
		writers := map[string]*writer{}
		for _, pl := range plan {
			if pl.out == importer.Skip || pl.subject == "" || writers[pl.subject] != nil {
				continue
			}
			w, err := r.e.writer(ctx, tenant, pl.subject)
			if err != nil {
				return err
			}
			writers[pl.subject] = w
		}
		tk, err := r.e.ring.TenantKey(ctx, tenant)
		if err != nil {
			return keyFailure(err)
		}
		return r.e.st.Write(ctx, func(tx store.Tx) error {
			kwOps, counted = kwOps[:0], counted[:0]
			for _, w := range writers {
				if err := w.check(ctx, tx); err != nil {
					return err
				}
			}
			discard, err := r.e.discardText(ctx, tx, tenant)
			if err != nil {
				return err
			}
			for _, pl := range plan {
				out, err := r.write(tx, writers[pl.subject], tk, b, pl, discard, &kwOps)
				if err != nil {
					return err
				}
				counted = append(counted, out)
			}
			return nil
		})
	})
	if err != nil {
		kwDone()
		return err
	}
	kwDone(kwOps...)
	for i, pl := range plan {
		r.rep.Count(pl.rec.Kind, counted[i])
		if m := pl.rec.Memory; m != nil && pl.vec != nil && counted[i] != importer.Skip {
			if counted[i] == importer.Overwrite {
				r.e.indexRemove(tenant, m.ID)
			}
			r.e.indexPut(tenant, m.ID, pl.vec, docMeta{subject: pl.subject, scope: m.Scope(), created: m.CreatedAt,
				rec: rbac.Record{AuthorID: m.AuthorID, Private: m.Visibility == engram.VisibilityPrivate}}, epoch)
		}
	}
	r.rep.Committed += len(recs)
	return nil
}

// mapID is the id a record of kind (or a reference to one) has in the
// tenant; own reports whether this is the record's own id, for the note.
func (r *importRun) mapID(tx store.Tx, kind, old string, own bool) (string, error) {
	if old == "" {
		return "", nil
	}
	elsewhere := false
	if r.opts.Mode != engram.ImportNewIDs && importer.Valid(old) {
		t, err := tx.RecordTenant(r.ctx, kind, old)
		switch {
		case err == nil:
			elsewhere = t != r.p.TenantID
		case !errors.Is(err, store.ErrNotFound):
			return "", err
		}
		if elsewhere && own {
			r.rep.Note(importer.NoteIDTakenElsewhere)
		}
	}
	return r.ids.ID(kind, old, elsewhere), nil
}

// exists reports whether the tenant holds a record of kind with id.
func (r *importRun) exists(tx store.Tx, kind, id string) (bool, error) {
	t, err := tx.RecordTenant(r.ctx, kind, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && t == r.p.TenantID, err
}

// author returns the author a memory keeps: its own when that account is
// one of the tenant's, else the importing account.
func (r *importRun) author(tx store.Tx, id string) (string, error) {
	if id == "" {
		return "", nil
	}
	ok, seen := r.authors[id]
	if !seen {
		_, err := tx.Account(r.ctx, r.p.TenantID, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
		ok = err == nil
		if len(r.authors) < maxImportAuthors {
			r.authors[id] = ok
		}
	}
	if ok {
		return id, nil
	}
	r.rep.Note(importer.NoteAuthorUnknown)
	return r.p.AccountID, nil
}

// plan maps one record's ids and scope and decides its outcome; nil for a
// record that is never imported (a topic count).
func (r *importRun) plan(tx store.Tx, in *export.Record) (*planned, error) {
	pl := &planned{rec: export.Record{Kind: in.Kind}}
	var err error
	id := func(kind, old string) string {
		if err != nil {
			return ""
		}
		var s string
		s, err = r.mapID(tx, kind, old, false)
		return s
	}
	user := func(u string) string { return importer.RemapUser(u, r.opts.ToUserID) }
	var kind, newID string
	switch in.Kind {
	case export.KindTopic:
		r.rep.Note(importer.NoteTopicDerived)
		r.rep.Count(in.Kind, importer.Skip)
		return nil, nil
	case export.KindMemory:
		m := *in.Memory
		old := m.ID
		if old == "" {
			// mem0 documents without ids: each memory its own fresh id.
			r.noID++
			old = fmt.Sprintf("no-id/%d", r.noID)
		}
		if m.ID, err = r.mapID(tx, "memory", old, true); err != nil {
			return nil, err
		}
		if m.Content, err = cleanText("memory", m.Content); err != nil {
			return nil, err
		}
		m.UserID = user(m.UserID)
		sc, err := cleanScope(m.Scope())
		if err != nil {
			return nil, err
		}
		m.UserID, m.AgentID, m.RunID = sc.UserID, sc.AgentID, sc.RunID
		if m.AuthorID, err = r.author(tx, m.AuthorID); err != nil {
			return nil, err
		}
		if m.Visibility != engram.VisibilityPrivate {
			m.Visibility = engram.VisibilityShared
		}
		pl.rec.Memory, pl.text = &m, m.Content
		pl.rec.History = in.History
		kind, newID = "memory", m.ID
		pl.subject = "u:" + m.UserID
		if m.UserID == "" {
			pl.subject = "a:" + m.AuthorID
			if m.AuthorID == "" {
				pl.subject = "a:" + r.p.AccountID
			}
		}
	case export.KindEpisode:
		ep := *in.Episode
		ep.ID = id("episode", ep.ID)
		ep.UserID = user(ep.UserID)
		ep.Memories = make([]engram.AddResult, len(in.Episode.Memories))
		for i, m := range in.Episode.Memories {
			ep.Memories[i] = engram.AddResult{ID: id("memory", m.ID), Event: m.Event}
		}
		pl.rec.Episode, kind, newID = &ep, "episode", ep.ID
		pl.subject = subjectOf(engram.Scope{UserID: ep.UserID}, r.p)
	case export.KindEntity:
		en := *in.Entity
		en.ID = id("entity", en.ID)
		en.UserID = user(en.UserID)
		pl.rec.Entity, kind, newID = &en, "entity", en.ID
	case export.KindFact:
		f := *in.Fact
		f.ID = id("fact", f.ID)
		f.Subject.ID = id("entity", f.Subject.ID)
		if f.Object != nil {
			o := *f.Object
			o.ID = id("entity", o.ID)
			f.Object = &o
		}
		f.Episodes = make([]string, len(in.Fact.Episodes))
		for i, x := range in.Fact.Episodes {
			f.Episodes[i] = id("episode", x)
		}
		f.UserID = user(f.UserID)
		pl.rec.Fact, pl.text, kind, newID = &f, f.Fact, "fact", f.ID
		pl.subject = subjectOf(engram.Scope{UserID: f.UserID}, r.p)
	}
	if err != nil {
		return nil, err
	}
	if newID == "" {
		return nil, invalid("a %s record has no id", in.Kind)
	}
	ex, err := r.exists(tx, kind, newID)
	if err != nil {
		return nil, err
	}
	pl.out = importer.Decide(r.opts.Mode, ex)
	return pl, nil
}

// write applies one planned record inside the page's transaction and
// returns what it did.
func (r *importRun) write(tx store.Tx, w *writer, tk seal.Key, b *blinds, pl *planned, discard bool, kw *[]kwOp) (importer.Outcome, error) {
	if pl.out == importer.Skip {
		return importer.Skip, nil
	}
	ctx, tenant := r.ctx, r.p.TenantID
	over := pl.out == importer.Overwrite
	switch pl.rec.Kind {
	case export.KindMemory:
		m := pl.rec.Memory
		if over {
			if err := tx.DeleteMemory(ctx, tenant, m.ID); err != nil {
				return 0, err
			}
			if _, err := tx.DeleteMemoryHistory(ctx, tenant, m.ID); err != nil {
				return 0, err
			}
			*kw = append(*kw, kwOp{remove: m.ID})
		}
		md, err := encodeMetadata(m.Metadata)
		if err != nil {
			return 0, err
		}
		created, updated := importTime(m.CreatedAt, r.e.clock()), importTime(m.UpdatedAt, r.e.clock())
		sm := &store.Memory{ID: m.ID, TenantID: tenant, UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID,
			CreatedAt: created, UpdatedAt: updated, AuthorID: m.AuthorID, Private: m.Visibility == engram.VisibilityPrivate}
		if m.ExpirationDate != nil {
			t := asUTC(*m.ExpirationDate)
			sm.ExpiresAt = &t
		}
		postings, err := w.record(sm, m.Content, md, pl.vec)
		if err != nil {
			return 0, err
		}
		if err := tx.InsertMemory(ctx, sm, postings); err != nil {
			return 0, err
		}
		*kw = append(*kw, kwOp{doc: &store.DocPostings{MemoryID: sm.ID, Scope: m.Scope(), AuthorID: sm.AuthorID, Private: sm.Private,
			DocLen: sm.DocLen, Postings: postings}})
		hist := pl.rec.History
		if hist == nil {
			// A memory from a format without history (mem0): its one
			// change is its creation, as Add would have written it.
			hist = []engram.HistoryEntry{{Event: engram.EventAdd, NewMemory: m.Content, CreatedAt: created}}
		}
		for _, h := range hist {
			hr, err := w.history(sm, h.Event, h.OldMemory, h.NewMemory, importTime(h.CreatedAt, created))
			if err != nil {
				return 0, err
			}
			if err := tx.InsertHistory(ctx, hr); err != nil {
				return 0, err
			}
		}
	case export.KindEpisode:
		ep := pl.rec.Episode
		rec := &store.Episode{ID: ep.ID, TenantID: tenant, UserID: ep.UserID, AgentID: ep.AgentID, RunID: ep.RunID,
			Subject: w.subject, KeyVersion: int(w.key.Version), Status: ep.Status, Extractor: ep.Extractor, Attempts: ep.Attempts,
			CreatedAt: importTime(ep.CreatedAt, r.e.clock()), UpdatedAt: importTime(ep.UpdatedAt, r.e.clock())}
		if ep.Error != nil {
			rec.ErrorCode = ep.Error.Code
		}
		if rec.Status != engram.EpisodeDone && rec.Status != engram.EpisodeFailed {
			rec.Status, rec.ErrorCode = engram.EpisodeFailed, episodeImportPending
			r.rep.Note(importer.NotePendingEpisode)
		}
		res := episodeResult{Memories: make([]idemResult, 0, len(ep.Memories))}
		for _, m := range ep.Memories {
			res.Memories = append(res.Memories, idemResult{ID: m.ID, Event: m.Event})
		}
		rec.Result, _ = json.Marshal(res)
		if len(ep.Messages) > 0 && !discard {
			stored := make([]storedMessage, len(ep.Messages))
			for i, m := range ep.Messages {
				stored[i] = storedMessage{Role: m.Role, Content: m.Content, Name: m.Name, Time: m.Timestamp}
			}
			raw, _ := json.Marshal(stored)
			var err error
			if rec.Messages, err = w.seal(episodeContext(tenant, w.subject, rec.ID), raw); err != nil {
				return 0, err
			}
		}
		if over {
			cur, err := tx.Episode(ctx, tenant, rec.ID)
			if err != nil {
				return 0, err
			}
			if cur.Subject != rec.Subject || cur.UserID != rec.UserID || cur.AgentID != rec.AgentID || cur.RunID != rec.RunID {
				// An update keeps the stored scope: one in another scope
				// is kept rather than half replaced.
				r.rep.Note(importer.NoteScopeConflict)
				return importer.Skip, nil
			}
			return importer.Overwrite, tx.UpdateEpisode(ctx, rec)
		}
		return importer.Create, tx.InsertEpisode(ctx, rec)
	case export.KindEntity:
		en := pl.rec.Entity
		rules := entity.Entity{ID: en.ID, Name: en.Name, Aliases: en.Aliases, Type: entity.Type(en.Type), Mentions: en.Mentions}
		rec := &store.Entity{ID: en.ID, TenantID: tenant, UserID: en.UserID, Type: en.Type, Mentions: en.Mentions,
			CreatedAt: importTime(en.CreatedAt, r.e.clock()), UpdatedAt: importTime(en.UpdatedAt, r.e.clock())}
		body := entityBody{Name: en.Name, Aliases: en.Aliases}
		var k seal.Key
		var err error
		if over {
			cur, err := tx.Entity(ctx, tenant, en.ID)
			if err != nil {
				return 0, err
			}
			if cur.UserID != rec.UserID {
				r.rep.Note(importer.NoteScopeConflict)
				return importer.Skip, nil
			}
			k, err = r.e.entityKey(ctx, tx, tenant, en.ID)
		} else {
			k, err = r.e.newEntityKey(ctx, tx, tk, tenant, en.ID)
		}
		if err != nil {
			return 0, err
		}
		if err := r.e.sealEntity(k, rec, body); err != nil {
			return 0, err
		}
		if over {
			return importer.Overwrite, tx.UpdateEntity(ctx, rec, b.entityTokens(rules))
		}
		return importer.Create, tx.InsertEntity(ctx, rec, b.entityTokens(rules))
	case export.KindFact:
		f := pl.rec.Fact
		for _, ref := range []*engram.EntityRef{&f.Subject, f.Object} {
			if ref == nil {
				continue
			}
			if _, err := tx.Entity(ctx, tenant, ref.ID); errors.Is(err, store.ErrNotFound) {
				r.rep.Note(importer.NoteFactNoEntity)
				return importer.Skip, nil
			} else if err != nil {
				return 0, err
			}
		}
		rec := &store.Fact{ID: f.ID, TenantID: tenant, UserID: f.UserID, SubjectEntity: f.Subject.ID,
			PredicateTok: b.predicateToken(f.Predicate), Episodes: f.Episodes, ValidAt: importTime(f.ValidAt, r.e.clock()),
			InvalidAt: utcPtr(f.InvalidAt), CreatedAt: importTime(f.CreatedAt, r.e.clock()), ExpiredAt: utcPtr(f.ExpiredAt)}
		if f.Object != nil {
			rec.ObjectEntity = f.Object.ID
		}
		if err := w.sealFact(rec, factBody{Predicate: f.Predicate, Value: f.Value, Sentence: f.Fact}, pl.vec); err != nil {
			return 0, err
		}
		if over {
			// Deleted and inserted again: the stored scope and key subject
			// are replaced too.
			if err := tx.DeleteFact(ctx, tenant, rec.ID); err != nil {
				return 0, err
			}
			return importer.Overwrite, tx.InsertFact(ctx, rec)
		}
		return importer.Create, tx.InsertFact(ctx, rec)
	default:
		return 0, fmt.Errorf("import: unknown kind %q", pl.rec.Kind)
	}
	return pl.out, nil
}

// importTime is t in UTC at the store's precision, or def when the
// document has none.
func importTime(t, def time.Time) time.Time {
	if t.IsZero() || checkTime("time", t) != nil {
		return asUTC(def)
	}
	return asUTC(t)
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := asUTC(*t)
	return &u
}

// ImportInto is Import run by an operator with the data directory (engram
// import, the CLI) into the named tenant. It acts as the tenant's owner
// account: the audit entry names that account, with transport cli, and it
// becomes the author of memories whose author is no account of the
// tenant.
func (e *Engine) ImportInto(ctx context.Context, tenantName string, req engram.ImportRequest) (*engram.ImportReport, error) {
	t, err := e.TenantByName(ctx, tenantName)
	if err != nil {
		return nil, err
	}
	owner, err := e.ownerAccount(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	if o := engram.OriginFrom(ctx); o.Transport == "" {
		o.Transport = "cli"
		ctx = engram.WithOrigin(ctx, o)
	}
	p := &engram.Principal{TenantID: t.ID, AccountID: owner, Role: engram.RoleOwner, Permissions: engram.RoleOwner.Permissions()}
	return e.Import(engram.WithPrincipal(ctx, p), req)
}
