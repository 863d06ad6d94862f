package engine

import (
	"context"
	"encoding/json"
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

// Observe stores a conversation as an episode, its turns as memories, and
// what the built-in extractor finds in it as entities and facts.
//
// The turns are written first, by Add (its own transaction, audited as
// memory.create); the episode, entities and facts are written in a second
// transaction that reads and plans inside it, so two concurrent observes of
// one name make one entity. If the second fails the turns stay stored: a
// retry is safe, because identical turns in one scope deduplicate and facts
// already known merge.
func (e *Engine) Observe(ctx context.Context, req engram.ObserveRequest) (_ *engram.Episode, err error) {
	a := e.begin(ctx, engram.AuditEpisodeCreate, engram.TargetEpisode, "")
	defer func() { err = a.finish(err) }()
	p, err := a.authorize(engram.PermMemoriesWrite)
	if err != nil {
		return nil, err
	}
	if req.Scope, err = cleanScope(req.Scope); err != nil {
		return nil, err
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
	if _, err := encodeMetadata(req.Metadata); err != nil {
		return nil, err
	}
	if err := e.roomToGrow(); err != nil {
		return nil, err
	}
	// The turns, as memories: one Add per run of messages sharing a time,
	// so each memory keeps its message's date.
	mems := make([]engram.AddResult, 0, len(msgs))
	for start := 0; start < len(msgs); {
		end := start + 1
		for end < len(msgs) && msgs[end].Timestamp.Equal(*msgs[start].Timestamp) {
			end++
		}
		batch := make([]engram.Message, 0, end-start)
		for _, m := range msgs[start:end] {
			batch = append(batch, engram.Message{Role: m.Role, Content: m.Content})
		}
		key := ""
		if req.IdempotencyKey != "" {
			key = fmt.Sprintf("%s#%d", req.IdempotencyKey, start)
			if len(key) > engram.MaxIdempotencyKey {
				return nil, invalid("Idempotency-Key is longer than %d bytes", engram.MaxIdempotencyKey-8)
			}
		}
		rs, err := e.Add(ctx, engram.AddRequest{Messages: batch, Scope: req.Scope, Metadata: req.Metadata,
			Timestamp: msgs[start].Timestamp, IdempotencyKey: key})
		if err != nil {
			return nil, err
		}
		mems = append(mems, rs...)
		start = end
	}
	if len(mems) != len(msgs) {
		return nil, fmt.Errorf("observe: %d memories for %d messages", len(mems), len(msgs))
	}
	ep := &store.Episode{ID: newID(), TenantID: p.TenantID, UserID: req.Scope.UserID, AgentID: req.Scope.AgentID,
		RunID: req.Scope.RunID, Status: engram.EpisodeDone, Extractor: extractorBuiltin}
	if e.llm != nil {
		if err := e.observePending(ctx, a, p, req.Scope, ep, msgs, mems); err != nil {
			return nil, err
		}
		return &engram.Episode{ID: ep.ID, Status: ep.Status, UserID: ep.UserID, AgentID: ep.AgentID, RunID: ep.RunID,
			Extractor: ep.Extractor, Memories: idsOnly(mems), Entities: []engram.EntityRef{}, Facts: []engram.FactRef{},
			CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt}, nil
	}
	// The built-in extractor is pure and runs before the transaction.
	in := make([]extract.Message, len(msgs))
	for i, m := range msgs {
		in[i] = extract.Message{Role: m.Role, Name: m.Name, Text: m.Content, Time: *m.Timestamp}
	}
	res, err := extract.ExtractConversation(in)
	if err != nil {
		return nil, fmt.Errorf("extract: %w", err)
	}
	plan, err := e.applyObservation(ctx, a, p, req.Scope, ep, msgs, in, res, mems)
	if err != nil {
		return nil, err
	}
	a.entry.TargetID = ep.ID
	out := &engram.Episode{ID: ep.ID, Status: ep.Status, UserID: ep.UserID, AgentID: ep.AgentID, RunID: ep.RunID,
		Extractor: ep.Extractor, Memories: mems, Entities: []engram.EntityRef{}, Facts: []engram.FactRef{},
		CreatedAt: ep.CreatedAt, UpdatedAt: ep.UpdatedAt}
	if !p.Can(engram.PermMemoriesRead) {
		// A write-only key learns ids and events of its own turns, never
		// what the tenant already knew (see docs/SECURITY.md).
		for i := range out.Memories {
			out.Memories[i].Content = ""
		}
		return out, nil
	}
	for _, id := range plan.Order {
		ch := plan.Entities[id]
		ev := engram.EntityMention
		switch {
		case ch.New:
			ev = engram.EntityAdd
		case len(ch.Entity.Aliases) > 0 && ch.Changed:
			ev = engram.EntityUpdate
		}
		out.Entities = append(out.Entities, engram.EntityRef{ID: id, Name: ch.Entity.Name, Type: string(ch.Entity.Type), Event: ev})
	}
	for _, fe := range plan.Events {
		f := plan.Facts[fe.ID]
		out.Facts = append(out.Facts, engram.FactRef{ID: fe.ID, Fact: f.Sentence, Event: string(fe.Event)})
	}
	return out, nil
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

// applyObservation writes the episode and what the extraction means for the
// scope, in one transaction that plans against what it reads.
func (e *Engine) applyObservation(ctx context.Context, a *action, p *engram.Principal, scope engram.Scope, ep *store.Episode,
	msgs []engram.ObserveMessage, in []extract.Message, res extract.Result, mems []engram.AddResult) (*observe.Plan, error) {
	vecs, err := e.factVectors(ctx, res.Facts)
	if err != nil {
		return nil, err
	}
	b, err := e.blinds(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	stored := make([]storedMessage, len(msgs))
	for i, m := range msgs {
		stored[i] = storedMessage{Role: m.Role, Content: m.Content, Name: m.Name, Time: m.Timestamp}
	}
	rawMessages, _ := json.Marshal(stored)
	var plan *observe.Plan
	err = retry(func() error {
		w, err := e.writer(ctx, p.TenantID, subjectOf(scope, p))
		if err != nil {
			return err
		}
		tk, err := e.ring.TenantKey(ctx, p.TenantID)
		if err != nil {
			return keyFailure(err)
		}
		return e.st.Write(ctx, func(tx store.Tx) error {
			if err := w.check(ctx, tx); err != nil {
				return err
			}
			now := e.clock()
			plan, err = e.understand(ctx, tx, w, tk, b, scope, ep.ID, in, res, mems, vecs, now)
			if err != nil {
				return err
			}
			ep.Subject, ep.KeyVersion = w.subject, int(w.key.Version)
			ep.CreatedAt, ep.UpdatedAt, ep.Attempts = now, now, 1
			discard, err := e.discardText(ctx, tx, p.TenantID)
			if err != nil {
				return err
			}
			ep.Messages = nil
			if !discard {
				if ep.Messages, err = w.seal(episodeContext(w.tenant, w.subject, ep.ID), rawMessages); err != nil {
					return err
				}
			}
			ep.Result = encodeEpisodeResult(plan, mems)
			if err := tx.InsertEpisode(ctx, ep); err != nil {
				return err
			}
			a.entry.TargetID = ep.ID
			return a.record(tx)
		})
	})
	return plan, err
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
		ch := plan.Entities[id]
		ev := engram.EntityMention
		if ch.New {
			ev = engram.EntityAdd
		} else if ch.Changed {
			ev = engram.EntityUpdate
		}
		r.Entities = append(r.Entities, idEvent{ID: id, Event: ev})
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
