package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/entity"
	"github.com/engram-memory/engram/internal/facts"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
)

// How Observe's records are sealed and blinded. Each record seals one JSON
// body (fewer envelopes to open than a field each); its context binds it to
// its tenant, key subject and id, so a body moved to another row does not
// open.

// Purposes of the blind tokens of Observe, derived from the tenant's index
// key like search tokens: each its own key, so a token of one kind never
// equals a token of another.
const (
	purposeEntityKey = "engram/entity-key/v1"
	purposePredicate = "engram/fact-predicate/v1"
	purposeTopic     = "engram/topic/v1"
)

// entitySubject is the key subject of an entity: its own key, destroyed
// when it is forgotten.
func entitySubject(id string) string { return "e:" + id }

func entityContext(tenantID, id string) seal.Context {
	return seal.Context{Domain: "entity", Tenant: tenantID, Subject: entitySubject(id), Record: id, Field: "body"}
}

func factContext(tenantID, subject, id, field string) seal.Context {
	return seal.Context{Domain: "fact", Tenant: tenantID, Subject: subject, Record: id, Field: field}
}

func episodeContext(tenantID, subject, id string) seal.Context {
	return seal.Context{Domain: "episode", Tenant: tenantID, Subject: subject, Record: id, Field: "messages"}
}

// entityBody is an entity's sealed part.
type entityBody struct {
	Name    string   `json:"n"`
	Aliases []string `json:"a,omitempty"`
	// Label is the caller's own type name (the MCP memory server's
	// entityType), kept verbatim; the clear type column is coarse.
	Label string `json:"l,omitempty"`
}

// factBody is a fact's sealed part.
type factBody struct {
	Predicate string `json:"p"`
	Value     string `json:"v,omitempty"`
	Sentence  string `json:"s"`
}

// blinds makes the blind tokens of one tenant.
type blinds struct{ entity, predicate, topic []byte }

func (e *Engine) blinds(ctx context.Context, tenantID string) (*blinds, error) {
	var b blinds
	for _, k := range []struct {
		dst     *[]byte
		purpose string
	}{{&b.entity, purposeEntityKey}, {&b.predicate, purposePredicate}, {&b.topic, purposeTopic}} {
		key, err := e.ring.Derived(ctx, tenantID, k.purpose)
		if err != nil {
			return nil, keyFailure(err)
		}
		*k.dst = key
	}
	return &b, nil
}

func blindToken(key []byte, s string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return m.Sum(nil)
}

// entityTokens blinds an entity's index keys (entity.EntityKeys).
func (b *blinds) entityTokens(e entity.Entity) [][]byte {
	ks := entity.EntityKeys(e)
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = blindToken(b.entity, k)
	}
	return out
}

func (b *blinds) nameTokens(name string) [][]byte {
	ks := entity.Keys(name)
	out := make([][]byte, len(ks))
	for i, k := range ks {
		out[i] = blindToken(b.entity, k)
	}
	return out
}

func (b *blinds) predicateToken(p string) []byte { return blindToken(b.predicate, p) }
func (b *blinds) topicToken(t string) []byte     { return blindToken(b.topic, t) }

// openedEntity is a stored entity and what it seals.
type openedEntity struct {
	rec  store.Entity
	body entityBody
}

func (o *opener) entity(r *store.Entity) (*openedEntity, error) {
	pt, err := o.open(r.Subject, entityContext(r.TenantID, r.ID), r.Body)
	if err != nil {
		return nil, err
	}
	var b entityBody
	if err := json.Unmarshal(pt, &b); err != nil {
		return nil, &unreadable{fmt.Errorf("decode entity: %w", err)}
	}
	return &openedEntity{rec: *r, body: b}, nil
}

func (oe *openedEntity) rules() entity.Entity {
	return entity.Entity{ID: oe.rec.ID, Name: oe.body.Name, Aliases: oe.body.Aliases, Type: entity.Type(oe.rec.Type),
		Mentions: oe.rec.Mentions}
}

func (oe *openedEntity) public() engram.Entity {
	aliases := oe.body.Aliases
	if aliases == nil {
		aliases = []string{}
	}
	return engram.Entity{ID: oe.rec.ID, Name: oe.body.Name, Type: oe.rec.Type, Aliases: aliases, Mentions: oe.rec.Mentions,
		UserID: oe.rec.UserID, CreatedAt: oe.rec.CreatedAt, UpdatedAt: oe.rec.UpdatedAt}
}

// openedFact is a stored fact and what it seals.
type openedFact struct {
	rec  store.Fact
	body factBody
}

func (o *opener) fact(r *store.Fact) (*openedFact, error) {
	pt, err := o.open(r.Subject, factContext(r.TenantID, r.Subject, r.ID, "body"), r.Body)
	if err != nil {
		return nil, err
	}
	var b factBody
	if err := json.Unmarshal(pt, &b); err != nil {
		return nil, &unreadable{fmt.Errorf("decode fact: %w", err)}
	}
	return &openedFact{rec: *r, body: b}, nil
}

func (of *openedFact) rules() facts.Fact {
	return facts.Fact{ID: of.rec.ID, Subject: of.rec.SubjectEntity, Predicate: of.body.Predicate, Object: of.rec.ObjectEntity,
		Value: of.body.Value, Sentence: of.body.Sentence, ValidAt: of.rec.ValidAt, InvalidAt: of.rec.InvalidAt,
		CreatedAt: of.rec.CreatedAt, ExpiredAt: of.rec.ExpiredAt, Episodes: append([]string(nil), of.rec.Episodes...)}
}

// entityKey returns the newest key of an entity, as stored in tx.
func (e *Engine) entityKey(ctx context.Context, tx store.Tx, tenantID, id string) (seal.Key, error) {
	w, err := tx.LatestKey(ctx, tenantID, keys.PurposeSubject, entitySubject(id))
	if err != nil {
		return seal.Key{}, fmt.Errorf("entity key: %w", err)
	}
	k, err := e.ring.SubjectKey(ctx, tenantID, entitySubject(id), w.Version)
	return k, keyFailure(err)
}

// newEntityKey makes an entity's first key under the tenant key tk and
// stores it in tx, after checking tk is still the stored tenant key (a
// rotation that committed since would leave the new key wrapped by a
// destroyed parent).
func (e *Engine) newEntityKey(ctx context.Context, tx store.Tx, tk seal.Key, tenantID, id string) (seal.Key, error) {
	if _, err := tx.Key(ctx, tenantID, keys.PurposeTenant, "", int(tk.Version)); err != nil {
		return seal.Key{}, fmt.Errorf("%w: tenant key version %d: %w", errKeyRetired, tk.Version, err)
	}
	k, wk, err := e.ring.NewChildKey(tk, tenantID, keys.PurposeSubject, entitySubject(id), 1)
	if err != nil {
		return seal.Key{}, err
	}
	return k, tx.PutKey(ctx, wk)
}

// sealEntity seals an entity's body under k.
func (e *Engine) sealEntity(k seal.Key, r *store.Entity, b entityBody) error {
	pt, err := json.Marshal(b)
	if err != nil {
		return err
	}
	r.Subject, r.KeyVersion = entitySubject(r.ID), int(k.Version)
	r.Body, err = e.fields.Seal(k, entityContext(r.TenantID, r.ID), pt)
	return err
}

// sealFact seals a fact's body (and vector, when there is one) under w.
func (w *writer) sealFact(r *store.Fact, b factBody, vec []float32) error {
	pt, err := json.Marshal(b)
	if err != nil {
		return err
	}
	r.Subject, r.KeyVersion = w.subject, int(w.key.Version)
	if r.Body, err = w.seal(factContext(w.tenant, w.subject, r.ID, "body"), pt); err != nil {
		return err
	}
	r.Vector, r.VectorModel = nil, ""
	if vec != nil {
		if r.Vector, err = w.seal(factContext(w.tenant, w.subject, r.ID, "vector"), encodeVector(vec)); err != nil {
			return err
		}
		r.VectorModel = w.model
	}
	return nil
}

func (o *opener) factVector(r *store.Fact) ([]float32, error) {
	if r.Vector == nil {
		return nil, nil
	}
	pt, err := o.open(r.Subject, factContext(r.TenantID, r.Subject, r.ID, "vector"), r.Vector)
	if err != nil {
		return nil, err
	}
	return decodeVector(pt)
}

// storedMessage is an episode's message as sealed.
type storedMessage struct {
	Role    string     `json:"r"`
	Content string     `json:"c"`
	Name    string     `json:"n,omitempty"`
	Time    *time.Time `json:"t,omitempty"`
}

func (o *opener) episodeMessages(r *store.Episode) ([]engram.ObserveMessage, error) {
	if r.Messages == nil {
		return nil, nil
	}
	pt, err := o.open(r.Subject, episodeContext(r.TenantID, r.Subject, r.ID), r.Messages)
	if err != nil {
		return nil, err
	}
	var ms []storedMessage
	if err := json.Unmarshal(pt, &ms); err != nil {
		return nil, &unreadable{fmt.Errorf("decode episode: %w", err)}
	}
	out := make([]engram.ObserveMessage, len(ms))
	for i, m := range ms {
		out[i] = engram.ObserveMessage{Role: m.Role, Content: m.Content, Name: m.Name, Timestamp: m.Time}
	}
	return out, nil
}

// resealObserved re-encrypts an episode, entity or fact under w's key (the
// newest of its subject), changing nothing else: key rotation (privacy.go).
func (e *Engine) resealObserved(ctx context.Context, tx store.Tx, w *writer, o *opener, r store.StaleRecord) error {
	switch r.Kind {
	case "episode":
		ep, err := tx.Episode(ctx, w.tenant, r.ID)
		if err != nil || ep.KeyVersion >= int(w.key.Version) {
			return err
		}
		if ep.Messages != nil {
			pt, err := o.open(ep.Subject, episodeContext(w.tenant, ep.Subject, ep.ID), ep.Messages)
			if err != nil {
				return err
			}
			if ep.Messages, err = w.seal(episodeContext(w.tenant, w.subject, ep.ID), pt); err != nil {
				return err
			}
		}
		ep.KeyVersion = int(w.key.Version)
		return tx.UpdateEpisode(ctx, ep)
	case "entity":
		rec, err := tx.Entity(ctx, w.tenant, r.ID)
		if err != nil || rec.KeyVersion >= int(w.key.Version) {
			return err
		}
		oe, err := o.entity(rec)
		if err != nil {
			return err
		}
		if err := e.sealEntity(w.key, rec, oe.body); err != nil {
			return err
		}
		return tx.UpdateEntity(ctx, rec, nil)
	case "fact":
		rec, err := tx.Fact(ctx, w.tenant, r.ID)
		if err != nil || rec.KeyVersion >= int(w.key.Version) {
			return err
		}
		of, err := o.fact(rec)
		if err != nil {
			return err
		}
		vec, err := o.factVector(rec)
		if err != nil {
			return err
		}
		model := rec.VectorModel
		if err := w.sealFact(rec, of.body, vec); err != nil {
			return err
		}
		if vec != nil {
			rec.VectorModel = model
		}
		return tx.UpdateFact(ctx, rec)
	}
	return fmt.Errorf("unknown record kind %q", r.Kind)
}
