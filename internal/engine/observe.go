package engine

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/extract"
	"github.com/engram-memory/engram/internal/facts"
	"github.com/engram-memory/engram/internal/observe"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/topics"
)

var (
	_ engram.ObserveService = (*Engine)(nil)
	_ engram.GraphService   = (*Engine)(nil)
)

// extractorBuiltin names the offline extractor in episodes.
const extractorBuiltin = "builtin"

// settingDiscardText is the tenant setting that discards an episode's raw
// messages once extraction has run (data minimisation).
const settingDiscardText = "observe.discard_text"

// episodeResult is what an episode stores of its outcome: ids and events,
// never text.
type episodeResult struct {
	Memories []idemResult `json:"m"`
	Entities []idEvent    `json:"e"`
	Facts    []idEvent    `json:"f"`
	Skipped  int          `json:"s,omitempty"`
}

type idEvent struct {
	ID    string `json:"id"`
	Event string `json:"ev"`
}

// Observe stores a conversation, in one write transaction: its turns as
// memories (as Add stores messages, each with its message's time), the
// episode, and — with the built-in extractor — the entities and facts the
// extraction means for the scope, planned against what the transaction
// reads, so two concurrent observes of one new name make one entity. With
// an LLM extractor the episode is stored pending and workers finish it
// (extraction.go). The whole observe is one episode.create audit entry; the
// episode lists the memories, entities and facts it made.
func (e *Engine) Observe(ctx context.Context, req engram.ObserveRequest) (_ *engram.Episode, err error) {
	a := e.begin(ctx, engram.AuditEpisodeCreate, engram.TargetEpisode, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.Observe)
	if err != nil {
		return nil, err
	}
	if req.Scope, err = cleanScope(req.Scope); err != nil {
		return nil, err
	}
	if err := e.userWritable(ctx, p.TenantID, req.Scope.UserID); err != nil {
		return nil, err
	}
	if len(req.IdempotencyKey) > engram.MaxIdempotencyKey {
		return nil, invalid("Idempotency-Key is longer than %d bytes", engram.MaxIdempotencyKey)
	}
	ref := e.clock()
	if req.Timestamp != nil {
		if err := checkTime("timestamp", *req.Timestamp); err != nil {
			return nil, err
		}
		ref = req.Timestamp.UTC().Truncate(time.Microsecond)
	}
	msgs, err := observeMessages(req.Messages, ref)
	if err != nil {
		return nil, err
	}
	md, err := encodeMetadata(req.Metadata)
	if err != nil {
		return nil, err
	}
	if err := e.roomToGrow(); err != nil {
		return nil, err
	}
	ob := &observation{scope: req.Scope, msgs: msgs, md: md, texts: make([]addText, len(msgs)),
		in: make([]extract.Message, len(msgs))}
	for i, m := range msgs {
		ob.texts[i] = addText{Text: m.Content, Role: m.Role}
		ob.in[i] = extract.Message{Role: m.Role, Name: m.Name, Text: m.Content, Time: *m.Timestamp}
	}
	// Extraction and embedding are the slow parts; they run before the
	// transaction.
	if e.llm == nil {
		if ob.res, err = extract.ExtractConversation(ob.in); err != nil {
			return nil, fmt.Errorf("extract: %w", err)
		}
		if ob.factVecs, err = e.factVectors(ctx, ob.res.Facts); err != nil {
			return nil, err
		}
	}
	if e.vec != nil {
		plain := make([]string, len(msgs))
		for i, m := range msgs {
			plain[i] = m.Content
		}
		if ob.emb, err = e.embedInContext(ctx, p.TenantID, req.Scope, contextFilter(observed(p)), "", *msgs[0].Timestamp, plain); err != nil {
			return nil, err
		}
		ob.vecs = ob.emb.vecs
	}
	if ob.b, err = e.blinds(ctx, p.TenantID); err != nil {
		return nil, err
	}
	// The request as sent: a message without a timestamp takes the time
	// of each attempt, which must not make a retry a different request.
	sent := slices.Clone(msgs)
	for i := range sent {
		sent[i].Timestamp = req.Messages[i].Timestamp
	}
	canon, _ := json.Marshal(struct {
		M []engram.ObserveMessage
		T *time.Time
		S engram.Scope
		D json.RawMessage
	}{sent, req.Timestamp, req.Scope, md})

	kwDone := e.kwBegin(p.TenantID)
	defer e.vecWrite(p.TenantID)()
	epoch := e.vecEpoch(p.TenantID)
	var last *writer
	err = retry(func() error {
		w, err := e.writer(ctx, p.TenantID, subjectOf(req.Scope, p))
		if err != nil {
			return err
		}
		tk, err := e.ring.TenantKey(ctx, p.TenantID)
		if err != nil {
			return keyFailure(err)
		}
		last = w
		var reqHash []byte
		idemKey := ""
		if req.IdempotencyKey != "" {
			reqHash = w.mac([]byte("observe-idempotency"), canon)
			idemKey = w.idempotencyKey("observe\x00" + req.IdempotencyKey)
		}
		return e.st.Write(ctx, func(tx store.Tx) error {
			return e.observeTx(ctx, tx, a, p, w, tk, ob, reqHash, idemKey)
		})
	})
	var kwOps []kwOp
	if err == nil && last != nil {
		for i := range last.added {
			kwOps = append(kwOps, kwOp{doc: &last.added[i]})
		}
	}
	kwDone(kwOps...)
	if err != nil {
		return nil, err
	}
	if ob.vecs != nil {
		for i, r := range ob.mems {
			if r.Event == engram.EventAdd {
				e.indexPut(p.TenantID, r.ID, ob.vecs[i], docMeta{subject: subjectOf(req.Scope, p), scope: req.Scope, created: *msgs[i].Timestamp, rec: observed(p)}, epoch)
				e.ownPut(p.TenantID, ob.emb, i, r.ID, msgs[i].Content)
			}
		}
	}
	if ob.replayed != "" {
		out, err := e.episodeFor(ctx, p, ob.replayed)
		if err == nil && may(p, rbac.MemoryRead) && len(out.Memories) == len(ob.texts) {
			// As the first answer: each turn's text, the retried request's
			// own (the request hash matched), never stored text.
			for i := range out.Memories {
				out.Memories[i].Content = ob.texts[i].Text
			}
		}
		return out, err
	}
	ep := ob.ep
	out := &engram.Episode{ID: ep.ID, Status: ep.Status, UserID: ep.UserID, AgentID: ep.AgentID, RunID: ep.RunID,
		Extractor: ep.Extractor, Memories: idsOnly(ob.mems), Entities: []engram.EntityRef{}, Facts: []engram.FactRef{},
		Attempts: ep.Attempts, CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt}
	if e.llm != nil {
		e.llm.signal()
		return out, nil
	}
	if !may(p, rbac.MemoryRead) {
		// A write-only key learns ids and events of its own turns, never
		// what the tenant already knew (see docs/SECURITY.md).
		return out, nil
	}
	out.Memories = ob.mems
	for _, id := range ob.plan.Order {
		ch := ob.plan.Entities[id]
		out.Entities = append(out.Entities, engram.EntityRef{ID: id, Name: ch.Entity.Name, Type: string(ch.Entity.Type), Event: entityEvent(ch)})
	}
	for _, fe := range ob.plan.Events {
		f := ob.plan.Facts[fe.ID]
		out.Facts = append(out.Facts, engram.FactRef{ID: fe.ID, Fact: f.Sentence, Event: string(fe.Event)})
	}
	return out, nil
}

// observation is one Observe request on its way to the store.
type observation struct {
	scope    engram.Scope
	msgs     []engram.ObserveMessage
	md       []byte
	texts    []addText
	in       []extract.Message
	res      extract.Result
	vecs     [][]float32
	emb      embedded // vecs and the turns' own embeddings (ownPut)
	factVecs map[string][]float32
	b        *blinds

	// Set by observeTx (each attempt afresh).
	mems     []engram.AddResult
	plan     *observe.Plan
	ep       *store.Episode
	replayed string // the episode id an idempotent replay answers with
}

// observeTx is one attempt at Observe's write transaction.
func (e *Engine) observeTx(ctx context.Context, tx store.Tx, a *action, p *engram.Principal, w *writer, tk seal.Key,
	ob *observation, reqHash []byte, idemKey string) error {
	ob.mems, ob.plan, ob.ep, ob.replayed = ob.mems[:0], nil, nil, ""
	w.added = w.added[:0] // a store may run the transaction again
	if err := w.check(ctx, tx); err != nil {
		return err
	}
	now := e.clock()
	if reqHash != nil {
		prev, err := tx.Idempotency(ctx, p.TenantID, idemPrincipal(p), idemKey)
		switch {
		case err == nil && now.Sub(prev.CreatedAt) < idempotencyTTL:
			if !hmac.Equal(prev.RequestHash, reqHash) {
				return engram.Errorf(engram.CodeConflict, "Idempotency-Key was already used with a different request")
			}
			if err := json.Unmarshal(prev.Result, &ob.replayed); err != nil || !validID(ob.replayed) {
				return fmt.Errorf("decode observe idempotency record: %v", err)
			}
			a.entry.TargetID = ob.replayed
			return a.record(tx)
		case err == nil:
			if err := tx.DeleteIdempotencyBefore(ctx, now.Add(-idempotencyTTL)); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
	}
	for i, t := range ob.texts {
		var vec []float32
		if ob.vecs != nil {
			vec = ob.vecs[i]
		}
		r, err := e.addOne(ctx, tx, w, ob.scope, observed(p), t, ob.md, vec, *ob.msgs[i].Timestamp, now, nil, may(p, rbac.MemoryRead))
		if err != nil {
			return err
		}
		ob.mems = append(ob.mems, r)
	}
	ep := &store.Episode{ID: newID(), TenantID: p.TenantID, UserID: ob.scope.UserID, AgentID: ob.scope.AgentID,
		RunID: ob.scope.RunID, Subject: w.subject, KeyVersion: int(w.key.Version), CreatedAt: now, UpdatedAt: now}
	keepText := true
	if e.llm != nil {
		ep.Status, ep.Extractor = engram.EpisodePending, e.llm.opts.Name
		ep.Result = encodeEpisodeResult(&observe.Plan{}, ob.mems)
	} else {
		plan, err := e.understand(ctx, tx, w, tk, ob.b, ob.scope, ep.ID, ob.in, ob.res, ob.mems, ob.factVecs, now)
		if err != nil {
			return err
		}
		ob.plan = plan
		ep.Status, ep.Extractor, ep.Attempts = engram.EpisodeDone, extractorBuiltin, 1
		ep.Result = encodeEpisodeResult(plan, ob.mems)
		discard, err := e.discardText(ctx, tx, p.TenantID)
		if err != nil {
			return err
		}
		keepText = !discard
	}
	if keepText {
		stored := make([]storedMessage, len(ob.msgs))
		for i, m := range ob.msgs {
			stored[i] = storedMessage{Role: m.Role, Content: m.Content, Name: m.Name, Time: m.Timestamp}
		}
		raw, _ := json.Marshal(stored)
		var err error
		if ep.Messages, err = w.seal(episodeContext(w.tenant, w.subject, ep.ID), raw); err != nil {
			return err
		}
	}
	if err := tx.InsertEpisode(ctx, ep); err != nil {
		return err
	}
	ob.ep = ep
	if reqHash != nil {
		id, _ := json.Marshal(ep.ID)
		if err := tx.PutIdempotency(ctx, &store.Idempotency{TenantID: p.TenantID, Principal: idemPrincipal(p), Key: idemKey,
			RequestHash: reqHash, Result: id, CreatedAt: now}); err != nil {
			return err
		}
	}
	// Last: in fail-closed mode the entry leaves for the sinks here.
	a.entry.TargetID = ep.ID
	return a.record(tx)
}

// episodeFor answers a replayed observe with the episode as it stands,
// without its own audit entry (the replay was recorded); a write-only key
// gets ids and events only.
func (e *Engine) episodeFor(ctx context.Context, p *engram.Principal, id string) (*engram.Episode, error) {
	var out *engram.Episode
	err := e.st.Read(ctx, func(tx store.Tx) error {
		rec, err := tx.Episode(ctx, p.TenantID, id)
		if err != nil {
			return notFound(err, "episode")
		}
		out, err = e.reader(ctx, tx, p.TenantID).episode(rec, may(p, rbac.MemoryRead))
		return err
	})
	if out != nil {
		out.Messages = nil
	}
	return out, err
}

func entityEvent(ch *observe.EntityChange) string {
	switch {
	case ch.New:
		return engram.EntityAdd
	case ch.Renamed:
		return engram.EntityUpdate
	}
	return engram.EntityMention
}

// idsOnly is the memories of an answer without their text.
func idsOnly(mems []engram.AddResult) []engram.AddResult {
	out := make([]engram.AddResult, len(mems))
	for i, m := range mems {
		out[i] = engram.AddResult{ID: m.ID, Event: m.Event}
	}
	return out
}

// observeMessages validates a conversation and gives every message a time.
func observeMessages(ms []engram.ObserveMessage, ref time.Time) ([]engram.ObserveMessage, error) {
	if len(ms) == 0 {
		return nil, invalid("messages must hold at least one message")
	}
	if len(ms) > engram.MaxMessages {
		return nil, invalid("at most %d messages per request", engram.MaxMessages)
	}
	out := make([]engram.ObserveMessage, len(ms))
	for i, m := range ms {
		if m.Role == "" {
			return nil, invalid("messages[%d].role is required", i)
		}
		if len(m.Role) > 32 {
			return nil, invalid("messages[%d].role is longer than 32 bytes", i)
		}
		if err := checkID(fmt.Sprintf("messages[%d].role", i), m.Role); err != nil {
			return nil, err
		}
		c, err := cleanText(fmt.Sprintf("messages[%d].content", i), m.Content)
		if err != nil {
			return nil, err
		}
		name, err := cleanName(fmt.Sprintf("messages[%d].name", i), m.Name, false)
		if err != nil {
			return nil, err
		}
		at := ref
		if m.Timestamp != nil {
			if err := checkTime(fmt.Sprintf("messages[%d].timestamp", i), *m.Timestamp); err != nil {
				return nil, err
			}
			at = m.Timestamp.UTC().Truncate(time.Microsecond)
		}
		out[i] = engram.ObserveMessage{Role: m.Role, Content: c, Name: name, Timestamp: &at}
	}
	return out, nil
}

// cleanName validates an entity name, alias or speaker name.
func cleanName(field, s string, required bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("%s must be valid UTF-8", field)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		if required {
			return "", invalid("%s is required", field)
		}
		return "", nil
	}
	if len(s) > engram.MaxNameBytes {
		return "", invalid("%s is longer than %d bytes", field, engram.MaxNameBytes)
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", invalid("%s must not contain control characters", field)
	}
	if required && entity.Normalise(s) == "" {
		return "", invalid("%s must contain a word", field)
	}
	return s, nil
}

// speakerOf names who first-person statements without a speaker name are
// about: the scope's user, else "user".
func speakerOf(scope engram.Scope) string {
	if scope.UserID != "" {
		return scope.UserID
	}
	return "user"
}

// understand plans what an extraction means for the scope against what the
// transaction reads, and stores it: entities, facts, mentions, topics.
func (e *Engine) understand(ctx context.Context, tx store.Tx, w *writer, tk seal.Key, b *blinds, scope engram.Scope,
	episodeID string, in []extract.Message, res extract.Result, mems []engram.AddResult, vecs map[string][]float32,
	now time.Time) (*observe.Plan, error) {
	g := &txGraph{e: e, ctx: ctx, tx: tx, tenant: w.tenant, user: scope.UserID, b: b, o: e.opener(ctx, w.tenant),
		entities: map[string]*openedEntity{}, facts: map[string]*openedFact{}}
	plan, err := observe.Build(g, observe.Input{Episode: episodeID, Messages: in, Result: res, Speaker: speakerOf(scope),
		Now: now, NewID: newID, Table: facts.DefaultTable()})
	if err != nil {
		return nil, err
	}
	var ms []store.EntityMention
	for i, ids := range plan.Mentions {
		if i < 0 || i >= len(mems) {
			continue
		}
		for _, id := range ids {
			ms = append(ms, store.EntityMention{EntityID: id, MemoryID: mems[i].ID})
		}
	}
	if err := g.store(w, tk, plan, scope, now, vecs, ms); err != nil {
		return nil, err
	}
	if err := e.labelTopics(ctx, tx, b, w.tenant, scope.UserID, in, res, mems); err != nil {
		return nil, err
	}
	return plan, nil
}

func encodeEpisodeResult(plan *observe.Plan, mems []engram.AddResult) []byte {
	r := episodeResult{Skipped: plan.Skipped}
	for _, m := range mems {
		r.Memories = append(r.Memories, idemResult{ID: m.ID, Event: m.Event})
	}
	for _, id := range plan.Order {
		r.Entities = append(r.Entities, idEvent{ID: id, Event: entityEvent(plan.Entities[id])})
	}
	for _, fe := range plan.Events {
		r.Facts = append(r.Facts, idEvent{ID: fe.ID, Event: string(fe.Event)})
	}
	b, _ := json.Marshal(r)
	return b
}

// discardText reads the tenant's data minimisation setting.
func (e *Engine) discardText(ctx context.Context, tx store.Tx, tenantID string) (bool, error) {
	v, err := tx.TenantSetting(ctx, tenantID, settingDiscardText)
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return v == "true", nil
}

// factVectors embeds the sentences of candidate facts, once each, before
// the transaction (embedding is the slow part and needs no lock).
func (e *Engine) factVectors(ctx context.Context, fs []extract.Fact) (map[string][]float32, error) {
	out := map[string][]float32{}
	if e.vec == nil {
		return out, nil
	}
	var texts []string
	for _, f := range fs {
		if _, ok := out[f.Sentence]; !ok && f.Sentence != "" {
			out[f.Sentence] = nil
			texts = append(texts, f.Sentence)
		}
	}
	if len(texts) == 0 {
		return out, nil
	}
	vs, err := e.embedTexts(ctx, texts)
	if err != nil {
		return nil, err
	}
	for i, t := range texts {
		out[t] = vs[i]
	}
	return out, nil
}

// labelTopics labels each turn's memory with the topics internal/topics
// finds in it, as blind tokens.
func (e *Engine) labelTopics(ctx context.Context, tx store.Tx, b *blinds, tenantID, userID string, in []extract.Message,
	res extract.Result, mems []engram.AddResult) error {
	for i, m := range in {
		var fs []extract.Fact
		for _, f := range res.Facts {
			if f.Message == i {
				fs = append(fs, f)
			}
		}
		var ments []extract.Mention
		for _, mm := range res.Entities {
			if mm.Message == i {
				ments = append(ments, mm)
			}
		}
		ts := topics.Label(m.Text, fs, ments)
		if len(ts) == 0 {
			continue
		}
		toks := make([][]byte, len(ts))
		for j, t := range ts {
			toks[j] = b.topicToken(t.Name)
		}
		if err := tx.SetTopics(ctx, tenantID, mems[i].ID, userID, toks); err != nil {
			return err
		}
	}
	return nil
}

// txGraph is observe.Graph over one write transaction: it opens the
// scope's stored entities and facts and keeps what it opened, so the plan
// can be stored without opening them again.
type txGraph struct {
	e        *Engine
	ctx      context.Context
	tx       store.Tx
	tenant   string
	user     string
	b        *blinds
	o        *opener
	entities map[string]*openedEntity
	facts    map[string]*openedFact
}

func (g *txGraph) Candidates(name string) ([]entity.Entity, error) {
	ids, err := g.tx.EntitiesByKeys(g.ctx, g.tenant, g.user, g.b.nameTokens(name))
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		if _, ok := g.entities[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		recs, err := g.tx.Entities(g.ctx, g.tenant, missing)
		if err != nil {
			return nil, err
		}
		for i := range recs {
			oe, err := g.o.entity(&recs[i])
			if isUnreadable(err) {
				g.e.skip(g.tenant, "entity", recs[i].ID, err)
				continue
			}
			if err != nil {
				return nil, err
			}
			g.entities[oe.rec.ID] = oe
		}
	}
	out := make([]entity.Entity, 0, len(ids))
	for _, id := range ids {
		if oe, ok := g.entities[id]; ok {
			out = append(out, oe.rules())
		}
	}
	return out, nil
}

func (g *txGraph) Facts(entityID string) ([]facts.Fact, error) {
	recs, err := g.tx.FactsOf(g.ctx, g.tenant, []string{entityID})
	if err != nil {
		return nil, err
	}
	var out []facts.Fact
	for i := range recs {
		if recs[i].SubjectEntity != entityID {
			continue
		}
		of, ok := g.facts[recs[i].ID]
		if !ok {
			of, err = g.o.fact(&recs[i])
			if isUnreadable(err) {
				g.e.skip(g.tenant, "fact", recs[i].ID, err)
				continue
			}
			if err != nil {
				return nil, err
			}
			g.facts[of.rec.ID] = of
		}
		out = append(out, of.rules())
	}
	return out, nil
}

// store writes a plan: new and changed entities, new and changed facts,
// and the mentions.
func (g *txGraph) store(w *writer, tk seal.Key, plan *observe.Plan, scope engram.Scope, now time.Time,
	vecs map[string][]float32, ms []store.EntityMention) error {
	for _, id := range plan.Order {
		ch := plan.Entities[id]
		if ch.New {
			if err := g.insertEntity(tk, ch.Entity, "", now); err != nil {
				return err
			}
			continue
		}
		if ch.Changed {
			if err := g.updateEntity(ch.Entity, now); err != nil {
				return err
			}
		}
	}
	ids := make([]string, 0, len(plan.Facts))
	for id := range plan.Facts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		f := plan.Facts[id]
		if plan.NewFacts[id] {
			if err := g.insertFact(w, scope, f, vecs[f.Sentence]); err != nil {
				return err
			}
			continue
		}
		of, ok := g.facts[id]
		if !ok {
			return fmt.Errorf("observe: changed fact %s was not opened", id)
		}
		rec := of.rec
		rec.ValidAt, rec.InvalidAt, rec.ExpiredAt, rec.Episodes = f.ValidAt, f.InvalidAt, f.ExpiredAt, f.Episodes
		if err := g.tx.UpdateFact(g.ctx, &rec); err != nil {
			return err
		}
		of.rec = rec
	}
	if len(ms) > 0 {
		return g.tx.AddMentions(g.ctx, g.tenant, ms)
	}
	return nil
}

func (g *txGraph) insertEntity(tk seal.Key, ent entity.Entity, label string, now time.Time) error {
	k, err := g.e.newEntityKey(g.ctx, g.tx, tk, g.tenant, ent.ID)
	if err != nil {
		return err
	}
	rec := &store.Entity{ID: ent.ID, TenantID: g.tenant, UserID: g.user, Type: string(ent.Type), Mentions: ent.Mentions,
		CreatedAt: now, UpdatedAt: now}
	body := entityBody{Name: ent.Name, Aliases: ent.Aliases, Label: label}
	if err := g.e.sealEntity(k, rec, body); err != nil {
		return err
	}
	if err := g.tx.InsertEntity(g.ctx, rec, g.b.entityTokens(ent)); err != nil {
		return err
	}
	g.entities[ent.ID] = &openedEntity{rec: *rec, body: body}
	return nil
}

func (g *txGraph) updateEntity(ent entity.Entity, now time.Time) error {
	oe, ok := g.entities[ent.ID]
	if !ok {
		return fmt.Errorf("observe: changed entity %s was not opened", ent.ID)
	}
	k, err := g.e.entityKey(g.ctx, g.tx, g.tenant, ent.ID)
	if err != nil {
		return err
	}
	rec := oe.rec
	rec.Type, rec.Mentions, rec.UpdatedAt = string(ent.Type), ent.Mentions, now
	body := oe.body
	body.Name, body.Aliases = ent.Name, ent.Aliases
	if err := g.e.sealEntity(k, &rec, body); err != nil {
		return err
	}
	if err := g.tx.UpdateEntity(g.ctx, &rec, g.b.entityTokens(ent)); err != nil {
		return err
	}
	g.entities[ent.ID] = &openedEntity{rec: rec, body: body}
	return nil
}

func (g *txGraph) insertFact(w *writer, scope engram.Scope, f facts.Fact, vec []float32) error {
	rec := &store.Fact{ID: f.ID, TenantID: g.tenant, UserID: scope.UserID, AgentID: scope.AgentID, RunID: scope.RunID,
		SubjectEntity: f.Subject, ObjectEntity: f.Object, PredicateTok: g.b.predicateToken(f.Predicate),
		Episodes: f.Episodes, ValidAt: f.ValidAt, InvalidAt: f.InvalidAt, CreatedAt: f.CreatedAt, ExpiredAt: f.ExpiredAt}
	body := factBody{Predicate: f.Predicate, Value: f.Value, Sentence: f.Sentence}
	if err := w.sealFact(rec, body, vec); err != nil {
		return err
	}
	if err := g.tx.InsertFact(g.ctx, rec); err != nil {
		return err
	}
	g.facts[f.ID] = &openedFact{rec: *rec, body: body}
	return nil
}

// SetDiscardEpisodeText sets a tenant's data minimisation (operator, CLI):
// when on, an episode's raw messages are discarded once extraction has run.
func (e *Engine) SetDiscardEpisodeText(ctx context.Context, name string, on bool) (err error) {
	t, err := e.TenantByName(ctx, name)
	if err != nil {
		return err
	}
	defer func() { err = e.operator(ctx, t.ID, engram.AuditTenantSetting, engram.TargetTenant, t.ID, err) }()
	return e.st.Write(ctx, func(tx store.Tx) error {
		return tx.PutTenantSetting(ctx, t.ID, settingDiscardText, fmt.Sprint(on))
	})
}
