package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/rbac"
	"github.com/engram-memory/engram/internal/retention"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/search/fulltext"
	"github.com/engram-memory/engram/internal/store"
)

// idempotencyTTL is how long a retried POST replays its first result.
const idempotencyTTL = 24 * time.Hour

func memoryContext(tenantID, subject, id, field string) seal.Context {
	return seal.Context{Domain: "memory", Tenant: tenantID, Subject: subject, Record: id, Field: field}
}

// historyContext binds a history entry to its memory as well as to itself,
// so an entry moved under another memory does not open.
func historyContext(tenantID, subject, memoryID, id, field string) seal.Context {
	return seal.Context{Domain: "history", Tenant: tenantID, Subject: subject, Record: memoryID + "/" + id, Field: field}
}

// writer holds what one write needs: the subject key, the blinder and the
// MAC key of the tenant.
type writer struct {
	fields  fieldCipher
	model   string // embedding model of vectors this writer seals
	tenant  string
	subject string
	key     seal.Key
	gen     []byte // key's stored (wrapped) form: which generation of the key it is
	blind   *fulltext.Blinder
	macKey  []byte

	// added collects the memories (with their postings) the current write
	// transaction inserted, for the keyword index once it commits.
	added []store.DocPostings
}

func (e *Engine) writer(ctx context.Context, tenantID, subject string) (*writer, error) {
	w, err := e.newWriter(ctx, tenantID, subject)
	return w, keyFailure(err)
}

func (e *Engine) newWriter(ctx context.Context, tenantID, subject string) (*writer, error) {
	k, gen, err := e.ring.CurrentSubjectKeyGen(ctx, tenantID, subject)
	if err != nil {
		return nil, err
	}
	b, err := e.blinder(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	mk, err := e.ring.Derived(ctx, tenantID, keys.PurposeMAC)
	if err != nil {
		return nil, err
	}
	model := ""
	if e.vec != nil {
		model = e.vec.emb.Model()
	}
	return &writer{fields: e.fields, model: model, tenant: tenantID, subject: subject, key: k, gen: gen, blind: b, macKey: mk}, nil
}

// errKeyRetired: the data key this write sealed under was destroyed (an
// erasure of its user) or retired or rewrapped (a rotation) since the
// writer fetched it; the write is retried with the subject's current key.
var errKeyRetired = errors.New("engine: data key retired during write")

// check runs inside the write transaction: the very key this writer seals
// under must still be stored when the write commits. Its version is not
// enough: an erasure destroys every version of a user's key, and the
// user's next write creates version 1 again, a different key. Comparing
// the stored (wrapped) form tells the generations apart. Erasure commits
// in a write transaction too, so a write either commits before the erasure
// (and is erased with the user) or finds its key gone here.
func (w *writer) check(ctx context.Context, tx store.Tx) error {
	k, err := tx.Key(ctx, w.tenant, keys.PurposeSubject, w.subject, int(w.key.Version))
	if errors.Is(err, store.ErrNotFound) {
		return errKeyRetired
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(k.Wrapped, w.gen) {
		return errKeyRetired
	}
	return nil
}

// load reads one memory of the tenant; a missing one is not_found.
func (e *Engine) load(ctx context.Context, tenantID, id string) (*store.Memory, error) {
	var m *store.Memory
	if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		m, err = tx.Memory(ctx, tenantID, id)
		return err
	}); err != nil {
		return nil, notFound(err, "memory")
	}
	return m, nil
}

// rewrite changes an existing memory: it seals with the key of the
// memory's subject (fetched before the write, since fetching may itself
// write), re-reads the memory inside the write transaction and calls fn,
// retrying when a rotation retired the key meanwhile.
func (e *Engine) rewrite(ctx context.Context, cur *store.Memory, fn func(tx store.Tx, w *writer, m *store.Memory) error) error {
	// A memory of an end user whose deletion is pending stays as it is.
	if err := e.userWritable(ctx, cur.TenantID, cur.UserID); err != nil {
		return err
	}
	return retry(func() error {
		w, err := e.writer(ctx, cur.TenantID, cur.Subject)
		if err != nil {
			return err
		}
		return e.st.Write(ctx, func(tx store.Tx) error {
			if err := w.check(ctx, tx); err != nil {
				return err
			}
			m, err := tx.Memory(ctx, cur.TenantID, cur.ID)
			if err != nil {
				return notFound(err, "memory")
			}
			return fn(tx, w, m)
		})
	})
}

// retry runs a write again when an erasure or a rotation changed its key
// under it: the new attempt seals under the subject's current key, so the
// write is ordered after the erasure, as if sent a moment later. A write
// that loses the race every time fails as a conflict the client may retry;
// nothing of it was committed.
func retry(fn func() error) error {
	var err error
	for range 3 {
		if err = fn(); !errors.Is(err, errKeyRetired) {
			return err
		}
	}
	return engram.Errorf(engram.CodeConflict, "the user's key changed during the write (erased or rotated); retry")
}

func (w *writer) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, w.macKey)
	for _, p := range parts {
		var n [8]byte
		for i := range n {
			n[i] = byte(uint64(len(p)) >> (56 - 8*i))
		}
		m.Write(n[:])
		m.Write(p)
	}
	return m.Sum(nil)
}

// seal seals one field under the writer's key.
func (w *writer) seal(c seal.Context, pt []byte) ([]byte, error) { return w.fields.Seal(w.key, c, pt) }

// record seals content, metadata and the embedding (when there is one)
// into a stored memory, with its postings.
func (w *writer) record(m *store.Memory, content string, metadata []byte, vec []float32) ([]store.Posting, error) {
	return w.recordModel(m, content, metadata, vec, w.model)
}

// recordModel is record for a vector made by model (re-encryption keeps a
// vector of whatever model made it).
func (w *writer) recordModel(m *store.Memory, content string, metadata []byte, vec []float32, model string) ([]store.Posting, error) {
	var err error
	m.Subject = w.subject
	m.KeyVersion = int(w.key.Version)
	m.Content, err = w.seal(memoryContext(w.tenant, w.subject, m.ID, "content"), []byte(content))
	if err != nil {
		return nil, err
	}
	m.Metadata = nil
	if metadata != nil {
		if m.Metadata, err = w.seal(memoryContext(w.tenant, w.subject, m.ID, "metadata"), metadata); err != nil {
			return nil, err
		}
	}
	m.Vector, m.VectorModel = nil, ""
	if vec != nil {
		if m.Vector, err = w.seal(memoryContext(w.tenant, w.subject, m.ID, "vector"), encodeVector(vec)); err != nil {
			return nil, err
		}
		m.VectorModel = model
	}
	m.ContentMAC = w.mac([]byte(content))
	postings, n := w.blind.Postings(content)
	m.DocLen = n
	return postings, nil
}

func (w *writer) history(m *store.Memory, event engram.Event, oldText, newText string, at time.Time) (*store.History, error) {
	h := &store.History{ID: newID(), TenantID: w.tenant, MemoryID: m.ID, Subject: w.subject, KeyVersion: int(w.key.Version), Event: string(event), CreatedAt: at,
		AuthorID: m.AuthorID, Private: m.Private}
	var err error
	if oldText != "" {
		if h.Old, err = w.seal(historyContext(w.tenant, w.subject, m.ID, h.ID, "old"), []byte(oldText)); err != nil {
			return nil, err
		}
	}
	if newText != "" {
		if h.New, err = w.seal(historyContext(w.tenant, w.subject, m.ID, h.ID, "new"), []byte(newText)); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// idemResult is what an idempotency record keeps: ids and events only.
type idemResult struct {
	ID    string       `json:"id"`
	Event engram.Event `json:"event"`
}

// Add stores memories. An exact duplicate of a memory in the same scope is
// not stored again: its result is the existing memory with EventNone.
func (e *Engine) Add(ctx context.Context, req engram.AddRequest) (_ []engram.AddResult, err error) {
	a := e.begin(ctx, engram.AuditMemoryCreate, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	p, _, err := a.can(rbac.MemoryCreate)
	if err != nil {
		return nil, err
	}
	// The caller is the author (reach own: nobody writes as another).
	private, err := privateOf(req.Visibility, false)
	if err != nil {
		return nil, err
	}
	rec := rbac.Record{AuthorID: p.AccountID, Private: private}
	texts, err := addTexts(req)
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
	md, err := encodeMetadata(req.Metadata)
	if err != nil {
		return nil, err
	}
	expires, err := expiryOf(req.ExpirationDate)
	if err != nil {
		return nil, err
	}
	if err := e.roomToGrow(); err != nil {
		return nil, err
	}
	at := e.clock()
	if req.Timestamp != nil {
		if err := checkTime("timestamp", *req.Timestamp); err != nil {
			return nil, err
		}
		at = req.Timestamp.UTC().Truncate(time.Microsecond)
	}
	plain := make([]string, len(texts))
	for i, t := range texts {
		plain[i] = t.Text
	}
	var (
		vecs [][]float32
		emb  embedded
	)
	if e.vec != nil {
		if emb, err = e.embedInContext(ctx, p.TenantID, req.Scope, contextFilter(rec), "", at, plain); err != nil {
			return nil, err
		}
		vecs = emb.vecs
	}
	var (
		results []engram.AddResult
		last    *writer
	)
	kwDone := e.kwBegin(p.TenantID)
	defer e.vecWrite(p.TenantID)()
	epoch := e.vecEpoch(p.TenantID)
	err = retry(func() error {
		w, err := e.writer(ctx, p.TenantID, subjectOf(req.Scope, p))
		if err != nil {
			return err
		}
		if e.testHookWrite != nil {
			e.testHookWrite("key")
		}
		last = w
		results, err = e.add(ctx, w, a, p, req, rec, texts, md, vecs, at, expires)
		return err
	})
	if err == nil && e.testHookWrite != nil {
		e.testHookWrite("committed")
	}
	var kwOps []kwOp
	if err == nil && last != nil {
		for i := range last.added {
			kwOps = append(kwOps, kwOp{doc: &last.added[i]})
		}
	}
	kwDone(kwOps...)
	if err == nil && vecs != nil {
		for i, r := range results {
			if r.Event == engram.EventAdd && i < len(vecs) {
				e.indexPut(p.TenantID, r.ID, vecs[i], docMeta{subject: subjectOf(req.Scope, p), scope: req.Scope, created: at, rec: rec}, epoch)
				e.ownPut(p.TenantID, emb, i, r.ID, plain[i])
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return results, nil
}

// add is one attempt at Add's write transaction, sealing with w.
func (e *Engine) add(ctx context.Context, w *writer, a *action, p *engram.Principal, req engram.AddRequest, rec rbac.Record, texts []addText, md []byte, vecs [][]float32, at time.Time, expires *time.Time) ([]engram.AddResult, error) {
	var reqHash []byte
	idemKey := ""
	if req.IdempotencyKey != "" {
		// V only when private: a shared request hashes as it did before
		// memories had a visibility.
		canon, _ := json.Marshal(struct {
			T []addText
			S engram.Scope
			M json.RawMessage
			V bool       `json:",omitempty"`
			X *time.Time `json:",omitempty"`
		}{texts, req.Scope, md, rec.Private, expires})
		reqHash = w.mac([]byte("idempotency"), canon)
		idemKey = w.idempotencyKey(req.IdempotencyKey)
	}
	var results []engram.AddResult
	err := e.st.Write(ctx, func(tx store.Tx) error {
		results = results[:0]
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
				if results, err = replay(prev.Result, texts); err != nil {
					return err
				}
				return a.recordEach(tx, resultIDs(results))
			case err == nil:
				if err := tx.DeleteIdempotencyBefore(ctx, now.Add(-idempotencyTTL)); err != nil {
					return err
				}
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		for i, t := range texts {
			var vec []float32
			if vecs != nil {
				vec = vecs[i]
			}
			r, err := e.addOne(ctx, tx, w, req.Scope, rec, t, md, vec, at, now, expires, may(p, rbac.MemoryRead))
			if err != nil {
				return err
			}
			results = append(results, r)
		}
		if reqHash != nil {
			keep := make([]idemResult, len(results))
			for i, r := range results {
				keep[i] = idemResult{ID: r.ID, Event: r.Event}
			}
			b, _ := json.Marshal(keep)
			if err := tx.PutIdempotency(ctx, &store.Idempotency{TenantID: p.TenantID, Principal: idemPrincipal(p), Key: idemKey, RequestHash: reqHash, Result: b, CreatedAt: now}); err != nil {
				return err
			}
		}
		// Last: in fail-closed mode the entries leave for the sinks here,
		// and nothing after this may fail but the commit.
		return a.recordEach(tx, resultIDs(results))
	})
	return results, err
}

// resultIDs lists the memories a write touched: one audit entry each.
func resultIDs(rs []engram.AddResult) []string {
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return ids
}

// addText is one memory to write: its text and, for messages, the role.
type addText struct {
	Text string `json:"t"`
	Role string `json:"r,omitempty"`
}

func addTexts(req engram.AddRequest) ([]addText, error) {
	switch {
	case req.Content != "" && len(req.Messages) > 0:
		return nil, invalid("give either content or messages, not both")
	case req.Content != "":
		c, err := cleanText("content", req.Content)
		if err != nil {
			return nil, err
		}
		return []addText{{Text: c}}, nil
	case len(req.Messages) > engram.MaxMessages:
		return nil, invalid("at most %d messages per request", engram.MaxMessages)
	}
	var out []addText
	for i, m := range req.Messages {
		if len(m.Role) > 32 {
			return nil, invalid("messages[%d].role is longer than 32 bytes", i)
		}
		if err := checkID(fmt.Sprintf("messages[%d].role", i), m.Role); err != nil {
			return nil, err
		}
		if strings.TrimSpace(m.Content) == "" {
			continue // empty turns carry nothing to remember
		}
		c, err := cleanText(fmt.Sprintf("messages[%d].content", i), m.Content)
		if err != nil {
			return nil, err
		}
		out = append(out, addText{Text: c, Role: m.Role})
	}
	if len(out) == 0 {
		return nil, invalid("content or at least one non-empty message is required")
	}
	return out, nil
}

// addOne stores one memory by rec's author with rec's visibility, or
// finds its exact duplicate when dedup is on. Deduplication compares with
// what is stored, so it is a read: only a caller that may read gets it,
// and only against what it may read and would write (a shared memory for
// a shared write, its own private one for a private write). A write-only
// caller's add always stores, so its answers (ADD and a fresh id, every
// time) say nothing of what the tenant already holds.
func (e *Engine) addOne(ctx context.Context, tx store.Tx, w *writer, scope engram.Scope, rec rbac.Record, t addText, md []byte, vec []float32, at, now time.Time, expires *time.Time, dedup bool) (engram.AddResult, error) {
	if dedup {
		existing, err := tx.MemoryByMACAs(ctx, w.tenant, scope, w.mac([]byte(t.Text)), rec.AuthorID, rec.Private)
		// An expired duplicate is gone to every read: the write stores
		// the memory anew rather than answer with an invisible one.
		if err == nil && !retention.Expired(existing.ExpiresAt, now) {
			return engram.AddResult{ID: existing.ID, Content: t.Text, Event: engram.EventNone}, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return engram.AddResult{}, err
		}
	}
	if t.Role != "" {
		// A message's role travels in its metadata.
		var meta map[string]any
		if md != nil {
			_ = json.Unmarshal(md, &meta)
		} else {
			meta = map[string]any{}
		}
		meta["role"] = t.Role
		md, _ = json.Marshal(meta)
	}
	m := &store.Memory{ID: newID(), TenantID: w.tenant, UserID: scope.UserID, AgentID: scope.AgentID, RunID: scope.RunID, CreatedAt: at, UpdatedAt: now,
		AuthorID: rec.AuthorID, Private: rec.Private, ExpiresAt: expires}
	postings, err := w.record(m, t.Text, md, vec)
	if err != nil {
		return engram.AddResult{}, err
	}
	if err := tx.InsertMemory(ctx, m, postings); err != nil {
		return engram.AddResult{}, err
	}
	w.added = append(w.added, store.DocPostings{MemoryID: m.ID, Scope: scope, AuthorID: m.AuthorID, Private: m.Private, DocLen: m.DocLen, Postings: postings})
	h, err := w.history(m, engram.EventAdd, "", t.Text, now)
	if err != nil {
		return engram.AddResult{}, err
	}
	if err := tx.InsertHistory(ctx, h); err != nil {
		return engram.AddResult{}, err
	}
	return engram.AddResult{ID: m.ID, Content: t.Text, Event: engram.EventAdd}, nil
}

// decode opens a stored memory.
func (o *opener) memory(m *store.Memory) (*engram.Memory, error) {
	text, err := o.open(m.Subject, memoryContext(m.TenantID, m.Subject, m.ID, "content"), m.Content)
	if err != nil {
		return nil, err
	}
	rawMD, err := o.open(m.Subject, memoryContext(m.TenantID, m.Subject, m.ID, "metadata"), m.Metadata)
	if err != nil {
		return nil, err
	}
	md, err := decodeMetadata(rawMD)
	if err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return &engram.Memory{
		ID: m.ID, Content: string(text), UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID,
		Metadata: md, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
		AuthorID: m.AuthorID, Visibility: visibilityOf(m.Private), ExpirationDate: m.ExpiresAt,
	}, nil
}

// Get returns one memory.
func (e *Engine) Get(ctx context.Context, id string) (_ *engram.Memory, err error) {
	a := e.begin(ctx, engram.AuditMemoryRead, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	if !validID(id) {
		return nil, engram.Errorf(engram.CodeNotFound, "memory not found")
	}
	a.entry.TargetID = id
	p, reach, err := a.can(rbac.MemoryRead)
	if err != nil {
		return nil, err
	}
	m, err := e.load(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := reachable(p, reach, store.RecordOf(m)); err != nil {
		return nil, err
	}
	if e.expired(m) {
		return nil, engram.Errorf(engram.CodeNotFound, "memory not found")
	}
	out, err := e.opener(ctx, p.TenantID).memory(m)
	if isUnreadable(err) {
		e.skip(p.TenantID, "memory", id, err)
		return nil, unreadableErr()
	}
	return out, err
}

// List returns a page of memories matching the scope, newest first.
func (e *Engine) List(ctx context.Context, req engram.ListRequest) (_ *engram.ListResult, err error) {
	a := e.begin(ctx, engram.AuditMemoryList, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	p, reach, err := a.can(rbac.MemoryRead)
	if err != nil {
		return nil, err
	}
	if req.Scope, err = cleanScope(req.Scope); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, engram.DefaultListLimit, engram.MaxListLimit)
	if err != nil {
		return nil, err
	}
	before := ""
	if req.Cursor != "" {
		if before, err = memoryCursor(req.Cursor); err != nil {
			return nil, err
		}
	}
	var rows []store.Memory
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		rows, err = tx.ListVisibleMemories(ctx, p.TenantID, req.Scope, filterOf(p, reach), before, limit+1)
		return err
	})
	if err != nil {
		return nil, err
	}
	res := &engram.ListResult{Memories: []engram.Memory{}}
	if len(rows) > limit {
		rows = rows[:limit]
		res.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(rows[limit-1].ID))
	}
	o := e.opener(ctx, p.TenantID)
	for i := range rows {
		if e.expired(&rows[i]) {
			continue // gone to reads; the next sweep deletes it
		}
		m, err := o.memory(&rows[i])
		if isUnreadable(err) {
			e.skip(p.TenantID, "memory", rows[i].ID, err)
			continue
		}
		if err != nil {
			return nil, err
		}
		res.Memories = append(res.Memories, *m)
	}
	return res, nil
}

// Update replaces a memory's content (and metadata when given) and records
// the change in its history.
func (e *Engine) Update(ctx context.Context, id string, req engram.UpdateRequest) (_ *engram.Memory, err error) {
	a := e.begin(ctx, engram.AuditMemoryUpdate, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	if validID(id) {
		a.entry.TargetID = id
	}
	p, reach, err := a.can(rbac.MemoryUpdate)
	if err != nil {
		return nil, err
	}
	if _, err := privateOf(req.Visibility, false); err != nil {
		return nil, err
	}
	content, err := cleanText("content", req.Content)
	if err != nil {
		return nil, err
	}
	md, err := encodeMetadata(req.Metadata)
	if err != nil {
		return nil, err
	}
	expires, err := expiryOf(req.ExpirationDate)
	if err != nil {
		return nil, err
	}
	if !validID(id) {
		return nil, engram.Errorf(engram.CodeNotFound, "memory not found")
	}
	if err := e.roomToGrow(); err != nil {
		return nil, err
	}
	// The subject comes from the stored record; load it before the write
	// so the key lookup (which may itself write) happens outside it.
	cur, err := e.load(ctx, p.TenantID, id)
	if err != nil {
		return nil, err
	}
	if err := mayUpdate(p, reach, cur, req.Visibility); err != nil {
		return nil, err
	}
	private, _ := privateOf(req.Visibility, cur.Private)
	rec := rbac.Record{AuthorID: cur.AuthorID, Private: private}
	var (
		vec []float32
		emb embedded
	)
	if e.vec != nil {
		if emb, err = e.embedInContext(ctx, p.TenantID, engram.Scope{UserID: cur.UserID, AgentID: cur.AgentID, RunID: cur.RunID}, contextFilter(rec), id, cur.CreatedAt, []string{content}); err != nil {
			return nil, err
		}
		vec = emb.vecs[0]
	}
	var (
		out     *engram.Memory
		updated *store.DocPostings
	)
	kwDone := e.kwBegin(p.TenantID)
	defer e.vecWrite(p.TenantID)()
	epoch := e.vecEpoch(p.TenantID)
	err = e.rewrite(ctx, cur, func(tx store.Tx, w *writer, m *store.Memory) error {
		updated = nil
		// Checked again on the record this transaction changes: its
		// visibility may have changed since it was loaded.
		if err := mayUpdate(p, reach, m, req.Visibility); err != nil {
			return err
		}
		if e.expired(m) {
			return engram.Errorf(engram.CodeNotFound, "memory not found")
		}
		o := e.opener(ctx, p.TenantID)
		old, err := o.memory(m)
		if isUnreadable(err) {
			// Nothing to keep of it (metadata) and nothing to show: delete it.
			e.skip(p.TenantID, "memory", m.ID, err)
			return unreadableErr()
		}
		if err != nil {
			return err
		}
		if req.Metadata == nil && len(old.Metadata) > 0 {
			md, _ = json.Marshal(old.Metadata)
		}
		if old.Content == content && req.Metadata == nil && m.Private == private && (expires == nil || m.ExpiresAt != nil && m.ExpiresAt.Equal(*expires)) {
			out = old
			return a.record(tx)
		}
		now := e.clock()
		m.UpdatedAt = now
		m.Private = private
		if expires != nil {
			m.ExpiresAt = expires
		}
		postings, err := w.record(m, content, md, vec)
		if err != nil {
			return err
		}
		if err := tx.UpdateMemory(ctx, m, postings); err != nil {
			return notFound(err, "memory")
		}
		updated = &store.DocPostings{MemoryID: m.ID, Scope: engram.Scope{UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID},
			AuthorID: m.AuthorID, Private: m.Private, DocLen: m.DocLen, Postings: postings}
		h, err := w.history(m, engram.EventUpdate, old.Content, content, now)
		if err != nil {
			return err
		}
		if err := tx.InsertHistory(ctx, h); err != nil {
			return err
		}
		if out, err = o.memory(m); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err == nil && updated != nil {
		kwDone(kwOp{doc: updated})
	}
	kwDone()
	if err == nil && vec != nil {
		e.indexPut(p.TenantID, id, vec, docMeta{subject: cur.Subject, scope: engram.Scope{UserID: cur.UserID, AgentID: cur.AgentID, RunID: cur.RunID}, created: cur.CreatedAt, rec: rec}, epoch)
		e.ownPut(p.TenantID, emb, 0, id, content)
	}
	if err == nil && !may(p, rbac.MemoryRead) {
		out = sentOnly(id, content, req.Metadata)
	}
	return out, err
}

// Delete removes a memory and its index postings; its history records the
// deletion.
func (e *Engine) Delete(ctx context.Context, id string) (err error) {
	a := e.begin(ctx, engram.AuditMemoryDelete, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	if !validID(id) {
		return engram.Errorf(engram.CodeNotFound, "memory not found")
	}
	a.entry.TargetID = id
	p, reach, err := a.can(rbac.MemoryDelete)
	if err != nil {
		return err
	}
	cur, err := e.load(ctx, p.TenantID, id)
	if err != nil {
		return err
	}
	if err := reachable(p, reach, store.RecordOf(cur)); err != nil {
		return err
	}
	kwDone := e.kwBegin(p.TenantID)
	defer e.vecWrite(p.TenantID)()
	err = e.rewrite(ctx, cur, func(tx store.Tx, w *writer, m *store.Memory) error {
		if err := reachable(p, reach, store.RecordOf(m)); err != nil {
			return err
		}
		old, err := e.opener(ctx, p.TenantID).memory(m)
		if isUnreadable(err) {
			// Deleting a memory that no longer opens is how its owner
			// cleans it up; its history records the deletion without
			// the text nobody can read.
			e.skip(p.TenantID, "memory", m.ID, err)
			old, err = &engram.Memory{}, nil
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteMemory(ctx, p.TenantID, id); err != nil {
			return notFound(err, "memory")
		}
		h, err := w.history(m, engram.EventDelete, old.Content, "", e.clock())
		if err != nil {
			return err
		}
		if err := tx.InsertHistory(ctx, h); err != nil {
			return err
		}
		return a.record(tx)
	})
	if err == nil {
		kwDone(kwOp{remove: id})
		e.indexRemove(p.TenantID, id)
	}
	kwDone()
	return err
}

// History returns a memory's changes, oldest first. It stays readable after
// the memory is deleted.
func (e *Engine) History(ctx context.Context, id string) (_ []engram.HistoryEntry, err error) {
	a := e.begin(ctx, engram.AuditMemoryHist, engram.TargetMemory, "")
	defer func() { err = a.finish(err) }()
	if !validID(id) {
		return nil, engram.Errorf(engram.CodeNotFound, "memory not found")
	}
	a.entry.TargetID = id
	p, reach, err := a.can(rbac.MemoryRead)
	if err != nil {
		return nil, err
	}
	var (
		rows []store.History
		cur  *store.Memory
	)
	err = e.st.Read(ctx, func(tx store.Tx) (err error) {
		if rows, err = tx.History(ctx, p.TenantID, id); err != nil || len(rows) == 0 {
			return err
		}
		cur, err = tx.Memory(ctx, p.TenantID, id)
		if isNotFound(err) {
			cur, err = nil, nil // deleted: its history stays readable
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || !rbac.Allows(reach, p.AccountID, historyRecord(cur, rows)) {
		return nil, engram.Errorf(engram.CodeNotFound, "memory not found")
	}
	o := e.opener(ctx, p.TenantID)
	out := make([]engram.HistoryEntry, 0, len(rows))
	for _, h := range rows {
		oldText, err := o.open(h.Subject, historyContext(p.TenantID, h.Subject, h.MemoryID, h.ID, "old"), h.Old)
		if err == nil {
			var newText []byte
			newText, err = o.open(h.Subject, historyContext(p.TenantID, h.Subject, h.MemoryID, h.ID, "new"), h.New)
			if err == nil {
				out = append(out, engram.HistoryEntry{MemoryID: h.MemoryID, OldMemory: string(oldText), NewMemory: string(newText), Event: engram.Event(h.Event), CreatedAt: h.CreatedAt})
				continue
			}
		}
		if isUnreadable(err) {
			e.skip(p.TenantID, "history", h.ID, err)
			continue
		}
		return nil, err
	}
	return out, nil
}
