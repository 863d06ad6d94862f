package export

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/gowebpki/jcs"
)

// fixture is one record of every kind, with markers (unique strings),
// unicode and metadata of every JSON type.
func fixture() []*Record {
	t0 := time.Date(2026, 3, 1, 9, 30, 15, 123456789, time.UTC)
	t1, t2, exp := t0.Add(time.Hour), t0.Add(48*time.Hour), t0.Add(90*24*time.Hour)
	meta := map[string]any{
		"marker-string": "MK-meta-Ünïcødé ☕ 日本語 \u2028 <b>&", "int": float64(42), "float": 3.25, "neg": -1e-7, "big": 1e21,
		"yes": true, "no": false, "nothing": nil, "list": []any{"MK-list", float64(1), nil, true, map[string]any{"k": "v"}},
		"obj": map[string]any{"nested": map[string]any{"deep": "MK-deep"}}, "checksum": "x", "@id": "not-an-iri",
	}
	return []*Record{
		{Kind: KindMemory, Memory: &engram.Memory{ID: "mem-1", Content: "MK-memory likes matcha 抹茶 🍵", UserID: "u:1/é", AgentID: "a1",
			RunID: "r1", Metadata: meta, CreatedAt: t0, UpdatedAt: t1, AuthorID: "acc 1", Visibility: engram.VisibilityPrivate, ExpirationDate: &exp},
			History: []engram.HistoryEntry{
				{MemoryID: "mem-1", Event: engram.EventAdd, NewMemory: "MK-hist-1 likes tea", CreatedAt: t0},
				{MemoryID: "mem-1", Event: engram.EventUpdate, OldMemory: "MK-hist-1 likes tea", NewMemory: "MK-memory likes matcha 抹茶 🍵", CreatedAt: t1},
			}},
		{Kind: KindMemory, Memory: &engram.Memory{ID: "mem-2", Content: "MK-memory-2 plain", Metadata: map[string]any{}, CreatedAt: t0, UpdatedAt: t0,
			Visibility: engram.VisibilityShared}, History: []engram.HistoryEntry{}},
		{Kind: KindEpisode, Episode: &engram.Episode{ID: "ep-1", Status: engram.EpisodeFailed, UserID: "u:1/é", AgentID: "a1", RunID: "r1", Extractor: "builtin",
			Memories: []engram.AddResult{{ID: "mem-1", Content: "MK-ep-mem", Event: engram.EventAdd}},
			Entities: []engram.EntityRef{{ID: "ent-1", Name: "Ann", Type: "person", Event: "add"}},
			Facts:    []engram.FactRef{{ID: "f-1", Fact: "MK-ep-fact", Event: "add"}},
			Error:    &engram.EpisodeError{Code: "MK-code", Message: "MK-err"}, Attempts: 3, CreatedAt: t0, UpdatedAt: t2,
			Messages: []engram.ObserveMessage{{Role: "user", Content: "MK-msg-1 Ich heiße Ann 👋", Name: "ann", Timestamp: &t0}, {Role: "assistant", Content: "MK-msg-2"}}}},
		{Kind: KindEntity, Entity: &engram.Entity{ID: "ent-1", Name: "MK-Ann Ångström", Type: engram.EntityPerson, Aliases: []string{"MK-alias"}, Mentions: 7,
			UserID: "u:1/é", CreatedAt: t0, UpdatedAt: t1, Observations: []string{"MK-obs"}}},
		{Kind: KindEntity, Entity: &engram.Entity{ID: "ent-2", Name: "MK-Acme", Type: engram.EntityOrganisation, Aliases: []string{}, CreatedAt: t0, UpdatedAt: t0}},
		{Kind: KindEntity, Entity: &engram.Entity{ID: "ent-3", Name: "MK-Kyōto", Type: "city-ish", Aliases: []string{}, CreatedAt: t0, UpdatedAt: t0}},
		{Kind: KindFact, Fact: &engram.Fact{ID: "f-1", Fact: "MK-fact Ann works at Acme", Subject: engram.EntityRef{ID: "ent-1", Name: "Ann", Type: "person"},
			Predicate: "works_at", Object: &engram.EntityRef{ID: "ent-2", Name: "Acme", Type: "organisation"}, ValidAt: t0, InvalidAt: &t2,
			CreatedAt: t0, ExpiredAt: &t2, Episodes: []string{"ep-1", "ep 2"}, UserID: "u:1/é"}},
		{Kind: KindFact, Fact: &engram.Fact{ID: "f-2", Fact: "MK-fact-2 Ann likes jazz", Subject: engram.EntityRef{ID: "ent-1", Name: "Ann"},
			Predicate: "likes", Value: "MK-jazz", ValidAt: t1, CreatedAt: t1, Episodes: []string{}}},
		{Kind: KindTopic, Topic: &engram.TopicCount{Topic: "food", Memories: 3}},
	}
}

var testHeader = Header{Tenant: "acme:1", Scope: Scope{Kind: "user", UserID: "u:1/é"}, CreatedAt: time.Date(2026, 12, 5, 8, 0, 0, 5, time.UTC)}

func encode(t *testing.T, format string, key ed25519.PrivateKey, recs []*Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := NewEncoder(format, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := enc.Begin(testHeader); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := enc.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Finish(key); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// canonical is a record as the json format writes it: two records are
// the same data when these bytes are equal.
func canonical(t *testing.T, r *Record) string {
	t.Helper()
	b, err := json.Marshal(jsonNode(r))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var signedFormats = []string{engram.ExportJSONLD, engram.ExportPAM}

func TestFormatRoundTrip(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	recs := fixture()
	for _, format := range signedFormats {
		t.Run(format, func(t *testing.T) {
			doc := encode(t, format, key, recs)
			if !json.Valid(doc) {
				t.Fatalf("not JSON: %s", doc)
			}
			dec, err := NewDecoder(format, bytes.NewReader(doc))
			if err != nil {
				t.Fatal(err)
			}
			if h := dec.Header(); h.Tenant != testHeader.Tenant || h.Scope != testHeader.Scope || !h.CreatedAt.Equal(testHeader.CreatedAt) {
				t.Fatalf("header %+v, want %+v", h, testHeader)
			}
			for i := 0; ; i++ {
				r, err := dec.Next()
				if err == io.EOF {
					if i != len(recs) {
						t.Fatalf("%d records read, want %d", i, len(recs))
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if i >= len(recs) {
					t.Fatalf("extra record %+v", r)
				}
				if got, want := canonical(t, r), canonical(t, recs[i]); got != want {
					t.Errorf("record %d (%s):\n got %s\nwant %s", i, recs[i].Kind, got, want)
				}
			}
			if _, err := dec.Next(); err != io.EOF {
				t.Fatalf("after the end: %v", err)
			}
			for _, marker := range []string{"MK-memory likes matcha 抹茶 🍵", "MK-hist-1", "MK-deep", "MK-msg-1", "MK-obs", "MK-jazz"} {
				if !strings.Contains(string(doc), marker) {
					t.Errorf("marker %q not written as is", marker)
				}
			}
		})
	}
}

func TestJSONLDShape(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	doc := encode(t, engram.ExportJSONLD, key, fixture())
	var d struct {
		Context map[string]any   `json:"@context"`
		Graph   []map[string]any `json:"@graph"`
		Format  string           `json:"format"`
	}
	must(t, json.Unmarshal(doc, &d))
	if d.Format != FormatJSONLD || d.Context["schema"] != "https://schema.org/" || d.Context["prov"] != "http://www.w3.org/ns/prov#" {
		t.Fatalf("context %v", d.Context)
	}
	types := func(n map[string]any) string { b, _ := json.Marshal(n["@type"]); return string(b) }
	for _, c := range []struct {
		i          int
		id, typ    string
		key, value string
	}{
		{0, "urn:engram:memory:mem-1", `["engram:Memory","prov:Entity"]`, "wasAttributedTo", "urn:engram:account:acc%201"},
		{2, "urn:engram:episode:ep-1", `["engram:Episode","prov:Activity"]`, "", ""},
		{3, "urn:engram:entity:ent-1", `["engram:Entity","schema:Person"]`, "", ""},
		{4, "urn:engram:entity:ent-2", `["engram:Entity","schema:Organization"]`, "", ""},
		{5, "urn:engram:entity:ent-3", `["engram:Entity","schema:Thing"]`, "", ""},
		{6, "urn:engram:fact:f-1", `["engram:Fact","prov:Entity"]`, "", ""},
	} {
		n := d.Graph[c.i]
		if n["@id"] != c.id || types(n) != c.typ || (c.key != "" && n[c.key] != c.value) {
			t.Errorf("node %d: @id %v @type %s %s=%v", c.i, n["@id"], types(n), c.key, n[c.key])
		}
	}
	if got := d.Graph[6]["wasDerivedFrom"]; len(got.([]any)) != 2 || got.([]any)[1] != "urn:engram:episode:ep%202" {
		t.Errorf("wasDerivedFrom %v", got)
	}
	// Every property a node uses is a term of the context: nothing is
	// dropped by a JSON-LD processor.
	for i, n := range d.Graph {
		for k := range n {
			if _, ok := d.Context[k]; !ok && !strings.HasPrefix(k, "@") {
				t.Errorf("node %d: property %q is not in the @context", i, k)
			}
		}
	}
}

func TestPAMShape(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	doc := encode(t, engram.ExportPAM, key, fixture())
	var d struct {
		Schema   string           `json:"schema"`
		Version  string           `json:"schema_version"`
		ExportID string           `json:"export_id"`
		Owner    pamOwner         `json:"owner"`
		Memories []map[string]any `json:"memories"`
	}
	must(t, json.Unmarshal(doc, &d))
	if d.Schema != PAMSchema || d.Version != "1.0" || len(d.ExportID) != 36 || d.Owner.ID != "urn:engram:tenant:acme%3A1:user:u%3A1%2F%C3%A9" {
		t.Fatalf("root %+v", d)
	}
	get := func(i int, path ...string) any {
		var v any = d.Memories[i]
		for _, p := range path {
			v = v.(map[string]any)[p]
		}
		return v
	}
	for _, c := range []struct {
		i     int
		path  []string
		value any
	}{
		{0, []string{"id"}, "000000000001-memory-mem-1"},
		{0, []string{"type"}, "fact"},
		{0, []string{"status"}, "active"},
		{0, []string{"access", "visibility"}, "private"},
		{0, []string{"temporal", "valid_until"}, "2026-05-30T09:30:15.123456789Z"},
		{0, []string{"content_hash"}, pamContentHash("mk-memory   likes matcha 抹茶 🍵 ")},
		{2, []string{"custom_type"}, "engram_episode"},
		{3, []string{"type"}, "relationship"},
		{6, []string{"status"}, "superseded"},
		{6, []string{"temporal", "valid_from"}, "2026-03-01T09:30:15.123456789Z"},
		{6, []string{"temporal", "valid_until"}, "2026-03-03T09:30:15.123456789Z"},
		{7, []string{"status"}, "active"},
		{7, []string{"temporal", "valid_until"}, nil},
		{8, []string{"custom_type"}, "engram_topic_count"},
	} {
		if got := get(c.i, c.path...); got != c.value {
			t.Errorf("memory %d %v = %v, want %v", c.i, c.path, got, c.value)
		}
	}
	// What the spec's JSON Schema requires of every memory object.
	types := "fact preference skill context relationship goal instruction identity environment project custom"
	statuses := "active superseded deprecated retracted archived"
	allowed := "id type custom_type status content content_hash summary tags confidence temporal provenance access embedding_ref metadata"
	hash := regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	for i, m := range d.Memories {
		for k := range m {
			if !slices.Contains(strings.Fields(allowed), k) {
				t.Errorf("memory %d: field %q is not in the schema", i, k)
			}
		}
		typ, _ := m["type"].(string)
		custom, isString := m["custom_type"].(string)
		if !slices.Contains(strings.Fields(types), typ) || (typ == "custom") != isString || (isString && custom == "") ||
			!slices.Contains(strings.Fields(statuses), m["status"].(string)) || m["content"] == "" || !hash.MatchString(m["content_hash"].(string)) {
			t.Errorf("memory %d: %v", i, m)
		}
		if _, err := time.Parse(time.RFC3339Nano, get(i, "temporal", "created_at").(string)); err != nil || get(i, "provenance", "platform") != "engram" {
			t.Errorf("memory %d: temporal %v provenance %v", i, m["temporal"], m["provenance"])
		}
	}
	now := time.Now().UTC()
	retired, err := pamObject(&Record{Kind: KindFact, Fact: &engram.Fact{ID: "f", Fact: "x", ExpiredAt: &now}}, 1, "2026-01-01T00:00:00Z")
	if err != nil || retired.Status != "archived" || retired.Temporal.ValidUntil != nil {
		t.Errorf("a fact Engram retired: %+v %v", retired, err)
	}
	empty, err := pamObject(&Record{Kind: KindEntity, Entity: &engram.Entity{ID: "e"}}, 1, "2026-01-01T00:00:00Z")
	if err != nil || empty.Content == "" {
		t.Errorf("an entity without a name: %+v %v", empty, err)
	}

	// The spec's example hash (portable-ai-memory.org, integrity).
	if h := pamContentHash("User is a cloud infrastructure engineer"); h != "sha256:e1bae3ec291c99eced01fc91b4152a0cef541fccf2034fc11b3f90f4e4d79b6e" {
		t.Errorf("content hash %s", h)
	}
}

// TestVerifyEveryFormat: each signed format verifies, and each tampering
// is caught: a flipped byte in a record, a removed record, a changed
// count, a foreign key when pinned, a truncation.
func TestVerifyEveryFormat(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, otherKey, _ := ed25519.GenerateKey(nil)
	for _, format := range append([]string{engram.ExportJSON}, signedFormats...) {
		t.Run(format, func(t *testing.T) {
			doc := encode(t, format, key, fixture())
			rep, err := Verify(bytes.NewReader(doc), int64(len(doc)), pub)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int{KindMemory: 2, KindEpisode: 1, KindEntity: 3, KindFact: 2, KindTopic: 1}
			for k, n := range want {
				if rep.Counts[k] != n {
					t.Errorf("counts %v, want %v", rep.Counts, want)
				}
			}
			if !rep.Pinned || rep.KeyID != KeyID(pub) || rep.Tenant != "acme:1" || rep.Scope != testHeader.Scope || !rep.CreatedAt.Equal(testHeader.CreatedAt) {
				t.Fatalf("report %+v", rep)
			}
			// Remove the record of mem-2 with its separator, leaving valid JSON.
			lines := strings.Split(string(doc), "\n")
			i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "MK-memory-2 plain") })
			cut := 1
			if lines[i+1] == "," { // json and jsonld put the comma on its own line
				cut = 2
			}
			removed := strings.Join(slices.Delete(slices.Clone(lines), i, i+cut), "\n")
			if !json.Valid([]byte(removed)) {
				t.Fatalf("removing a record left invalid JSON")
			}
			var count string
			switch format {
			case engram.ExportPAM:
				count = strings.Replace(string(doc), `"total_memories":9`, `"total_memories":8`, 1)
				removed = strings.Replace(removed, `"total_memories":9`, `"total_memories":8`, 1)
			default:
				count = strings.Replace(string(doc), `"memory":2`, `"memory":3`, 1)
			}
			cases := map[string]struct {
				doc string
				pin ed25519.PublicKey
			}{
				"flipped byte":    {strings.Replace(string(doc), "MK-deep", "MK-deeq", 1), nil},
				"removed record":  {removed, nil},
				"changed count":   {count, nil},
				"foreign key":     {string(doc), otherPub},
				"re-signed":       {string(encode(t, format, otherKey, fixture())), pub},
				"truncated":       {string(doc[:len(doc)-40]), nil},
				"trailing junk":   {string(doc) + "x", nil},
				"changed content": {strings.Replace(string(doc), "MK-memory-2 plain", "MK-memory-2 plaiN", 1), nil},
			}
			if format == engram.ExportPAM {
				// PAM's checksum is over canonical forms: re-indented, the
				// document still verifies.
				var indented bytes.Buffer
				must(t, json.Indent(&indented, doc, "", "  "))
				if _, err := Verify(bytes.NewReader(indented.Bytes()), int64(indented.Len()), pub); err != nil {
					t.Errorf("re-indented: %v", err)
				}
				cases["changed owner"] = struct {
					doc string
					pin ed25519.PublicKey
				}{strings.Replace(string(doc), "urn:engram:tenant:acme%3A1", "urn:engram:tenant:evil", 1), nil}
				cases["added relation"] = struct {
					doc string
					pin ed25519.PublicKey
				}{strings.Replace(string(doc), `"relations":[]`, `"relations":[{"id":"r"}]`, 1), nil}
			}
			for name, c := range cases {
				if c.doc == string(doc) && c.pin == nil {
					t.Fatalf("%s: the tampering changed nothing", name)
				}
				if _, err := Verify(strings.NewReader(c.doc), int64(len(c.doc)), c.pin); !errors.Is(err, ErrTampered) {
					t.Errorf("%s: err = %v, want ErrTampered", name, err)
				}
			}
		})
	}
}

// TestPAMChecksumIsTheSpecs recomputes the integrity checksum the way the
// spec says (parse, sort the memories by id, RFC 8785, SHA-256), from the
// parsed document rather than its bytes.
func TestPAMChecksumIsTheSpecs(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	doc := encode(t, engram.ExportPAM, key, fixture())
	var d struct {
		Memories  []json.RawMessage `json:"memories"`
		Integrity pamIntegrity      `json:"integrity"`
		Signature pamSignature      `json:"signature"`
		ExportID  string            `json:"export_id"`
		Date      string            `json:"export_date"`
		Owner     pamOwner          `json:"owner"`
	}
	must(t, json.Unmarshal(doc, &d))
	// Reverse, then sort by id: the spec's order is the written one.
	for i, j := 0, len(d.Memories)-1; i < j; i, j = i+1, j-1 {
		d.Memories[i], d.Memories[j] = d.Memories[j], d.Memories[i]
	}
	ids := func(m json.RawMessage) string {
		var x struct{ ID string }
		_ = json.Unmarshal(m, &x)
		return x.ID
	}
	sortByID(d.Memories, ids)
	arr, _ := json.Marshal(d.Memories)
	if got := specChecksum(t, arr); got != d.Integrity.Checksum || d.Integrity.TotalMemories != 9 || d.Integrity.Canonicalization != "RFC8785" {
		t.Fatalf("spec checksum %s, document says %+v", got, d.Integrity)
	}
	payload, err := pamPayload(d.Integrity.Checksum, d.ExportID, d.Date, d.Owner.ID)
	must(t, err)
	if !strings.HasPrefix(string(payload), `{"checksum":"sha256:`) || !strings.Contains(string(payload), `"owner_id":"urn:engram:tenant:`) {
		t.Fatalf("payload %s", payload)
	}
}

func sortByID(ms []json.RawMessage, id func(json.RawMessage) string) {
	slices.SortFunc(ms, func(a, b json.RawMessage) int { return strings.Compare(id(a), id(b)) })
}

func specChecksum(t *testing.T, arr []byte) string {
	t.Helper()
	c, err := jcs.Transform(arr)
	must(t, err)
	s := sha256.Sum256(c)
	return "sha256:" + hex.EncodeToString(s[:])
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestRecordLimit: a record above the limit stops a decoder and Verify
// with an error instead of being held whole.
func TestRecordLimit(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	big := fixture()
	big[1].Memory.Content = strings.Repeat("MK-big ", 2000)
	docs := map[string][]byte{}
	for _, format := range append([]string{engram.ExportJSON}, signedFormats...) {
		docs[format] = encode(t, format, key, big)
	}
	defer func(n int64) { recordBytes = n }(recordBytes)
	recordBytes = 8 << 10
	for format, doc := range docs {
		if _, err := Verify(bytes.NewReader(doc), int64(len(doc)), pub); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("%s: verify: %v", format, err)
		}
		dec, err := NewDecoder(format, bytes.NewReader(doc))
		must(t, err)
		for err == nil {
			_, err = dec.Next()
		}
		if !errors.Is(err, ErrRecordTooLarge) {
			t.Errorf("%s: decode: %v", format, err)
		}
	}
	// mem0 documents are unsigned: the decoder alone bounds them.
	m0 := []byte(`[{"id":"a","memory":"small"},{"id":"b","memory":"` + strings.Repeat("MK-big ", 2000) + `"}]`)
	dec, err := NewDecoder(engram.ImportMem0, bytes.NewReader(m0))
	must(t, err)
	if _, err := dec.Next(); err != nil {
		t.Fatalf("mem0: the small record: %v", err)
	}
	if _, err := dec.Next(); !errors.Is(err, ErrRecordTooLarge) {
		t.Errorf("mem0: decode: %v", err)
	}
}
