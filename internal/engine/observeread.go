package engine

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/facts"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/topics"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// beginOne starts the audited action on one record by id: the principal
// must hold perm, and an id Engram never issues is not_found (what names
// the record kind) without touching the store. Call a.finish always.
func (e *Engine) beginOne(ctx context.Context, act engram.AuditAction, targetType, id string, op rbac.Op, what string) (*action, *engram.Principal, error) {
	a := e.begin(ctx, act, targetType, id)
	p, _, err := a.can(op)
	if err == nil && !validID(id) {
		err = engram.Errorf(engram.CodeNotFound, "%s not found", what)
	}
	return a, p, err
}

// reader opens Observe's records of one tenant within one read
// transaction, each entity once.
type reader struct {
	e        *Engine
	ctx      context.Context
	tx       store.Tx
	tenant   string
	o        *opener
	entities map[string]*openedEntity
}

func (e *Engine) reader(ctx context.Context, tx store.Tx, tenantID string) *reader {
	return &reader{e: e, ctx: ctx, tx: tx, tenant: tenantID, o: e.opener(ctx, tenantID), entities: map[string]*openedEntity{}}
}

// load opens the entities among ids not opened yet; unreadable ones are
// skipped (and counted), missing ones left out.
func (r *reader) load(ids []string) error {
	var missing []string
	for _, id := range ids {
		if _, ok := r.entities[id]; !ok && id != "" && !slices.Contains(missing, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	recs, err := r.tx.Entities(r.ctx, r.tenant, missing)
	if err != nil {
		return err
	}
	for i := range recs {
		oe, err := r.o.entity(&recs[i])
		if isUnreadable(err) {
			r.e.skip(r.tenant, "entity", recs[i].ID, err)
			continue
		}
		if err != nil {
			return err
		}
		r.entities[oe.rec.ID] = oe
	}
	return nil
}

func (r *reader) ref(id string) engram.EntityRef {
	if oe, ok := r.entities[id]; ok {
		return engram.EntityRef{ID: id, Name: oe.body.Name, Type: oe.rec.Type}
	}
	return engram.EntityRef{ID: id}
}

// facts opens stored facts and names their entities.
func (r *reader) facts(recs []store.Fact) ([]engram.Fact, []*openedFact, error) {
	var ids []string
	opened := make([]*openedFact, 0, len(recs))
	for i := range recs {
		of, err := r.o.fact(&recs[i])
		if isUnreadable(err) {
			r.e.skip(r.tenant, "fact", recs[i].ID, err)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		opened = append(opened, of)
		ids = append(ids, of.rec.SubjectEntity, of.rec.ObjectEntity)
	}
	if err := r.load(ids); err != nil {
		return nil, nil, err
	}
	out := make([]engram.Fact, len(opened))
	for i, of := range opened {
		out[i] = r.public(of)
	}
	return out, opened, nil
}

func (r *reader) public(of *openedFact) engram.Fact {
	f := engram.Fact{ID: of.rec.ID, Fact: of.body.Sentence, Subject: r.ref(of.rec.SubjectEntity), Predicate: of.body.Predicate,
		Value: of.body.Value, ValidAt: of.rec.ValidAt, InvalidAt: of.rec.InvalidAt, CreatedAt: of.rec.CreatedAt,
		ExpiredAt: of.rec.ExpiredAt, Episodes: slices.Clone(of.rec.Episodes), UserID: of.rec.UserID}
	if f.Episodes == nil {
		f.Episodes = []string{}
	}
	if of.rec.ObjectEntity != "" {
		ref := r.ref(of.rec.ObjectEntity)
		f.Object = &ref
	}
	return f
}

// Episode returns one episode and what it made, as things stand now
// (entities and facts deleted since are left out).
func (e *Engine) Episode(ctx context.Context, id string) (_ *engram.Episode, err error) {
	a, p, err := e.beginOne(ctx, engram.AuditEpisodeRead, engram.TargetEpisode, id, rbac.GraphRead, "episode")
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, err
	}
	var out *engram.Episode
	err = e.st.Read(ctx, func(tx store.Tx) error {
		rec, err := tx.Episode(ctx, p.TenantID, id)
		if err != nil {
			return notFound(err, "episode")
		}
		r := e.reader(ctx, tx, p.TenantID)
		out, err = r.episode(rec, true)
		return err
	})
	return out, err
}

func (r *reader) episode(rec *store.Episode, full bool) (*engram.Episode, error) {
	out := &engram.Episode{ID: rec.ID, Status: rec.Status, UserID: rec.UserID, AgentID: rec.AgentID, RunID: rec.RunID,
		Extractor: rec.Extractor, Attempts: rec.Attempts, CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt,
		Memories: []engram.AddResult{}, Entities: []engram.EntityRef{}, Facts: []engram.FactRef{}}
	if rec.ErrorCode != "" {
		out.Error = &engram.EpisodeError{Code: rec.ErrorCode, Message: episodeErrorMessage(rec.ErrorCode)}
	}
	var res episodeResult
	if err := json.Unmarshal(rec.Result, &res); err != nil {
		return nil, &unreadable{err}
	}
	for _, m := range res.Memories {
		out.Memories = append(out.Memories, engram.AddResult{ID: m.ID, Event: m.Event})
	}
	if !full {
		return out, nil
	}
	ids := make([]string, 0, len(res.Entities))
	for _, en := range res.Entities {
		ids = append(ids, en.ID)
	}
	if err := r.load(ids); err != nil {
		return nil, err
	}
	for _, en := range res.Entities {
		if oe, ok := r.entities[en.ID]; ok {
			out.Entities = append(out.Entities, engram.EntityRef{ID: en.ID, Name: oe.body.Name, Type: oe.rec.Type, Event: en.Event})
		}
	}
	for _, fe := range res.Facts {
		rec, err := r.tx.Fact(r.ctx, r.tenant, fe.ID)
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		of, err := r.o.fact(rec)
		if isUnreadable(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Facts = append(out.Facts, engram.FactRef{ID: fe.ID, Fact: of.body.Sentence, Event: fe.Event})
	}
	msgs, err := r.o.episodeMessages(rec)
	if err != nil && !isUnreadable(err) {
		return nil, err
	}
	out.Messages = msgs
	return out, nil
}

// episodeErrorMessage explains an extraction failure code without quoting
// anything of the conversation.
func episodeErrorMessage(code string) string {
	switch code {
	case "extractor_unavailable":
		return "the LLM extractor could not be reached; extraction will be retried"
	case "extractor_invalid_output":
		return "the LLM extractor answered something that is not a valid extraction"
	case "extractor_budget":
		return "the tenant's extraction budget is spent"
	case "extractor_timeout":
		return "the LLM extractor did not answer in time"
	}
	return "extraction failed"
}

// Episodes lists episodes of a scope, newest first.
func (e *Engine) Episodes(ctx context.Context, scope engram.Scope, cursor string, limit int) (_ []engram.Episode, next string, err error) {
	a := e.begin(ctx, engram.AuditEpisodeRead, engram.TargetEpisode, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.GraphRead)
	if err != nil {
		return nil, "", err
	}
	if scope, err = cleanScope(scope); err != nil {
		return nil, "", err
	}
	if limit, err = pageLimit(limit, engram.DefaultListLimit, engram.MaxListLimit); err != nil {
		return nil, "", err
	}
	if cursor != "" && !validID(cursor) {
		return nil, "", invalid("cursor is not valid")
	}
	out := []engram.Episode{}
	err = e.st.Read(ctx, func(tx store.Tx) error {
		recs, err := tx.ListEpisodes(ctx, p.TenantID, scope.UserID, scope.AgentID, scope.RunID, cursor, limit+1)
		if err != nil {
			return err
		}
		if len(recs) > limit {
			recs = recs[:limit]
			next = recs[limit-1].ID
		}
		r := e.reader(ctx, tx, p.TenantID)
		for i := range recs {
			ep, err := r.episode(&recs[i], false)
			if err != nil {
				return err
			}
			out = append(out, *ep)
		}
		return nil
	})
	return out, next, err
}

// ListEntities lists the entities of a user (every user when UserID is
// empty), newest first; Query finds entities by name as resolution does
// (exact, alias, fuzzy and near names).
func (e *Engine) ListEntities(ctx context.Context, q engram.EntityQuery) (_ *engram.EntityList, err error) {
	a := e.begin(ctx, engram.AuditEntityRead, engram.TargetEntity, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.GraphRead)
	if err != nil {
		return nil, err
	}
	if q.UserID, err = cleanScopeID("user_id", q.UserID); err != nil {
		return nil, err
	}
	if q.Limit, err = pageLimit(q.Limit, engram.DefaultListLimit, engram.MaxEntityLimit); err != nil {
		return nil, err
	}
	if q.Cursor != "" && !validID(q.Cursor) {
		return nil, invalid("cursor is not valid")
	}
	if q.Type != "" && string(entity.ParseType(q.Type)) != strings.ToLower(q.Type) {
		return nil, invalid("type must be one of person, organisation, place, product, pet, event, other")
	}
	if q.Query != "" {
		if q.Query, err = cleanName("query", q.Query, true); err != nil {
			return nil, err
		}
	}
	out := &engram.EntityList{Results: []engram.Entity{}}
	err = e.st.Read(ctx, func(tx store.Tx) error {
		r := e.reader(ctx, tx, p.TenantID)
		if q.Query != "" {
			return e.findEntities(ctx, r, p.TenantID, q, out)
		}
		recs, err := tx.ListEntities(ctx, p.TenantID, q.UserID, q.UserID == "", strings.ToLower(q.Type), q.Cursor, q.Limit+1)
		if err != nil {
			return err
		}
		if len(recs) > q.Limit {
			recs = recs[:q.Limit]
			out.NextCursor = recs[q.Limit-1].ID
		}
		for i := range recs {
			oe, err := r.o.entity(&recs[i])
			if isUnreadable(err) {
				e.skip(p.TenantID, "entity", recs[i].ID, err)
				continue
			}
			if err != nil {
				return err
			}
			out.Results = append(out.Results, oe.public())
		}
		return nil
	})
	return out, err
}

// findEntities answers a name query through the blind index: the
// candidates a mention of that name would be compared with, exact matches
// first. Without user_id it searches the tenant's shared entities ("").
func (e *Engine) findEntities(ctx context.Context, r *reader, tenantID string, q engram.EntityQuery, out *engram.EntityList) error {
	b, err := e.blinds(ctx, tenantID)
	if err != nil {
		return err
	}
	ids, err := r.tx.EntitiesByKeys(ctx, tenantID, q.UserID, b.nameTokens(q.Query))
	if err != nil {
		return err
	}
	if err := r.load(ids); err != nil {
		return err
	}
	key := entity.Normalise(q.Query)
	var exact, rest []engram.Entity
	for _, id := range ids {
		oe, ok := r.entities[id]
		if !ok || (q.Type != "" && oe.rec.Type != strings.ToLower(q.Type)) {
			continue
		}
		if entity.Normalise(oe.body.Name) == key || slices.ContainsFunc(oe.body.Aliases, func(s string) bool { return entity.Normalise(s) == key }) {
			exact = append(exact, oe.public())
		} else {
			rest = append(rest, oe.public())
		}
	}
	out.Results = append(exact, rest...)
	if len(out.Results) > q.Limit {
		out.Results = out.Results[:q.Limit]
	}
	return nil
}

// GetEntity returns one entity with its facts (current and past).
func (e *Engine) GetEntity(ctx context.Context, id string) (_ *engram.Entity, err error) {
	a, p, err := e.beginOne(ctx, engram.AuditEntityRead, engram.TargetEntity, id, rbac.GraphRead, "entity")
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, err
	}
	var out *engram.Entity
	err = e.st.Read(ctx, func(tx store.Tx) error {
		r := e.reader(ctx, tx, p.TenantID)
		rec, err := tx.Entity(ctx, p.TenantID, id)
		if err != nil {
			return notFound(err, "entity")
		}
		oe, err := r.o.entity(rec)
		if isUnreadable(err) {
			return engram.Errorf(engram.CodeUnreadable, "entity cannot be decrypted")
		}
		if err != nil {
			return err
		}
		r.entities[id] = oe
		pub := oe.public()
		recs, err := tx.FactsOf(ctx, p.TenantID, []string{id})
		if err != nil {
			return err
		}
		fs, _, err := r.facts(recs)
		if err != nil {
			return err
		}
		pub.Facts = []engram.Fact{}
		for _, f := range fs {
			if f.Predicate == engram.PredicateObservation && f.Subject.ID == id {
				if f.InvalidAt == nil && f.ExpiredAt == nil {
					pub.Observations = append(pub.Observations, f.Value)
				}
				continue
			}
			pub.Facts = append(pub.Facts, f)
		}
		out = &pub
		return nil
	})
	return out, err
}

// Facts lists facts: current ones unless IncludeInvalid or AsOf.
func (e *Engine) Facts(ctx context.Context, q engram.FactQuery) (_ []engram.Fact, err error) {
	a := e.begin(ctx, engram.AuditFactRead, engram.TargetFact, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.GraphRead)
	if err != nil {
		return nil, err
	}
	if q.UserID, err = cleanScopeID("user_id", q.UserID); err != nil {
		return nil, err
	}
	if q.Limit, err = pageLimit(q.Limit, engram.DefaultFactLimit, engram.MaxFactLimit); err != nil {
		return nil, err
	}
	if q.EntityID != "" && !validID(q.EntityID) {
		return nil, invalid("entity_id is not valid")
	}
	if q.AsOf != nil {
		if err := checkTime("as_of", *q.AsOf); err != nil {
			return nil, err
		}
	}
	if q.Predicate != "" && len(q.Predicate) > engram.MaxPredicateBytes {
		return nil, invalid("predicate is longer than %d bytes", engram.MaxPredicateBytes)
	}
	var b *blinds
	if q.Predicate != "" {
		if b, err = e.blinds(ctx, p.TenantID); err != nil {
			return nil, err
		}
	}
	var out []engram.Fact
	err = e.st.Read(ctx, func(tx store.Tx) error {
		f := store.FactFilter{UserID: q.UserID, AllUsers: q.UserID == "", EntityID: q.EntityID,
			Current: !q.IncludeInvalid && q.AsOf == nil, TrueAt: q.AsOf, Limit: q.Limit}
		if b != nil {
			f.PredicateTok = b.predicateToken(q.Predicate)
		}
		recs, err := tx.ListFacts(ctx, p.TenantID, f)
		if err != nil {
			return err
		}
		if q.AsOf != nil {
			t := q.AsOf.UTC()
			recs = slices.DeleteFunc(recs, func(r store.Fact) bool {
				return !(facts.Fact{ValidAt: r.ValidAt, InvalidAt: r.InvalidAt}).TrueAt(t)
			})
		}
		if len(recs) > q.Limit {
			recs = recs[:q.Limit]
		}
		out, _, err = e.reader(ctx, tx, p.TenantID).facts(recs)
		return err
	})
	if out == nil {
		out = []engram.Fact{}
	}
	return out, err
}

// SearchFacts ranks the facts of a user (every user when empty) against a
// query: cosine similarity of the query and each fact's sentence when a
// model is loaded, plus the share of the query's words the fact holds.
// It scans up to maxFactScan facts; see docs/OBSERVE.md.
func (e *Engine) SearchFacts(ctx context.Context, q engram.FactSearch) (_ []engram.Fact, err error) {
	a := e.begin(ctx, engram.AuditFactRead, engram.TargetFact, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.GraphRead)
	if err != nil {
		return nil, err
	}
	if q.UserID, err = cleanScopeID("user_id", q.UserID); err != nil {
		return nil, err
	}
	if q.Limit, err = pageLimit(q.Limit, engram.DefaultSearchLimit, engram.MaxSearchLimit); err != nil {
		return nil, err
	}
	query, err := cleanText("query", q.Query)
	if err != nil {
		return nil, err
	}
	if len(query) > engram.MaxQueryBytes {
		return nil, invalid("query is longer than %d bytes", engram.MaxQueryBytes)
	}
	if q.AsOf != nil {
		if err := checkTime("as_of", *q.AsOf); err != nil {
			return nil, err
		}
	}
	var qv []float32
	if e.vec != nil {
		vs, err := e.embedTexts(ctx, []string{query})
		if err != nil {
			return nil, err
		}
		qv = vs[0]
	}
	var out []engram.Fact
	err = e.st.Read(ctx, func(tx store.Tx) error {
		recs, err := tx.ListFacts(ctx, p.TenantID, store.FactFilter{UserID: q.UserID, AllUsers: q.UserID == "",
			Current: q.AsOf == nil, TrueAt: q.AsOf, Limit: maxFactScan})
		if err != nil {
			return err
		}
		if q.AsOf != nil {
			t := q.AsOf.UTC()
			recs = slices.DeleteFunc(recs, func(r store.Fact) bool {
				return !(facts.Fact{ValidAt: r.ValidAt, InvalidAt: r.InvalidAt}).TrueAt(t)
			})
		}
		r := e.reader(ctx, tx, p.TenantID)
		fs, opened, err := r.facts(recs)
		if err != nil {
			return err
		}
		words := queryWords(query)
		type scored struct {
			f engram.Fact
			s float64
		}
		var hits []scored
		for i, of := range opened {
			text := strings.ToLower(strings.Join([]string{fs[i].Subject.Name, of.body.Predicate, objectName(fs[i]), of.body.Sentence}, " "))
			lex := 0.0
			if len(words) > 0 {
				n := 0
				for _, w := range words {
					if strings.Contains(text, w) {
						n++
					}
				}
				lex = float64(n) / float64(len(words))
			}
			sem := 0.0
			if qv != nil {
				v, err := r.o.factVector(&of.rec)
				if err == nil && v != nil {
					sem = math.Max(0, cosine(qv, v))
				}
			}
			s := lex
			if qv != nil {
				s = (lex + math.Min(1, sem/0.7)) / 2
			}
			if s > 0 {
				hits = append(hits, scored{fs[i], s})
			}
		}
		slices.SortStableFunc(hits, func(a, b scored) int {
			switch {
			case a.s > b.s:
				return -1
			case a.s < b.s:
				return 1
			}
			return strings.Compare(b.f.ID, a.f.ID)
		})
		for i, h := range hits {
			if i == q.Limit {
				break
			}
			s := math.Round(h.s*1e4) / 1e4
			h.f.Score = &s
			out = append(out, h.f)
		}
		return nil
	})
	if out == nil {
		out = []engram.Fact{}
	}
	return out, err
}

// maxFactScan bounds the facts one fact search opens.
const maxFactScan = 5000

func objectName(f engram.Fact) string {
	if f.Object != nil {
		return f.Object.Name
	}
	return f.Value
}

// queryWords are the query's lower-case words of three letters or more.
func queryWords(q string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(q), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127)
	}) {
		if len(w) >= 3 && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

func cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// GetFact returns one fact.
func (e *Engine) GetFact(ctx context.Context, id string) (_ *engram.Fact, err error) {
	a, p, err := e.beginOne(ctx, engram.AuditFactRead, engram.TargetFact, id, rbac.GraphRead, "fact")
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, err
	}
	return e.readFact(ctx, p.TenantID, id)
}

// Topics counts the memories of a user per topic (every user when empty).
func (e *Engine) Topics(ctx context.Context, userID string) (_ []engram.TopicCount, err error) {
	a := e.begin(ctx, engram.AuditMemoryList, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.GraphRead)
	if err != nil {
		return nil, err
	}
	if userID, err = cleanScopeID("user_id", userID); err != nil {
		return nil, err
	}
	b, err := e.blinds(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, t := range topics.Taxonomy {
		names[string(b.topicToken(t))] = t
	}
	out := []engram.TopicCount{}
	err = e.st.Read(ctx, func(tx store.Tx) error {
		cs, err := tx.TopicCounts(ctx, p.TenantID, userID, userID == "")
		if err != nil {
			return err
		}
		for _, c := range cs {
			if n, ok := names[string(c.Token)]; ok {
				out = append(out, engram.TopicCount{Topic: n, Memories: c.Memories})
			}
		}
		return nil
	})
	slices.SortFunc(out, func(a, b engram.TopicCount) int {
		if a.Memories != b.Memories {
			return b.Memories - a.Memories
		}
		return strings.Compare(a.Topic, b.Topic)
	})
	return out, err
}

// Patterns detects what recurs across the episodes of a user's facts
// (internal/topics): computed on request from the facts, so a pattern
// never outlives the facts it rests on.
func (e *Engine) Patterns(ctx context.Context, userID string) (_ []engram.Pattern, err error) {
	a := e.begin(ctx, engram.AuditFactRead, engram.TargetFact, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.GraphRead)
	if err != nil {
		return nil, err
	}
	if userID, err = cleanScopeID("user_id", userID); err != nil {
		return nil, err
	}
	out := []engram.Pattern{}
	err = e.st.Read(ctx, func(tx store.Tx) error {
		recs, err := tx.ListFacts(ctx, p.TenantID, store.FactFilter{UserID: userID, AllUsers: userID == "", Limit: maxFactScan})
		if err != nil {
			return err
		}
		r := e.reader(ctx, tx, p.TenantID)
		_, opened, err := r.facts(recs)
		if err != nil {
			return err
		}
		rules := make([]facts.Fact, 0, len(opened))
		for _, of := range opened {
			if of.body.Predicate != engram.PredicateObservation {
				rules = append(rules, of.rules())
			}
		}
		for _, pt := range topics.DetectTable(rules, topics.DefaultMinEpisodes, facts.DefaultTable()) {
			out = append(out, r.pattern(pt))
		}
		return nil
	})
	return out, err
}

func (r *reader) pattern(pt topics.Pattern) engram.Pattern {
	out := engram.Pattern{Kind: string(pt.Kind), Subject: r.ref(pt.Subject), Predicate: pt.Predicate, Value: pt.Value,
		When: pt.When, Facts: slices.Clone(pt.FactIDs), Episodes: slices.Clone(pt.Episodes), FirstSeen: pt.FirstSeen,
		LastSeen: pt.LastSeen, Current: pt.Current}
	if pt.Object != "" {
		ref := r.ref(pt.Object)
		out.Object = &ref
	}
	for _, v := range pt.Values {
		if oe, ok := r.entities[v]; ok {
			v = oe.body.Name
		}
		out.Values = append(out.Values, v)
	}
	return out
}

// asUTC is t in UTC truncated to what stores keep.
func asUTC(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
