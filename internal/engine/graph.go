package engine

import (
	"context"
	"fmt"
	"slices"
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

// The official MCP memory server's knowledge graph over entities and facts
// (engram.GraphService). Names are exact within the scope's user (the
// normalised form: case, spacing and punctuation around words do not
// count); an observation is a current fact (entity, "observation", text);
// a relation is a current fact (from, relationType, to).

// maxGraphEntities bounds what read_graph and search_nodes open.
const maxGraphEntities = 2000

// graphBegin starts a graph tool's action: op is authorised, and a write
// (which answers with the graph it changed) needs graph.read as well.
func (e *Engine) graphBegin(ctx context.Context, act engram.AuditAction, op rbac.Op, scope engram.Scope) (*action, *engram.Principal, engram.Scope, error) {
	a := e.begin(ctx, act, engram.TargetEntity, "")
	p, _, err := a.can(op)
	if err == nil && op != rbac.GraphRead {
		err = a.alsoCan(rbac.GraphRead)
	}
	if err == nil {
		scope, err = cleanScope(scope)
	}
	return a, p, scope, err
}

func checkCount(field string, n int) error {
	if n > engram.MaxGraphNames {
		return invalid("%s holds more than %d items", field, engram.MaxGraphNames)
	}
	return nil
}

// observationFacts returns the current observation facts of an entity.
func (g *txGraph) current(entityID string) ([]*openedFact, error) {
	if _, err := g.Facts(entityID); err != nil {
		return nil, err
	}
	var out []*openedFact
	for _, of := range g.facts {
		if of.rec.SubjectEntity == entityID && of.rec.InvalidAt == nil && of.rec.ExpiredAt == nil {
			out = append(out, of)
		}
	}
	slices.SortFunc(out, func(a, b *openedFact) int { return strings.Compare(a.rec.ID, b.rec.ID) })
	return out, nil
}

// state adds one fact through the contradiction rules and stores it.
func (g *txGraph) state(w *writer, tk seal.Key, scope engram.Scope, now time.Time, subj, pred, obj, value, sentence string) error {
	obs := facts.Observation{Reference: now, Fact: facts.Fact{ID: newID(), Subject: subj, Predicate: pred, Object: obj,
		Value: value, Sentence: sentence}}
	plan, err := observe.Single(g, obs, now, facts.DefaultTable())
	if err != nil {
		return invalid("the statement is not valid: %s", factErr(err))
	}
	return g.store(w, tk, plan, scope, now, nil, nil)
}

// CreateEntities creates the named entities that do not exist yet.
func (e *Engine) CreateEntities(ctx context.Context, scope engram.Scope, es []engram.GraphEntity) (_ []engram.GraphEntity, err error) {
	a, p, scope, err := e.graphBegin(ctx, engram.AuditEntityWrite, rbac.GraphWrite, scope)
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, err
	}
	if err := checkCount("entities", len(es)); err != nil {
		return nil, err
	}
	for i := range es {
		if es[i].Name, err = cleanName(fmt.Sprintf("entities[%d].name", i), es[i].Name, true); err != nil {
			return nil, err
		}
		if es[i].EntityType, err = cleanName(fmt.Sprintf("entities[%d].entityType", i), es[i].EntityType, false); err != nil {
			return nil, err
		}
		if err := checkObservations(fmt.Sprintf("entities[%d].observations", i), es[i].Observations); err != nil {
			return nil, err
		}
	}
	if err := e.roomToGrow(); err != nil {
		return nil, err
	}
	var created []engram.GraphEntity
	err = e.graphTx(ctx, p, scope, func(g *txGraph, w *writer, tk seal.Key, now time.Time) error {
		created = created[:0]
		for _, ge := range es {
			id, err := g.exact(ge.Name)
			if err != nil {
				return err
			}
			if id != "" {
				continue
			}
			id = newID()
			if err := g.insertEntity(tk, entity.Entity{ID: id, Name: ge.Name, Type: entity.ParseType(ge.EntityType)}, ge.EntityType, now); err != nil {
				return err
			}
			for _, o := range dedupe(ge.Observations) {
				if err := g.state(w, tk, scope, now, id, engram.PredicateObservation, "", o, o); err != nil {
					return err
				}
			}
			created = append(created, engram.GraphEntity{Name: ge.Name, EntityType: ge.EntityType, Observations: orEmpty(ge.Observations)})
		}
		return a.recordEach(g.tx, []string{""})
	})
	if created == nil {
		created = []engram.GraphEntity{}
	}
	return created, err
}

func checkObservations(field string, obs []string) error {
	if err := checkCount(field, len(obs)); err != nil {
		return err
	}
	for i, o := range obs {
		if strings.TrimSpace(o) == "" {
			return invalid("%s[%d] must not be empty", field, i)
		}
		if len(o) > engram.MaxValueBytes {
			return invalid("%s[%d] is longer than %d bytes", field, i, engram.MaxValueBytes)
		}
		if _, err := cleanText(fmt.Sprintf("%s[%d]", field, i), o); err != nil {
			return err
		}
	}
	return nil
}

func dedupe(xs []string) []string {
	var out []string
	for _, x := range xs {
		x = strings.TrimSpace(x)
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

func orEmpty(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

// CreateRelations creates the relations not already current. Both ends
// must exist.
func (e *Engine) CreateRelations(ctx context.Context, scope engram.Scope, rs []engram.GraphRelation) (_ []engram.GraphRelation, err error) {
	a, p, scope, err := e.graphBegin(ctx, engram.AuditEntityWrite, rbac.GraphWrite, scope)
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, err
	}
	if err := checkRelations(rs); err != nil {
		return nil, err
	}
	var created []engram.GraphRelation
	err = e.graphTx(ctx, p, scope, func(g *txGraph, w *writer, tk seal.Key, now time.Time) error {
		created = created[:0]
		for _, r := range rs {
			from, to, err := g.ends(r)
			if err != nil {
				return err
			}
			cur, err := g.current(from)
			if err != nil {
				return err
			}
			if slices.ContainsFunc(cur, func(of *openedFact) bool {
				return of.rec.ObjectEntity == to && of.body.Predicate == r.RelationType
			}) {
				continue
			}
			if err := g.state(w, tk, scope, now, from, r.RelationType, to, "", r.From+" "+r.RelationType+" "+r.To); err != nil {
				return err
			}
			created = append(created, r)
		}
		return a.recordEach(g.tx, []string{""})
	})
	if created == nil {
		created = []engram.GraphRelation{}
	}
	return created, err
}

func checkRelations(rs []engram.GraphRelation) error {
	if err := checkCount("relations", len(rs)); err != nil {
		return err
	}
	for i := range rs {
		var err error
		if rs[i].From, err = cleanName(fmt.Sprintf("relations[%d].from", i), rs[i].From, true); err != nil {
			return err
		}
		if rs[i].To, err = cleanName(fmt.Sprintf("relations[%d].to", i), rs[i].To, true); err != nil {
			return err
		}
		if rs[i].RelationType, err = cleanPredicate(fmt.Sprintf("relations[%d].relationType", i), rs[i].RelationType); err != nil {
			return err
		}
	}
	return nil
}

// ends resolves a relation's two entities; either missing is not_found.
func (g *txGraph) ends(r engram.GraphRelation) (string, string, error) {
	from, err := g.exact(r.From)
	if err != nil {
		return "", "", err
	}
	to, err := g.exact(r.To)
	if err != nil {
		return "", "", err
	}
	if from == "" || to == "" {
		return "", "", engram.Errorf(engram.CodeNotFound, "a relation names an entity that does not exist; create it first")
	}
	return from, to, nil
}

// AddObservations adds the observations each entity lacks.
func (e *Engine) AddObservations(ctx context.Context, scope engram.Scope, obs []engram.GraphObservations) (_ []engram.GraphAdded, err error) {
	a, p, scope, err := e.graphBegin(ctx, engram.AuditEntityWrite, rbac.GraphWrite, scope)
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, err
	}
	if err := checkCount("observations", len(obs)); err != nil {
		return nil, err
	}
	for i := range obs {
		if obs[i].EntityName, err = cleanName(fmt.Sprintf("observations[%d].entityName", i), obs[i].EntityName, true); err != nil {
			return nil, err
		}
		if err := checkObservations(fmt.Sprintf("observations[%d].contents", i), obs[i].Contents); err != nil {
			return nil, err
		}
	}
	var out []engram.GraphAdded
	err = e.graphTx(ctx, p, scope, func(g *txGraph, w *writer, tk seal.Key, now time.Time) error {
		out = out[:0]
		for _, o := range obs {
			id, err := g.exact(o.EntityName)
			if err != nil {
				return err
			}
			if id == "" {
				return engram.Errorf(engram.CodeNotFound, "observations name an entity that does not exist")
			}
			cur, err := g.current(id)
			if err != nil {
				return err
			}
			added := []string{}
			for _, c := range dedupe(o.Contents) {
				if slices.ContainsFunc(cur, func(of *openedFact) bool {
					return of.body.Predicate == engram.PredicateObservation && of.body.Value == c
				}) {
					continue
				}
				if err := g.state(w, tk, scope, now, id, engram.PredicateObservation, "", c, c); err != nil {
					return err
				}
				added = append(added, c)
			}
			out = append(out, engram.GraphAdded{EntityName: o.EntityName, AddedObservations: added})
		}
		return a.recordEach(g.tx, []string{""})
	})
	return out, err
}

// DeleteEntities forgets the named entities (their keys destroyed) and
// every fact naming them; unknown names are ignored.
func (e *Engine) DeleteEntities(ctx context.Context, scope engram.Scope, names []string) (err error) {
	a, p, scope, err := e.graphBegin(ctx, engram.AuditEntityForget, rbac.GraphDelete, scope)
	defer func() { err = a.finish(err) }()
	if err != nil {
		return err
	}
	if err := checkCount("entityNames", len(names)); err != nil {
		return err
	}
	for i := range names {
		if names[i], err = cleanName(fmt.Sprintf("entityNames[%d]", i), names[i], true); err != nil {
			return err
		}
	}
	var gone []string
	err = e.graphTx(ctx, p, scope, func(g *txGraph, w *writer, tk seal.Key, now time.Time) error {
		gone = gone[:0]
		for _, n := range names {
			id, err := g.exact(n)
			if err != nil {
				return err
			}
			if id == "" || slices.Contains(gone, id) {
				continue
			}
			if _, err := g.tx.DeleteEntity(g.ctx, g.tenant, id); err != nil {
				return err
			}
			delete(g.entities, id)
			gone = append(gone, id)
		}
		if len(gone) == 0 {
			return a.recordEach(g.tx, []string{""})
		}
		return a.recordEach(g.tx, gone)
	})
	for _, id := range gone {
		e.ring.Forget(p.TenantID, entitySubject(id))
	}
	if err == nil && len(gone) > 0 {
		// Crypto-shredding, as ForgetEntity: out of the log too.
		err = e.afterErasure(ctx)
	}
	return err
}

// DeleteObservations deletes the given observations; unknown ones are
// ignored.
func (e *Engine) DeleteObservations(ctx context.Context, scope engram.Scope, dels []engram.GraphObservations) (err error) {
	a, p, scope, err := e.graphBegin(ctx, engram.AuditFactDelete, rbac.GraphDelete, scope)
	defer func() { err = a.finish(err) }()
	if err != nil {
		return err
	}
	if err := checkCount("deletions", len(dels)); err != nil {
		return err
	}
	for i := range dels {
		if dels[i].EntityName, err = cleanName(fmt.Sprintf("deletions[%d].entityName", i), dels[i].EntityName, true); err != nil {
			return err
		}
		if err := checkCount(fmt.Sprintf("deletions[%d].observations", i), len(dels[i].Observations)); err != nil {
			return err
		}
	}
	return e.graphTx(ctx, p, scope, func(g *txGraph, w *writer, tk seal.Key, now time.Time) error {
		for _, d := range dels {
			id, err := g.exact(d.EntityName)
			if err != nil || id == "" {
				if err != nil {
					return err
				}
				continue
			}
			cur, err := g.current(id)
			if err != nil {
				return err
			}
			for _, of := range cur {
				if of.body.Predicate == engram.PredicateObservation && slices.Contains(d.Observations, of.body.Value) {
					if err := g.tx.DeleteFact(g.ctx, g.tenant, of.rec.ID); err != nil {
						return err
					}
					delete(g.facts, of.rec.ID)
				}
			}
		}
		return a.recordEach(g.tx, []string{""})
	})
}

// DeleteRelations deletes the given relations; unknown ones are ignored.
func (e *Engine) DeleteRelations(ctx context.Context, scope engram.Scope, rs []engram.GraphRelation) (err error) {
	a, p, scope, err := e.graphBegin(ctx, engram.AuditFactDelete, rbac.GraphDelete, scope)
	defer func() { err = a.finish(err) }()
	if err != nil {
		return err
	}
	if err := checkRelations(rs); err != nil {
		return err
	}
	return e.graphTx(ctx, p, scope, func(g *txGraph, w *writer, tk seal.Key, now time.Time) error {
		for _, r := range rs {
			from, err := g.exact(r.From)
			if err != nil {
				return err
			}
			to, err := g.exact(r.To)
			if err != nil {
				return err
			}
			if from == "" || to == "" {
				continue
			}
			cur, err := g.current(from)
			if err != nil {
				return err
			}
			for _, of := range cur {
				if of.rec.ObjectEntity == to && of.body.Predicate == r.RelationType {
					if err := g.tx.DeleteFact(g.ctx, g.tenant, of.rec.ID); err != nil {
						return err
					}
					delete(g.facts, of.rec.ID)
				}
			}
		}
		return a.recordEach(g.tx, []string{""})
	})
}

// ReadGraph returns the scope user's entities with their observations and
// the current relations among them.
func (e *Engine) ReadGraph(ctx context.Context, scope engram.Scope) (_ *engram.Graph, err error) {
	return e.graphRead(ctx, scope, func(*graphNode) bool { return true })
}

// SearchNodes returns the entities whose name, type or an observation
// contains query, case-insensitively, and the relations with at least one
// end among them.
func (e *Engine) SearchNodes(ctx context.Context, scope engram.Scope, query string) (_ *engram.Graph, err error) {
	q, qerr := cleanText("query", query)
	if qerr == nil && len(q) > engram.MaxQueryBytes {
		qerr = invalid("query is longer than %d bytes", engram.MaxQueryBytes)
	}
	q = strings.ToLower(q)
	return e.graphReadChecked(ctx, scope, qerr, func(n *graphNode) bool {
		if strings.Contains(strings.ToLower(n.ge.Name), q) || strings.Contains(strings.ToLower(n.ge.EntityType), q) {
			return true
		}
		return slices.ContainsFunc(n.ge.Observations, func(o string) bool { return strings.Contains(strings.ToLower(o), q) })
	})
}

// OpenNodes returns the named entities and the relations with at least one
// end among them.
func (e *Engine) OpenNodes(ctx context.Context, scope engram.Scope, names []string) (_ *engram.Graph, err error) {
	var nerr error
	if nerr = checkCount("names", len(names)); nerr == nil {
		for i := range names {
			if names[i], nerr = cleanName(fmt.Sprintf("names[%d]", i), names[i], true); nerr != nil {
				break
			}
		}
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = entity.Normalise(n)
	}
	return e.graphReadChecked(ctx, scope, nerr, func(n *graphNode) bool { return slices.Contains(keys, entity.Normalise(n.ge.Name)) })
}

type graphNode struct {
	id string
	ge engram.GraphEntity
}

func (e *Engine) graphRead(ctx context.Context, scope engram.Scope, keep func(*graphNode) bool) (*engram.Graph, error) {
	return e.graphReadChecked(ctx, scope, nil, keep)
}

// graphReadChecked reads the graph of the scope's user, keeping the nodes
// keep selects; argErr is a validation error found before (recorded as
// the action's failure).
func (e *Engine) graphReadChecked(ctx context.Context, scope engram.Scope, argErr error, keep func(*graphNode) bool) (_ *engram.Graph, err error) {
	a, p, scope, err := e.graphBegin(ctx, engram.AuditEntityRead, rbac.GraphRead, scope)
	defer func() { err = a.finish(err) }()
	if err != nil {
		return nil, err
	}
	if argErr != nil {
		return nil, argErr
	}
	out := &engram.Graph{Entities: []engram.GraphEntity{}, Relations: []engram.GraphRelation{}}
	err = e.st.Read(ctx, func(tx store.Tx) error {
		r := e.reader(ctx, tx, p.TenantID)
		recs, err := tx.ListEntities(ctx, p.TenantID, scope.UserID, false, "", "", maxGraphEntities)
		if err != nil {
			return err
		}
		slices.Reverse(recs) // oldest first, as that server lists them
		ids := make([]string, 0, len(recs))
		for _, rec := range recs {
			ids = append(ids, rec.ID)
		}
		if err := r.load(ids); err != nil {
			return err
		}
		frecs, err := tx.FactsOf(ctx, p.TenantID, ids)
		if err != nil {
			return err
		}
		_, opened, err := r.facts(frecs)
		if err != nil {
			return err
		}
		nodes := map[string]*graphNode{}
		var order []*graphNode
		for _, id := range ids {
			oe, ok := r.entities[id]
			if !ok {
				continue
			}
			label := oe.body.Label
			if label == "" {
				label = oe.rec.Type
			}
			n := &graphNode{id: id, ge: engram.GraphEntity{Name: oe.body.Name, EntityType: label, Observations: []string{}}}
			nodes[id] = n
			order = append(order, n)
		}
		for _, of := range opened {
			if of.rec.InvalidAt != nil || of.rec.ExpiredAt != nil || of.body.Predicate != engram.PredicateObservation {
				continue
			}
			if n, ok := nodes[of.rec.SubjectEntity]; ok {
				n.ge.Observations = append(n.ge.Observations, of.body.Value)
			}
		}
		kept := map[string]bool{}
		for _, n := range order {
			if keep(n) {
				kept[n.id] = true
				out.Entities = append(out.Entities, n.ge)
			}
		}
		for _, of := range opened {
			if of.rec.InvalidAt != nil || of.rec.ExpiredAt != nil || of.rec.ObjectEntity == "" {
				continue
			}
			// A relation with one end among the nodes kept is returned, as
			// server-memory 2026.8.31 does (it lets a caller find a node's
			// connections); both ends must be known entities.
			from, to := nodes[of.rec.SubjectEntity], nodes[of.rec.ObjectEntity]
			if from != nil && to != nil && (kept[from.id] || kept[to.id]) {
				out.Relations = append(out.Relations, engram.GraphRelation{From: from.ge.Name, To: to.ge.Name, RelationType: of.body.Predicate})
			}
		}
		return nil
	})
	return out, err
}
