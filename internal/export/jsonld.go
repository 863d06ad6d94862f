package export

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"time"

	"github.com/engram-memory/engram"
)

// FormatJSONLD names the JSON-LD document: the json format's header,
// counts and signed trailer, with an @context and the records as the nodes
// of an @graph (docs/LIFECYCLE.md, "JSON-LD").
const FormatJSONLD = "engram-export-jsonld"

// Node IRIs: Engram's ids are opaque strings, so a node's @id is a URN
// made of its kind and its (escaped) id.
const (
	iriMemory  = "urn:engram:memory:"
	iriEpisode = "urn:engram:episode:"
	iriEntity  = "urn:engram:entity:"
	iriFact    = "urn:engram:fact:"
	iriTopic   = "urn:engram:topic:"
	iriAccount = "urn:engram:account:"
)

// ldTypes is the engram: class that names each record kind; a node's
// @type holds it first, then the schema.org or PROV-O classes it also is.
var ldTypes = map[string]string{
	KindMemory: "engram:Memory", KindEpisode: "engram:Episode", KindEntity: "engram:Entity",
	KindFact: "engram:Fact", KindTopic: "engram:TopicCount",
}

// ldEntityTypes maps an entity's type to its schema.org class; any other
// type (pet, other, a caller's word) is a schema:Thing.
var ldEntityTypes = map[string]string{
	engram.EntityPerson: "schema:Person", engram.EntityOrganisation: "schema:Organization",
	engram.EntityPlace: "schema:Place", engram.EntityProduct: "schema:Product", engram.EntityEvent: "schema:Event",
}

// ldContext is the document's @context. The property names are the json
// format's own (a node is the record's data with @id and @type added), so
// the same bytes read as plain JSON and as linked data: schema.org for
// what things are called and when they changed, PROV-O for where they came
// from (generatedAtTime, wasDerivedFrom, wasAttributedTo), engram: for the
// rest. metadata and error are JSON literals (@json): kept as written.
const ldContext = `{
 "@version": 1.1,
 "schema": "https://schema.org/",
 "prov": "http://www.w3.org/ns/prov#",
 "xsd": "http://www.w3.org/2001/XMLSchema#",
 "engram": "urn:engram:vocab:",
 "format": "engram:format", "version": "engram:version", "tenant": "engram:tenant",
 "scope": {"@id": "engram:scope", "@type": "@json"},
 "counts": {"@id": "engram:counts", "@type": "@json"},
 "checksum": "engram:checksum",
 "signature": {"@id": "engram:signature", "@type": "@json"},
 "id": "schema:identifier", "episode_id": "schema:identifier",
 "memory": "schema:text", "content": "schema:text", "fact": "schema:description",
 "name": "schema:name", "aliases": "schema:alternateName",
 "created_at": {"@id": "prov:generatedAtTime", "@type": "xsd:dateTime"},
 "updated_at": {"@id": "schema:dateModified", "@type": "xsd:dateTime"},
 "expiration_date": {"@id": "schema:expires", "@type": "xsd:dateTime"},
 "timestamp": {"@id": "schema:dateCreated", "@type": "xsd:dateTime"},
 "wasAttributedTo": {"@id": "prov:wasAttributedTo", "@type": "@id"},
 "wasDerivedFrom": {"@id": "prov:wasDerivedFrom", "@type": "@id"},
 "user_id": "engram:userId", "agent_id": "engram:agentId", "run_id": "engram:runId",
 "author_id": "engram:authorId", "visibility": "engram:visibility",
 "metadata": {"@id": "engram:metadata", "@type": "@json"},
 "history": {"@id": "engram:history", "@container": "@list"},
 "memory_id": "engram:memoryId", "old_memory": "engram:oldMemory", "new_memory": "engram:newMemory",
 "event": "engram:event",
 "status": "engram:status", "extractor": "engram:extractor", "attempts": "engram:attempts",
 "error": {"@id": "engram:error", "@type": "@json"},
 "messages": {"@id": "engram:messages", "@container": "@list"}, "role": "engram:role",
 "memories": "engram:memories", "entities": "engram:entities", "facts": "engram:facts",
 "type": "engram:entityType", "mentions": "engram:mentions", "observations": "engram:observations",
 "subject": "engram:subject", "predicate": "engram:predicate", "object": "engram:object", "value": "engram:value",
 "valid_at": {"@id": "engram:validAt", "@type": "xsd:dateTime"},
 "invalid_at": {"@id": "engram:invalidAt", "@type": "xsd:dateTime"},
 "expired_at": {"@id": "engram:expiredAt", "@type": "xsd:dateTime"},
 "episodes": "engram:episodes", "score": "engram:score", "topic": "engram:topic"
}`

// ldContextCompact is ldContext as written in documents: one line.
var ldContextCompact = func() []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(ldContext)); err != nil {
		panic(err)
	}
	return b.Bytes()
}()

var jsonldLayout = layout{head: jsonldHead, node: jsonldNode}

// NewJSONLDWriter writes the JSON-LD format to w: the same Writer (and so
// the same checksum and signed trailer) as the json format.
func NewJSONLDWriter(w io.Writer) *Writer { return newWriter(w, jsonldLayout) }

func jsonldHead(h Header) ([]byte, error) {
	hb, err := json.Marshal(struct {
		Type      string    `json:"@type"`
		Format    string    `json:"format"`
		Version   int       `json:"version"`
		Tenant    string    `json:"tenant"`
		Scope     Scope     `json:"scope"`
		CreatedAt time.Time `json:"created_at"`
	}{"engram:Export", FormatJSONLD, Version, h.Tenant, h.Scope, h.CreatedAt.UTC()})
	if err != nil {
		return nil, err
	}
	out := append([]byte(`{"@context":`), ldContextCompact...)
	out = append(out, ',')
	out = append(out, hb[1:len(hb)-1]...)
	return append(out, `,"@graph":[`...), nil
}

func iri(prefix, id string) string { return prefix + url.PathEscape(id) }

// The node types embed the record's own struct, so its fields are the
// node's properties exactly as in the json format; a decoder reads them
// back into the same struct.
type (
	ldMemory struct {
		ID   string   `json:"@id"`
		Type []string `json:"@type"`
		*engram.Memory
		AttributedTo string                `json:"wasAttributedTo,omitempty"`
		History      []engram.HistoryEntry `json:"history"`
	}
	ldEpisode struct {
		ID   string   `json:"@id"`
		Type []string `json:"@type"`
		*engram.Episode
	}
	ldEntity struct {
		ID   string   `json:"@id"`
		Type []string `json:"@type"`
		*engram.Entity
	}
	ldFact struct {
		ID   string   `json:"@id"`
		Type []string `json:"@type"`
		*engram.Fact
		DerivedFrom []string `json:"wasDerivedFrom,omitempty"`
	}
	ldTopic struct {
		ID   string   `json:"@id"`
		Type []string `json:"@type"`
		*engram.TopicCount
	}
)

// jsonldNode is a record as a JSON-LD node.
func jsonldNode(r *Record) any {
	switch r.Kind {
	case KindMemory:
		n := &ldMemory{ID: iri(iriMemory, r.Memory.ID), Type: []string{ldTypes[KindMemory], "prov:Entity"}, Memory: r.Memory,
			History: r.History}
		if n.History == nil {
			n.History = []engram.HistoryEntry{}
		}
		if r.Memory.AuthorID != "" {
			n.AttributedTo = iri(iriAccount, r.Memory.AuthorID)
		}
		return n
	case KindEpisode:
		return &ldEpisode{ID: iri(iriEpisode, r.Episode.ID), Type: []string{ldTypes[KindEpisode], "prov:Activity"}, Episode: r.Episode}
	case KindEntity:
		class, ok := ldEntityTypes[r.Entity.Type]
		if !ok {
			class = "schema:Thing"
		}
		return &ldEntity{ID: iri(iriEntity, r.Entity.ID), Type: []string{ldTypes[KindEntity], class}, Entity: r.Entity}
	case KindFact:
		n := &ldFact{ID: iri(iriFact, r.Fact.ID), Type: []string{ldTypes[KindFact], "prov:Entity"}, Fact: r.Fact}
		for _, ep := range r.Fact.Episodes {
			n.DerivedFrom = append(n.DerivedFrom, iri(iriEpisode, ep))
		}
		return n
	case KindTopic:
		return &ldTopic{ID: iri(iriTopic, r.Topic.Topic), Type: []string{ldTypes[KindTopic]}, TopicCount: r.Topic}
	}
	return nil
}

// ldKind is the record kind a node's @type names, "" when none.
func ldKind(raw json.RawMessage) string {
	var n struct {
		Type json.RawMessage `json:"@type"`
	}
	if json.Unmarshal(raw, &n) != nil || len(n.Type) == 0 {
		return ""
	}
	var types []string
	if json.Unmarshal(n.Type, &types) != nil {
		var one string
		if json.Unmarshal(n.Type, &one) != nil {
			return ""
		}
		types = []string{one}
	}
	for k, t := range ldTypes {
		if slices.Contains(types, t) {
			return k
		}
	}
	return ""
}

// ldRecord reads one node back into a Record: a node is the record's
// own fields plus links, so the record's struct reads it as is.
func ldRecord(raw json.RawMessage) (*Record, error) {
	r, data := emptyRecord(ldKind(raw))
	if r == nil {
		return nil, fmt.Errorf("node has no engram: record @type")
	}
	if err := json.Unmarshal(raw, data); err != nil {
		return nil, err
	}
	if r.Kind == KindMemory {
		var n struct {
			History []engram.HistoryEntry `json:"history"`
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, err
		}
		r.History = n.History
	}
	return r, nil
}

// emptyRecord is a Record of kind with its struct allocated, and that
// struct, to decode into; nil for a kind that is not a record's.
func emptyRecord(kind string) (*Record, any) {
	r := &Record{Kind: kind}
	switch kind {
	case KindMemory:
		r.Memory = &engram.Memory{}
		return r, r.Memory
	case KindEpisode:
		r.Episode = &engram.Episode{}
		return r, r.Episode
	case KindEntity:
		r.Entity = &engram.Entity{}
		return r, r.Entity
	case KindFact:
		r.Fact = &engram.Fact{}
		return r, r.Fact
	case KindTopic:
		r.Topic = &engram.TopicCount{}
		return r, r.Topic
	}
	return nil, nil
}

// jsonldDecoder reads a JSON-LD document a node at a time.
type jsonldDecoder struct {
	lim *recordLimit
	dec *json.Decoder
	h   Header
	n   int
	end bool
}

// newJSONLDDecoder reads the header (everything before @graph) and stops
// at the first node.
func newJSONLDDecoder(r io.Reader) (*jsonldDecoder, error) {
	d := &jsonldDecoder{lim: newRecordLimit(r)}
	d.dec = json.NewDecoder(d.lim)
	if t, err := d.dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("export: jsonld: not a JSON object")
	}
	var format string
	var version int
	for d.dec.More() {
		t, err := d.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("export: jsonld: %w", err)
		}
		var dst any
		switch t {
		case "@graph":
			if format != FormatJSONLD || version != Version {
				return nil, fmt.Errorf("export: jsonld: format %q version %d is not %s version %d", format, version, FormatJSONLD, Version)
			}
			if t, err := d.dec.Token(); err != nil || t != json.Delim('[') {
				return nil, fmt.Errorf("export: jsonld: @graph is not an array")
			}
			return d, nil
		case "format":
			dst = &format
		case "version":
			dst = &version
		case "tenant":
			dst = &d.h.Tenant
		case "scope":
			dst = &d.h.Scope
		case "created_at":
			dst = &d.h.CreatedAt
		default:
			dst = new(json.RawMessage) // @context, @type
		}
		if err := d.dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("export: jsonld: field %v: %w", t, err)
		}
	}
	return nil, fmt.Errorf("export: jsonld: no @graph")
}

func (d *jsonldDecoder) Header() Header { return d.h }

func (d *jsonldDecoder) Next() (*Record, error) {
	if d.end || !d.dec.More() {
		d.end = true
		return nil, io.EOF
	}
	d.lim.reset()
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("export: jsonld: node %d: %w", d.n, err)
	}
	r, err := ldRecord(raw)
	if err != nil {
		return nil, fmt.Errorf("export: jsonld: node %d: %w", d.n, err)
	}
	d.n++
	return r, nil
}

// decoderOf returns nil, not a nil pointer, with an error.
func decoderOf[D Decoder](d D, err error) (Decoder, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}
