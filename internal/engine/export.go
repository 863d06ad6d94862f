package engine

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"io"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/export"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/topics"
)

// exportPage is how many records one read transaction of an export loads:
// memory use is a page, whatever the tenant's size.
const exportPage = 200

// ExportTenant prepares an export of everything the tenant holds.
func (e *Engine) ExportTenant(ctx context.Context, format string) (engram.ExportStream, error) {
	return e.export(ctx, rbac.TenantExport, format, export.Scope{Kind: "tenant"})
}

// ExportUser prepares an export of one end user's data: the memories,
// episodes, entities, facts and topics of that user_id.
func (e *Engine) ExportUser(ctx context.Context, userID, format string) (engram.ExportStream, error) {
	return e.export(ctx, rbac.UserExport, format, export.Scope{Kind: "user", UserID: userID})
}

// ExportMine prepares an export of the memories the signed-in account
// authored (with their history). The graph records no author, so it holds
// no episodes, entities or facts.
func (e *Engine) ExportMine(ctx context.Context, format string) (engram.ExportStream, error) {
	return e.export(ctx, rbac.Profile, format, export.Scope{Kind: "account"})
}

// ExportKey returns the public key that signs the tenant's exports.
func (e *Engine) ExportKey(ctx context.Context) (_ *engram.ExportKey, err error) {
	p, _, err := can(ctx, rbac.ExportKeys)
	if err != nil {
		return nil, err
	}
	k, err := e.exportKey(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	pub := k.Public().(ed25519.PublicKey)
	return &engram.ExportKey{Alg: export.SignatureAlg, KeyID: export.KeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub)}, nil
}

func (e *Engine) exportKey(ctx context.Context, tenantID string) (ed25519.PrivateKey, error) {
	seed, err := e.ring.Derived(ctx, tenantID, keys.PurposeExport)
	if err != nil {
		return nil, keyFailure(err)
	}
	return export.KeyFromSeed(seed)
}

// checkFormat accepts the export formats: json ("" too), jsonld and pam.
func checkFormat(f string) error {
	switch f {
	case "", engram.ExportJSON, engram.ExportJSONLD, engram.ExportPAM:
		return nil
	}
	return invalid("format must be json, jsonld or pam")
}

// export authorises and validates everything before a byte is written, so
// a refusal is a problem answer; the returned stream then writes and
// audits. Its entry records who, which scope and how many records, never
// content.
func (e *Engine) export(ctx context.Context, op rbac.Op, format string, sc export.Scope) (engram.ExportStream, error) {
	a := e.begin(ctx, engram.AuditMemoryExport, engram.TargetTenant, "")
	fail := func(err error) (engram.ExportStream, error) { return nil, a.finish(err) }
	p, reach, err := a.can(op)
	if err != nil {
		return fail(err)
	}
	if err := checkFormat(format); err != nil {
		return fail(err)
	}
	switch sc.Kind {
	case "tenant":
		a.entry.TargetID = p.TenantID
	case "user":
		if sc.UserID, err = cleanScopeID("user_id", sc.UserID); err != nil {
			return fail(err)
		}
		if sc.UserID == "" {
			return fail(invalid("user_id is required"))
		}
		a.user(sc.UserID)
	case "account":
		sc.Account = p.AccountID
		a.entry.TargetType, a.entry.TargetID = engram.TargetAccount, p.AccountID
	}
	key, err := e.exportKey(ctx, p.TenantID)
	if err != nil {
		return fail(err)
	}
	x := &exporter{e: e, ctx: ctx, tenant: p.TenantID, scope: sc, filter: filterOf(p, reach)}
	if sc.Kind == "account" {
		// Only what the account wrote, private or shared: not what it
		// merely may read.
		x.filter = rbac.Filter{Reach: rbac.Own, AuthorID: p.AccountID}
	}
	return func(w io.Writer) (err error) {
		defer func() { err = a.finish(err) }()
		xw, err := export.NewEncoder(format, w)
		if err != nil {
			return err
		}
		if err := xw.Begin(export.Header{Tenant: p.TenantID, Scope: sc, CreatedAt: e.clock()}); err != nil {
			return err
		}
		if err := x.write(xw); err != nil {
			return err
		}
		if err := xw.Finish(key); err != nil {
			return err
		}
		var n uint64
		for _, c := range xw.Counts() {
			n += uint64(c)
		}
		a.entry.Count = n
		return nil
	}, nil
}

// exporter pages through one scope's records.
type exporter struct {
	e      *Engine
	ctx    context.Context
	tenant string
	scope  export.Scope
	filter rbac.Filter
}

func (x *exporter) write(w export.Encoder) error {
	if err := x.memories(w); err != nil {
		return err
	}
	if x.scope.Kind == "account" {
		return nil
	}
	for _, step := range []func(export.Encoder) error{x.episodes, x.entities, x.facts, x.topics} {
		if err := step(w); err != nil {
			return err
		}
	}
	return nil
}

// exportHistory is one change of a memory, as GET …/history shows it.
type exportHistory = engram.HistoryEntry

// memories writes every memory in scope with its history, a page per read
// transaction, newest first. A memory that can no longer be decrypted is
// left out and counted as unreadable, as everywhere else.
func (x *exporter) memories(w export.Encoder) error {
	scope := engram.Scope{UserID: x.scope.UserID}
	before := ""
	for {
		var rows []store.Memory
		hist := map[string][]store.History{}
		err := x.e.st.Read(x.ctx, func(tx store.Tx) (err error) {
			if rows, err = tx.ListVisibleMemories(x.ctx, x.tenant, scope, x.filter, before, exportPage); err != nil {
				return err
			}
			for i := range rows {
				if hist[rows[i].ID], err = tx.History(x.ctx, x.tenant, rows[i].ID); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || len(rows) == 0 {
			return err
		}
		// A fresh opener per page: its key cache stays a page's subjects.
		o := x.e.opener(x.ctx, x.tenant)
		for i := range rows {
			m, err := o.memory(&rows[i])
			if isUnreadable(err) {
				x.e.skip(x.tenant, "memory", rows[i].ID, err)
				continue
			}
			if err != nil {
				return err
			}
			hs, err := x.history(o, hist[m.ID])
			if err != nil {
				return err
			}
			if err := w.Write(&export.Record{Kind: export.KindMemory, Memory: m, History: hs}); err != nil {
				return err
			}
		}
		before = rows[len(rows)-1].ID
	}
}

func (x *exporter) history(o *opener, rows []store.History) ([]exportHistory, error) {
	out := make([]exportHistory, 0, len(rows))
	for _, h := range rows {
		oldText, err := o.open(h.Subject, historyContext(x.tenant, h.Subject, h.MemoryID, h.ID, "old"), h.Old)
		if err == nil {
			var newText []byte
			newText, err = o.open(h.Subject, historyContext(x.tenant, h.Subject, h.MemoryID, h.ID, "new"), h.New)
			if err == nil {
				out = append(out, exportHistory{MemoryID: h.MemoryID, OldMemory: string(oldText), NewMemory: string(newText), Event: engram.Event(h.Event), CreatedAt: h.CreatedAt})
				continue
			}
		}
		if isUnreadable(err) {
			x.e.skip(x.tenant, "history", h.ID, err)
			continue
		}
		return nil, err
	}
	return out, nil
}

// episodes writes the scope's episodes with their messages (when the
// tenant keeps episode text) and what they made.
func (x *exporter) episodes(w export.Encoder) error {
	before := ""
	for {
		var out []*engram.Episode
		var last string
		err := x.e.st.Read(x.ctx, func(tx store.Tx) error {
			recs, err := tx.ListEpisodes(x.ctx, x.tenant, x.scope.UserID, "", "", before, exportPage)
			if err != nil || len(recs) == 0 {
				return err
			}
			last = recs[len(recs)-1].ID
			r := x.e.reader(x.ctx, tx, x.tenant)
			for i := range recs {
				ep, err := r.episode(&recs[i], false)
				if isUnreadable(err) {
					x.e.skip(x.tenant, "episode", recs[i].ID, err)
					continue
				}
				if err != nil {
					return err
				}
				if ep.Messages, err = r.o.episodeMessages(&recs[i]); err != nil && !isUnreadable(err) {
					return err
				}
				out = append(out, ep)
			}
			return nil
		})
		if err != nil || last == "" {
			return err
		}
		for _, ep := range out {
			if err := w.Write(&export.Record{Kind: export.KindEpisode, Episode: ep}); err != nil {
				return err
			}
		}
		before = last
	}
}

// entities writes the scope's entities (the tenant's shared ones, user
// "", belong to a tenant export only).
func (x *exporter) entities(w export.Encoder) error {
	before := ""
	for {
		var out []engram.Entity
		var last string
		err := x.e.st.Read(x.ctx, func(tx store.Tx) error {
			recs, err := tx.ListEntities(x.ctx, x.tenant, x.scope.UserID, x.scope.UserID == "", "", before, exportPage)
			if err != nil || len(recs) == 0 {
				return err
			}
			last = recs[len(recs)-1].ID
			o := x.e.opener(x.ctx, x.tenant)
			for i := range recs {
				oe, err := o.entity(&recs[i])
				if isUnreadable(err) {
					x.e.skip(x.tenant, "entity", recs[i].ID, err)
					continue
				}
				if err != nil {
					return err
				}
				out = append(out, oe.public())
			}
			return nil
		})
		if err != nil || last == "" {
			return err
		}
		for i := range out {
			if err := w.Write(&export.Record{Kind: export.KindEntity, Entity: &out[i]}); err != nil {
				return err
			}
		}
		before = last
	}
}

// facts writes every fact of the scope, invalidated and expired ones too,
// with their validity: an export keeps the lifecycle.
func (x *exporter) facts(w export.Encoder) error {
	before := ""
	for {
		var out []engram.Fact
		var last string
		err := x.e.st.Read(x.ctx, func(tx store.Tx) error {
			recs, err := tx.ListFacts(x.ctx, x.tenant, store.FactFilter{UserID: x.scope.UserID, AllUsers: x.scope.UserID == "",
				Before: before, Limit: exportPage})
			if err != nil || len(recs) == 0 {
				return err
			}
			last = recs[len(recs)-1].ID
			out, _, err = x.e.reader(x.ctx, tx, x.tenant).facts(recs)
			return err
		})
		if err != nil || last == "" {
			return err
		}
		for i := range out {
			if err := w.Write(&export.Record{Kind: export.KindFact, Fact: &out[i]}); err != nil {
				return err
			}
		}
		before = last
	}
}

// topics writes the topic counts of the scope (a few dozen at most: the
// taxonomy is fixed).
func (x *exporter) topics(w export.Encoder) error {
	b, err := x.e.blinds(x.ctx, x.tenant)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, t := range topics.Taxonomy {
		names[string(b.topicToken(t))] = t
	}
	var cs []store.TopicCount
	if err := x.e.st.Read(x.ctx, func(tx store.Tx) (err error) {
		cs, err = tx.TopicCounts(x.ctx, x.tenant, x.scope.UserID, x.scope.UserID == "")
		return err
	}); err != nil {
		return err
	}
	for _, c := range cs {
		if n, ok := names[string(c.Token)]; ok {
			if err := w.Write(&export.Record{Kind: export.KindTopic, Topic: &engram.TopicCount{Topic: n, Memories: c.Memories}}); err != nil {
				return err
			}
		}
	}
	return nil
}
