package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/facts"
	"github.com/engram-memory/engram/internal/observe"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
)

// graphTx runs fn in a write transaction with a txGraph of the scope's
// user and the writer of the scope's subject, retrying when a key changed
// underneath (see retry).
func (e *Engine) graphTx(ctx context.Context, p *engram.Principal, scope engram.Scope,
	fn func(g *txGraph, w *writer, tk seal.Key, now time.Time) error) error {
	if err := e.userWritable(ctx, p.TenantID, scope.UserID); err != nil {
		return err
	}
	b, err := e.blinds(ctx, p.TenantID)
	if err != nil {
		return err
	}
	return retry(func() error {
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
			g := &txGraph{e: e, ctx: ctx, tx: tx, tenant: p.TenantID, user: scope.UserID, b: b, o: e.opener(ctx, p.TenantID),
				entities: map[string]*openedEntity{}, facts: map[string]*openedFact{}}
			return fn(g, w, tk, e.clock())
		})
	})
}

// exact returns the id of the scope's entity whose name or an alias has
// exactly name's normalised form ("" when none).
func (g *txGraph) exact(name string) (string, error) {
	cands, err := g.Candidates(name)
	if err != nil {
		return "", err
	}
	key := entity.Normalise(name)
	for _, c := range cands {
		if entity.Normalise(c.Name) == key {
			return c.ID, nil
		}
	}
	for _, c := range cands {
		for _, a := range c.Aliases {
			if entity.Normalise(a) == key {
				return c.ID, nil
			}
		}
	}
	return "", nil
}

// ensure returns the entity a stated name denotes, as extraction would
// resolve it (a Match), or creates it.
func (g *txGraph) ensure(tk seal.Key, name string, typ entity.Type, label string, now time.Time) (string, error) {
	cands, err := g.Candidates(name)
	if err != nil {
		return "", err
	}
	d := entity.Resolve(entity.Mention{Name: name, Type: typ}, cands)
	if d.Outcome == entity.Match {
		return d.ID, nil
	}
	id := newID()
	return id, g.insertEntity(tk, entity.Entity{ID: id, Name: name, Type: typ}, label, now)
}

// cleanPredicate validates a predicate: a canonical name such as lives_in,
// or an MCP relation type; it is sealed like content, so any printable
// text up to MaxPredicateBytes is accepted. Surrounding space is trimmed.
func cleanPredicate(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", invalid("%s is required", field)
	case len(s) > engram.MaxPredicateBytes:
		return "", invalid("%s is longer than %d bytes", field, engram.MaxPredicateBytes)
	}
	if _, err := cleanName(field, s, false); err != nil {
		return "", err
	}
	return s, nil
}

// AddFact states a fact by hand: the subject (and object) are names,
// resolved to entities of the user as extraction resolves them; the
// fact then goes through the same contradiction rules.
func (e *Engine) AddFact(ctx context.Context, nf engram.NewFact) (_ *engram.Fact, err error) {
	a := e.begin(ctx, engram.AuditFactCreate, engram.TargetFact, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.GraphWrite)
	if err != nil {
		return nil, err
	}
	if err := a.alsoCan(rbac.GraphRead); err != nil {
		return nil, err
	}
	scope, err := cleanScope(engram.Scope{UserID: nf.UserID})
	if err != nil {
		return nil, err
	}
	if nf.Subject, err = cleanName("subject", nf.Subject, true); err != nil {
		return nil, err
	}
	if nf.Predicate, err = cleanPredicate("predicate", nf.Predicate); err != nil {
		return nil, err
	}
	if nf.Object, err = cleanName("object", nf.Object, false); err != nil {
		return nil, err
	}
	if len(nf.Value) > engram.MaxValueBytes {
		return nil, invalid("value is longer than %d bytes", engram.MaxValueBytes)
	}
	if nf.Value != "" {
		if nf.Value, err = cleanText("value", nf.Value); err != nil {
			return nil, err
		}
	}
	if (nf.Object == "") == (nf.Value == "") && !nf.Negated {
		return nil, invalid("give exactly one of object and value")
	}
	for _, t := range []struct {
		name string
		v    *time.Time
	}{{"valid_at", nf.ValidAt}, {"invalid_at", nf.InvalidAt}} {
		if t.v != nil {
			if err := checkTime(t.name, *t.v); err != nil {
				return nil, err
			}
		}
	}
	if nf.ValidAt != nil && nf.InvalidAt != nil && nf.InvalidAt.Before(*nf.ValidAt) {
		return nil, invalid("invalid_at is before valid_at")
	}
	if nf.Sentence == "" {
		nf.Sentence = strings.TrimSpace(strings.Join([]string{nf.Subject, strings.ReplaceAll(nf.Predicate, "_", " "), nf.Object + nf.Value}, " "))
	} else if nf.Sentence, err = cleanText("fact", nf.Sentence); err != nil {
		return nil, err
	}
	if err := e.roomToGrow(); err != nil {
		return nil, err
	}
	var vec []float32
	if e.vec != nil {
		vs, err := e.embedTexts(ctx, []string{nf.Sentence})
		if err != nil {
			return nil, err
		}
		vec = vs[0]
	}
	var id string
	err = e.graphTx(ctx, p, scope, func(g *txGraph, w *writer, tk seal.Key, now time.Time) error {
		subj, err := g.ensure(tk, nf.Subject, entity.Other, "", now)
		if err != nil {
			return err
		}
		obs := facts.Observation{Negated: nf.Negated, Reference: now, Fact: facts.Fact{ID: newID(), Subject: subj,
			Predicate: nf.Predicate, Value: nf.Value, Sentence: nf.Sentence, InvalidAt: nf.InvalidAt}}
		if nf.ValidAt != nil {
			obs.Fact.ValidAt = asUTC(*nf.ValidAt)
		}
		if nf.Object != "" {
			if obs.Fact.Object, err = g.ensure(tk, nf.Object, entity.Other, "", now); err != nil {
				return err
			}
		}
		plan, err := observe.Single(g, obs, now, facts.DefaultTable())
		if err != nil {
			return invalid("the fact is not valid: %s", factErr(err))
		}
		if err := g.store(w, tk, plan, scope, now, map[string][]float32{nf.Sentence: vec}, nil); err != nil {
			return err
		}
		switch {
		case len(plan.Events) == 0:
			return engram.Errorf(engram.CodeNotFound, "the negation matches no current fact")
		default:
			id = plan.Events[0].ID
			for _, ev := range plan.Events {
				if ev.Event == facts.EventAdd {
					id = ev.ID
				}
			}
		}
		a.entry.TargetID = id
		return a.record(g.tx)
	})
	if err != nil {
		return nil, err
	}
	return e.readFact(ctx, p.TenantID, id)
}

// factErr names a rule error of internal/facts without any content.
func factErr(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "facts: ")
}

// readFact opens one fact, outside any audit action: GetFact (which
// audits) and the answer of a write use it.
func (e *Engine) readFact(ctx context.Context, tenantID, id string) (*engram.Fact, error) {
	var out *engram.Fact
	err := e.st.Read(ctx, func(tx store.Tx) error {
		rec, err := tx.Fact(ctx, tenantID, id)
		if err != nil {
			return notFound(err, "fact")
		}
		fs, _, err := e.reader(ctx, tx, tenantID).facts([]store.Fact{*rec})
		if err != nil {
			return err
		}
		if len(fs) == 0 {
			return engram.Errorf(engram.CodeUnreadable, "fact cannot be decrypted")
		}
		out = &fs[0]
		return nil
	})
	return out, err
}

// DeleteFact deletes one fact. Facts are never deleted by contradiction
// rules (they end); this is a person's correction, or erasure.
func (e *Engine) DeleteFact(ctx context.Context, id string) (err error) {
	a, p, err := e.beginOne(ctx, engram.AuditFactDelete, engram.TargetFact, id, rbac.GraphDelete, "fact")
	defer func() { err = a.finish(err) }()
	if err != nil {
		return err
	}
	return e.st.Write(ctx, func(tx store.Tx) error {
		f, err := tx.Fact(ctx, p.TenantID, id)
		if err != nil {
			return notFound(err, "fact")
		}
		if err := userWritableTx(ctx, tx, p.TenantID, f.UserID); err != nil {
			return err
		}
		if err := tx.DeleteFact(ctx, p.TenantID, id); err != nil {
			return notFound(err, "fact")
		}
		return a.record(tx)
	})
}

// ForgetEntity crypto-shreds an entity: every version of its own key is
// destroyed, and its record, index keys, mentions and every fact naming it
// are deleted, in one transaction.
func (e *Engine) ForgetEntity(ctx context.Context, id string) (_ *engram.EntityErasure, err error) {
	a, p, err := e.beginOne(ctx, engram.AuditEntityForget, engram.TargetEntity, id, rbac.EntityForget, "entity")
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, err
	}
	var er *store.EntityErasure
	err = e.st.Write(ctx, func(tx store.Tx) error {
		en, err := tx.Entity(ctx, p.TenantID, id)
		if err != nil {
			return notFound(err, "entity")
		}
		if err := userWritableTx(ctx, tx, p.TenantID, en.UserID); err != nil {
			return err
		}
		if er, err = tx.DeleteEntity(ctx, p.TenantID, id); err != nil {
			return notFound(err, "entity")
		}
		return a.record(tx)
	})
	if err != nil {
		return nil, err
	}
	e.ring.Forget(p.TenantID, entitySubject(id))
	// As ForgetUser: the log still holds the pages of the entity's body,
	// key and facts until it is folded into the (secure_delete) file.
	if err := e.afterErasure(ctx); err != nil {
		return nil, err
	}
	return &engram.EntityErasure{EntityID: id, Facts: er.Facts, Mentions: er.Mentions, Keys: er.Keys, CompletedAt: e.clock()}, nil
}

// MergeEntities folds entity other into id (entity.Merge): other's names
// become aliases, its facts and mentions move, and other is forgotten
// (its key destroyed). Both must belong to the same user.
func (e *Engine) MergeEntities(ctx context.Context, id, other string) (_ *engram.Entity, err error) {
	a := e.begin(ctx, engram.AuditEntityMerge, engram.TargetEntity, id)
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.EntityMerge)
	if err != nil {
		return nil, err
	}
	if err := a.alsoCan(rbac.GraphRead); err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, engram.Errorf(engram.CodeNotFound, "entity not found")
	}
	if !validID(other) {
		return nil, invalid("other_id is not a valid entity id")
	}
	if id == other {
		return nil, invalid("an entity cannot be merged into itself")
	}
	b, err := e.blinds(ctx, p.TenantID)
	if err != nil {
		return nil, err
	}
	err = e.st.Write(ctx, func(tx store.Tx) error {
		o := e.opener(ctx, p.TenantID)
		var ents [2]*openedEntity
		for i, x := range []string{id, other} {
			rec, err := tx.Entity(ctx, p.TenantID, x)
			if err != nil {
				return notFound(err, "entity")
			}
			if ents[i], err = o.entity(rec); err != nil {
				if isUnreadable(err) {
					return engram.Errorf(engram.CodeUnreadable, "entity cannot be decrypted")
				}
				return err
			}
		}
		if ents[0].rec.UserID != ents[1].rec.UserID {
			return engram.Errorf(engram.CodeConflict, "the two entities belong to different users")
		}
		if err := userWritableTx(ctx, tx, p.TenantID, ents[0].rec.UserID); err != nil {
			return err
		}
		merged := entity.Merge(ents[0].rules(), ents[1].rules())
		k, err := e.entityKey(ctx, tx, p.TenantID, id)
		if err != nil {
			return err
		}
		rec := ents[0].rec
		rec.Type, rec.Mentions, rec.UpdatedAt = string(merged.Type), merged.Mentions, e.clock()
		body := ents[0].body
		body.Aliases = merged.Aliases
		if err := e.sealEntity(k, &rec, body); err != nil {
			return err
		}
		if err := tx.UpdateEntity(ctx, &rec, b.entityTokens(merged)); err != nil {
			return err
		}
		if err := tx.MoveEntityFacts(ctx, p.TenantID, other, id); err != nil {
			return err
		}
		if err := tx.MoveMentions(ctx, p.TenantID, other, id); err != nil {
			return err
		}
		if err := e.settleSingles(ctx, tx, o, p.TenantID, id, e.clock()); err != nil {
			return err
		}
		if _, err := tx.DeleteEntity(ctx, p.TenantID, other); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err != nil {
		return nil, err
	}
	e.ring.Forget(p.TenantID, entitySubject(other))
	// The other entity's key and body were destroyed: out of the log too.
	if err := e.afterErasure(ctx); err != nil {
		return nil, err
	}
	return e.entityAfterWrite(ctx, p.TenantID, id)
}

func (e *Engine) entityAfterWrite(ctx context.Context, tenantID, id string) (*engram.Entity, error) {
	var out *engram.Entity
	err := e.st.Read(ctx, func(tx store.Tx) error {
		rec, err := tx.Entity(ctx, tenantID, id)
		if err != nil {
			return notFound(err, "entity")
		}
		oe, err := e.opener(ctx, tenantID).entity(rec)
		if err != nil {
			return fmt.Errorf("open merged entity: %w", err)
		}
		pub := oe.public()
		out = &pub
		return nil
	})
	return out, err
}

// settleSingles applies the contradiction rule to an entity's facts after a
// merge brought two histories together: a value of a single-valued
// predicate ends where the next different value begins (ties in world time
// go to what was learned later), as if the facts had been learned about one
// entity. Facts only end; none is deleted. Equal values stay two facts.
func (e *Engine) settleSingles(ctx context.Context, tx store.Tx, o *opener, tenantID, id string, now time.Time) error {
	recs, err := tx.FactsOf(ctx, tenantID, []string{id})
	if err != nil {
		return err
	}
	table := facts.DefaultTable()
	byPred := map[string][]*openedFact{}
	for i := range recs {
		if recs[i].SubjectEntity != id {
			continue
		}
		of, err := o.fact(&recs[i])
		if isUnreadable(err) {
			e.skip(tenantID, "fact", recs[i].ID, err)
			continue
		}
		if err != nil {
			return err
		}
		if table.Single(of.body.Predicate) {
			byPred[of.body.Predicate] = append(byPred[of.body.Predicate], of)
		}
	}
	for _, fs := range byPred {
		for _, a := range fs {
			ra := a.rules()
			var end *time.Time
			for _, b := range fs {
				rb := b.rules()
				if b == a || facts.SameValue(ra, rb) || (rb.InvalidAt != nil && !rb.InvalidAt.After(rb.ValidAt)) {
					continue
				}
				later := rb.ValidAt.After(ra.ValidAt) || (rb.ValidAt.Equal(ra.ValidAt) && rb.CreatedAt.After(ra.CreatedAt))
				if later && (end == nil || rb.ValidAt.Before(*end)) {
					t := rb.ValidAt
					end = &t
				}
			}
			if end == nil || (ra.InvalidAt != nil && !ra.InvalidAt.After(*end)) {
				continue
			}
			rec := a.rec
			rec.InvalidAt = end
			if rec.ExpiredAt == nil {
				rec.ExpiredAt = &now
			}
			if err := tx.UpdateFact(ctx, &rec); err != nil {
				return err
			}
		}
	}
	return nil
}
