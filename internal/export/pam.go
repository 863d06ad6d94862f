package export

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gowebpki/jcs"
	"golang.org/x/text/unicode/norm"

	"github.com/engram-memory/engram"
)

// Portable AI Memory v1.0 (https://portable-ai-memory.org/spec/v1.0): the
// memory-store document, every Engram record one PAM memory object. The
// mapping and where it departs from the spec are in docs/LIFECYCLE.md
// ("Portable AI Memory").
const (
	PAMSchema        = "portable-ai-memory"
	PAMSchemaVersion = "1.0"
	pamSpecURI       = "https://portable-ai-memory.org/spec/v1.0"
	pamExportedBy    = "engram/1.0.0"
	pamPlatform      = "engram"
	pamCanonical     = "RFC8785"
	// pamIDWidth is the width of the sequence number that starts every
	// memory id: ids then sort (as the spec's checksum sorts them) in the
	// order the records are written, so the checksum can be computed while
	// streaming.
	pamIDWidth = 12
)

// pamKindTypes is the PAM memory type (and custom_type) of each record
// kind. PAM's taxonomy is closed: episodes and topic counts have no type of
// their own and are "custom".
var pamKindTypes = map[string][2]string{
	KindMemory:  {"fact", ""},
	KindFact:    {"fact", ""},
	KindEntity:  {"relationship", ""},
	KindEpisode: {"custom", "engram_episode"},
	KindTopic:   {"custom", "engram_topic_count"},
}

type (
	pamMemory struct {
		ID          string        `json:"id"`
		Type        string        `json:"type"`
		CustomType  *string       `json:"custom_type"`
		Status      string        `json:"status"`
		Content     string        `json:"content"`
		ContentHash string        `json:"content_hash"`
		Temporal    pamTemporal   `json:"temporal"`
		Provenance  pamProvenance `json:"provenance"`
		Access      *pamAccess    `json:"access,omitempty"`
		Metadata    pamMetadata   `json:"metadata"`
	}
	pamTemporal struct {
		CreatedAt    string  `json:"created_at"`
		UpdatedAt    *string `json:"updated_at,omitempty"`
		ValidFrom    *string `json:"valid_from,omitempty"`
		ValidUntil   *string `json:"valid_until"`
		SupersededBy *string `json:"superseded_by"`
	}
	pamProvenance struct {
		Platform       string  `json:"platform"`
		PlatformUserID *string `json:"platform_user_id"`
		Extractor      string  `json:"extractor"`
	}
	pamAccess struct {
		Visibility string `json:"visibility"`
		Exportable bool   `json:"exportable"`
		SharedWith []any  `json:"shared_with"`
	}
	// pamMetadata carries the Engram record itself under "engram": the
	// PAM fields are what another tool reads; this is what Engram's
	// importer reads back, losslessly.
	pamMetadata struct {
		Engram pamRecord `json:"engram"`
	}
	pamRecord struct {
		Kind    string                `json:"kind"`
		Data    json.RawMessage       `json:"data"`
		History []engram.HistoryEntry `json:"history,omitempty"`
	}
	pamIntegrity struct {
		Canonicalization string `json:"canonicalization"`
		Checksum         string `json:"checksum"`
		TotalMemories    int    `json:"total_memories"`
	}
	pamSignature struct {
		Algorithm string `json:"algorithm"`
		PublicKey string `json:"public_key"` // standard base64, as GET /v1/export/keys
		Value     string `json:"value"`      // base64url (RFC 4648 §5), as the spec says
		SignedAt  string `json:"signed_at"`
		KeyID     string `json:"key_id"`
	}
	pamOwner struct {
		ID string `json:"id"`
	}
)

func pamTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func pamTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := pamTime(*t)
	return &s
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// pamContentHash is the spec's §6 content hash: trimmed, lower-cased, NFC,
// whitespace runs collapsed, SHA-256.
func pamContentHash(s string) string {
	s = norm.NFC.String(strings.ToLower(strings.TrimSpace(s)))
	s = strings.Join(strings.Fields(s), " ")
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

// pamOwnerID names the export's tenant and scope: PAM's owner.id, which
// the signature covers.
func pamOwnerID(h Header) string {
	id := "urn:engram:tenant:" + url.QueryEscape(h.Tenant)
	switch h.Scope.Kind {
	case "user":
		id += ":user:" + url.QueryEscape(h.Scope.UserID)
	case "account":
		id += ":account:" + url.QueryEscape(h.Scope.Account)
	}
	return id
}

func parsePAMOwner(id string) (tenant string, sc Scope, err error) {
	parts := strings.Split(id, ":")
	bad := fmt.Errorf("owner.id %q is not an Engram tenant", id)
	if len(parts) < 4 || parts[0] != "urn" || parts[1] != "engram" || parts[2] != "tenant" {
		return "", sc, bad
	}
	if tenant, err = url.QueryUnescape(parts[3]); err != nil {
		return "", sc, bad
	}
	switch {
	case len(parts) == 4:
		sc.Kind = "tenant"
	case len(parts) == 6 && (parts[4] == "user" || parts[4] == "account"):
		v, err := url.QueryUnescape(parts[5])
		if err != nil {
			return "", sc, bad
		}
		sc.Kind = parts[4]
		if sc.Kind == "user" {
			sc.UserID = v
		} else {
			sc.Account = v
		}
	default:
		return "", sc, bad
	}
	return tenant, sc, nil
}

// pamObject maps one record to a PAM memory object; seq (from 1) makes
// its id; exportDate is a topic count's time (it has none of its own).
func pamObject(r *Record, seq int, exportDate string) (*pamMemory, error) {
	v, history := r.data()
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	t := pamKindTypes[r.Kind]
	m := &pamMemory{Type: t[0], CustomType: strPtr(t[1]), Status: "active",
		Provenance: pamProvenance{Platform: pamPlatform, Extractor: pamExportedBy},
		Metadata:   pamMetadata{Engram: pamRecord{Kind: r.Kind, Data: data}}}
	if h, ok := history.([]engram.HistoryEntry); ok {
		m.Metadata.Engram.History = h
	}
	var id string
	switch r.Kind {
	case KindMemory:
		x := r.Memory
		id, m.Content = x.ID, x.Content
		m.Temporal = pamTemporal{CreatedAt: pamTime(x.CreatedAt), UpdatedAt: pamTimePtr(&x.UpdatedAt), ValidUntil: pamTimePtr(x.ExpirationDate)}
		m.Provenance.PlatformUserID = strPtr(x.UserID)
		vis := "shared"
		if x.Visibility == engram.VisibilityPrivate {
			vis = "private"
		}
		m.Access = &pamAccess{Visibility: vis, Exportable: true, SharedWith: []any{}}
	case KindFact:
		x := r.Fact
		id, m.Content = x.ID, x.Fact
		m.Temporal = pamTemporal{CreatedAt: pamTime(x.CreatedAt), ValidFrom: pamTimePtr(&x.ValidAt), ValidUntil: pamTimePtr(x.InvalidAt)}
		m.Provenance.PlatformUserID = strPtr(x.UserID)
		switch {
		case x.InvalidAt != nil:
			m.Status = "superseded" // ended in the world: a newer value or a negation
		case x.ExpiredAt != nil:
			m.Status = "archived" // retired by Engram, kept for history
		}
	case KindEntity:
		x := r.Entity
		id, m.Content = x.ID, x.Name
		if x.Type != "" {
			m.Content += " (" + x.Type + ")"
		}
		m.Temporal = pamTemporal{CreatedAt: pamTime(x.CreatedAt), UpdatedAt: pamTimePtr(&x.UpdatedAt)}
		m.Provenance.PlatformUserID = strPtr(x.UserID)
	case KindEpisode:
		x := r.Episode
		id = x.ID
		m.Content = fmt.Sprintf("Conversation of %d messages (extraction %s)", len(x.Messages), x.Status)
		m.Temporal = pamTemporal{CreatedAt: pamTime(x.CreatedAt), UpdatedAt: pamTimePtr(&x.UpdatedAt)}
		m.Provenance.PlatformUserID = strPtr(x.UserID)
	case KindTopic:
		x := r.Topic
		id = x.Topic
		m.Content = fmt.Sprintf("%d memories about %s", x.Memories, x.Topic)
		m.Temporal = pamTemporal{CreatedAt: exportDate}
	default:
		return nil, fmt.Errorf("export: pam: unknown record kind %q", r.Kind)
	}
	if strings.TrimSpace(m.Content) == "" {
		m.Content = "(empty " + r.Kind + ")" // the schema wants content; the record keeps its own
	}
	m.ID = fmt.Sprintf("%0*d-%s-%s", pamIDWidth, seq, r.Kind, id)
	m.ContentHash = pamContentHash(m.Content)
	return m, nil
}

// pamWriter streams a PAM memory store. The document's memories are
// written in RFC 8785 canonical form, one a line; the checksum is the
// SHA-256 of the canonical array ("[" + the objects joined by "," + "]"),
// hashed as they are written, which is the spec's checksum because the
// ids sort in writing order.
type pamWriter struct {
	bw                   *bufio.Writer
	h                    hash.Hash
	counts               map[string]int
	n                    int
	exportID, exportDate string
	owner                string
}

// NewPAMWriter writes a Portable AI Memory v1.0 document to w.
func NewPAMWriter(w io.Writer) Encoder {
	return &pamWriter{bw: bufio.NewWriterSize(w, 32<<10), h: sha256.New(), counts: map[string]int{}}
}

func (x *pamWriter) Begin(h Header) error {
	x.exportID, x.exportDate, x.owner = uuid.NewString(), pamTime(h.CreatedAt), pamOwnerID(h)
	hb, err := json.Marshal(struct {
		Schema        string   `json:"schema"`
		SchemaVersion string   `json:"schema_version"`
		SpecURI       string   `json:"spec_uri"`
		ExportID      string   `json:"export_id"`
		ExportedBy    string   `json:"exported_by"`
		ExportDate    string   `json:"export_date"`
		ExportType    string   `json:"export_type"`
		Owner         pamOwner `json:"owner"`
	}{PAMSchema, PAMSchemaVersion, pamSpecURI, x.exportID, pamExportedBy, x.exportDate, "full", pamOwner{x.owner}})
	if err != nil {
		return err
	}
	x.h.Write([]byte("["))
	_, err = x.bw.Write(append(hb[:len(hb)-1], `,"memories":[`...))
	return err
}

func (x *pamWriter) Write(r *Record) error {
	m, err := pamObject(r, x.n+1, x.exportDate)
	if err != nil {
		return err
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if b, err = jcs.Transform(b); err != nil {
		return err
	}
	sep := "\n"
	if x.n > 0 {
		sep = ",\n"
		x.h.Write([]byte(","))
	}
	x.h.Write(b)
	if _, err := x.bw.WriteString(sep); err != nil {
		return err
	}
	if _, err := x.bw.Write(b); err != nil {
		return err
	}
	x.n++
	x.counts[r.Kind]++
	return nil
}

func (x *pamWriter) Counts() map[string]int { return maps.Clone(x.counts) }

// pamPayload is the canonical bytes the signature covers (spec §18.3).
func pamPayload(checksum, exportID, exportDate, owner string) ([]byte, error) {
	b, err := json.Marshal(map[string]string{"checksum": checksum, "export_id": exportID, "export_date": exportDate, "owner_id": owner})
	if err != nil {
		return nil, err
	}
	return jcs.Transform(b)
}

func (x *pamWriter) Finish(key ed25519.PrivateKey) error {
	x.h.Write([]byte("]"))
	sum := "sha256:" + hex.EncodeToString(x.h.Sum(nil))
	payload, err := pamPayload(sum, x.exportID, x.exportDate, x.owner)
	if err != nil {
		return err
	}
	pub := key.Public().(ed25519.PublicKey)
	tb, err := json.Marshal(struct {
		Relations          []any        `json:"relations"`
		ConversationsIndex []any        `json:"conversations_index"`
		Integrity          pamIntegrity `json:"integrity"`
		Signature          pamSignature `json:"signature"`
	}{[]any{}, []any{}, pamIntegrity{pamCanonical, sum, x.n},
		pamSignature{Algorithm: SignatureAlg, PublicKey: base64.StdEncoding.EncodeToString(pub),
			Value: base64.RawURLEncoding.EncodeToString(ed25519.Sign(key, payload)), SignedAt: x.exportDate, KeyID: KeyID(pub)}})
	if err != nil {
		return err
	}
	if _, err := x.bw.WriteString("\n]," + string(tb[1:]) + "\n"); err != nil {
		return err
	}
	return x.bw.Flush()
}

// pamReader walks a PAM document once, a memory object at a time. It is
// both the decoder and the verifier's reader: each holds what it needs.
type pamReader struct {
	lim *recordLimit
	dec *json.Decoder
	// header fields, in document order before the memories
	schema, version, exportID, exportDate, owner string
	h                                            Header
	// read after the memories
	integrity *pamIntegrity
	signature *pamSignature
	extra     []string // non-empty fields the signature does not cover
	n         int
	lastID    string
	inArray   bool
	done      bool
}

// pamFields are the root fields an Engram PAM document has.
var pamFields = map[string]bool{"schema": true, "schema_version": true, "spec_uri": true, "export_id": true, "exported_by": true,
	"export_date": true, "export_type": true, "owner": true, "memories": true, "relations": true, "conversations_index": true,
	"integrity": true, "signature": true}

func newPAMReader(r io.Reader) (*pamReader, error) {
	p := &pamReader{lim: newRecordLimit(r)}
	p.dec = json.NewDecoder(p.lim)
	if t, err := p.dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	if err := p.fields(true); err != nil {
		return nil, err
	}
	if p.schema != PAMSchema || p.version != PAMSchemaVersion {
		return nil, fmt.Errorf("schema %q version %q is not %s %s", p.schema, p.version, PAMSchema, PAMSchemaVersion)
	}
	var err error
	if p.h.Tenant, p.h.Scope, err = parsePAMOwner(p.owner); err != nil {
		return nil, err
	}
	if p.h.CreatedAt, err = time.Parse(time.RFC3339Nano, p.exportDate); err != nil {
		return nil, fmt.Errorf("export_date: %v", err)
	}
	return p, nil
}

// fields reads root fields: up to the memories array's first element when
// head, else to the end of the document.
func (p *pamReader) fields(head bool) error {
	for p.dec.More() {
		t, err := p.dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		if !pamFields[name] {
			return fmt.Errorf("unknown field %v", t)
		}
		var dst any
		switch name {
		case "memories":
			if !head || p.inArray {
				return fmt.Errorf("memories twice")
			}
			if t, err := p.dec.Token(); err != nil || t != json.Delim('[') {
				return fmt.Errorf("memories is not an array")
			}
			p.inArray = true
			return nil
		case "schema":
			dst = &p.schema
		case "schema_version":
			dst = &p.version
		case "export_id":
			dst = &p.exportID
		case "export_date":
			dst = &p.exportDate
		case "owner":
			var o pamOwner
			if err := p.dec.Decode(&o); err != nil {
				return fmt.Errorf("owner: %v", err)
			}
			p.owner = o.ID
			continue
		case "integrity":
			p.integrity = &pamIntegrity{}
			dst = p.integrity
		case "signature":
			p.signature = &pamSignature{}
			dst = p.signature
		case "relations", "conversations_index":
			var list []json.RawMessage
			if err := p.dec.Decode(&list); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			if len(list) > 0 {
				p.extra = append(p.extra, name)
			}
			continue
		default:
			dst = new(json.RawMessage)
		}
		if err := p.dec.Decode(dst); err != nil {
			return fmt.Errorf("field %s: %v", name, err)
		}
	}
	if head {
		return fmt.Errorf("no memories")
	}
	if _, err := p.dec.Token(); err != nil {
		return err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return fmt.Errorf("bytes after the document")
	}
	return nil
}

// next returns the next memory object's raw bytes and its Engram record,
// or io.EOF after the last (the rest of the document is then read).
func (p *pamReader) next() (json.RawMessage, *Record, error) {
	if p.done {
		return nil, nil, io.EOF
	}
	p.lim.reset()
	if !p.dec.More() {
		if _, err := p.dec.Token(); err != nil { // ]
			return nil, nil, err
		}
		p.done = true
		if err := p.fields(false); err != nil {
			return nil, nil, err
		}
		return nil, nil, io.EOF
	}
	var raw json.RawMessage
	if err := p.dec.Decode(&raw); err != nil {
		return nil, nil, fmt.Errorf("memory %d: %w", p.n, err)
	}
	var m struct {
		ID       string      `json:"id"`
		Metadata pamMetadata `json:"metadata"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("memory %d: %v", p.n, err)
	}
	if p.n > 0 && m.ID <= p.lastID {
		return nil, nil, fmt.Errorf("memory %d: ids are not in ascending order", p.n)
	}
	p.lastID = m.ID
	rec, err := m.Metadata.Engram.record()
	if err != nil {
		return nil, nil, fmt.Errorf("memory %d: %v", p.n, err)
	}
	p.n++
	return raw, rec, nil
}

// record is the Engram record a PAM memory object carries.
func (e *pamRecord) record() (*Record, error) {
	r, dst := emptyRecord(e.Kind)
	if r == nil {
		return nil, fmt.Errorf("metadata.engram.kind %q is not an Engram record kind", e.Kind)
	}
	if err := json.Unmarshal(e.Data, dst); err != nil {
		return nil, fmt.Errorf("metadata.engram.data: %v", err)
	}
	if r.Kind == KindMemory {
		r.History = e.History
		if r.History == nil {
			r.History = []engram.HistoryEntry{}
		}
	}
	return r, nil
}

// pamDecoder is the Decoder of PAM documents written by Engram.
type pamDecoder struct{ p *pamReader }

func newPAMDecoder(r io.Reader) (*pamDecoder, error) {
	p, err := newPAMReader(r)
	if err != nil {
		return nil, fmt.Errorf("export: pam: %w", err)
	}
	return &pamDecoder{p}, nil
}

func (d *pamDecoder) Header() Header { return d.p.h }

func (d *pamDecoder) Next() (*Record, error) {
	_, r, err := d.p.next()
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("export: pam: %w", err)
	}
	return r, err
}

// verifyPAM checks a PAM document read once from r: the spec's checksum
// (RFC 8785 over the memories, which must be in ascending id order), the
// count, and the Ed25519 signature over the canonical payload.
func verifyPAM(r io.Reader, pin ed25519.PublicKey) (*Report, error) {
	rep, err := checkPAM(r, pin)
	if err != nil && !errors.Is(err, ErrTampered) {
		err = tampered("%v", err)
	}
	return rep, err
}

// checkPAM is verifyPAM but for the wrapping of its errors.
func checkPAM(r io.Reader, pin ed25519.PublicKey) (*Report, error) {
	p, err := newPAMReader(r)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte("["))
	seen := map[string]int{}
	for {
		raw, rec, err := p.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		c, err := jcs.Transform(raw)
		if err != nil {
			return nil, fmt.Errorf("memory %d: %v", p.n-1, err)
		}
		if p.n > 1 {
			h.Write([]byte(","))
		}
		h.Write(c)
		seen[rec.Kind]++
	}
	h.Write([]byte("]"))
	if p.integrity == nil || p.signature == nil {
		return nil, fmt.Errorf("no integrity or signature block (truncated or unsigned)")
	}
	if c := p.integrity.Canonicalization; c != "" && c != pamCanonical {
		return nil, fmt.Errorf("canonicalization %q is not %s", c, pamCanonical)
	}
	if p.integrity.TotalMemories != p.n {
		return nil, fmt.Errorf("integrity.total_memories says %d, the document holds %d", p.integrity.TotalMemories, p.n)
	}
	if err := matchChecksum("sha256:"+hex.EncodeToString(h.Sum(nil)), p.integrity.Checksum); err != nil {
		return nil, err
	}
	if len(p.extra) > 0 {
		return nil, fmt.Errorf("%s not empty: Engram writes none, and the signature would not cover them", strings.Join(p.extra, ", "))
	}
	s := p.signature
	pub, err := signer(s.Algorithm, s.PublicKey, s.KeyID, pin)
	if err != nil {
		return nil, err
	}
	payload, err := pamPayload(p.integrity.Checksum, p.exportID, p.exportDate, p.owner)
	if err != nil {
		return nil, err
	}
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s.Value, "="))
	if err != nil || !ed25519.Verify(pub, payload, sig) {
		return nil, fmt.Errorf("signature does not verify")
	}
	return &Report{Header: p.h, Format: PAMSchema, Version: 1, Counts: countsOf(seen), KeyID: s.KeyID, PublicKey: pub, Pinned: pin != nil}, nil
}
