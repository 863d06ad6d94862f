// Package export writes, reads back and verifies exports in three formats:
// Engram's own JSON (this file: one document, written as its records are
// read, constant memory whatever the size, whose SHA-256 checksum covers
// every byte before it and whose Ed25519 signature covers the checksum),
// JSON-LD (jsonld.go: the same document and trailer, records as linked-data
// nodes) and Portable AI Memory v1.0 (pam.go: RFC 8785 checksum and
// signature, as that spec says). The formats are documented in
// docs/LIFECYCLE.md ("## Export").
package export

import (
	"bufio"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/engram-memory/engram"
)

// Format and Version name the document shape; a reader refuses others.
const (
	Format  = "engram-export"
	Version = 1
	// SignatureAlg is the only signature algorithm of version 1.
	SignatureAlg = "Ed25519"
	// signedPrefix separates what the signature covers from any other use
	// of the same key: the message is signedPrefix + the checksum string.
	signedPrefix = "engram-export/v1 checksum "
)

// Header is what the document says before its records.
type Header struct {
	Tenant    string    `json:"tenant"`
	Scope     Scope     `json:"scope"`
	CreatedAt time.Time `json:"created_at"`
}

// Scope is what the export holds: the whole tenant, one end user's data,
// or what one account authored.
type Scope struct {
	Kind    string `json:"kind"` // "tenant", "user" or "account"
	UserID  string `json:"user_id,omitempty"`
	Account string `json:"account_id,omitempty"`
}

// Record kinds.
const (
	KindMemory  = "memory"
	KindEpisode = "episode"
	KindEntity  = "entity"
	KindFact    = "fact"
	KindTopic   = "topic"
)

// Signature is the trailer's signature object.
type Signature struct {
	Alg       string `json:"alg"`
	KeyID     string `json:"key_id"`
	PublicKey string `json:"public_key"` // standard base64 of the 32-byte key
	Value     string `json:"value"`      // standard base64 of the 64-byte signature
}

// KeyID names a public key: the first 8 bytes of its SHA-256, in hex.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// Writer streams one document. Call Begin, Record for each record, then
// Finish; an error from any leaves the document truncated, which Verify
// rejects (no trailer), so a half-written export is never taken for whole.
type Writer struct {
	bw     *bufio.Writer
	h      hash.Hash
	enc    *json.Encoder
	counts map[string]int
	n      int
	lay    layout
}

// layout is what differs between the formats that share the Writer (json
// and jsonld): the document's opening and the shape of one record. The
// checksum, counts and signed trailer are the same for both.
type layout struct {
	// head is the document from its first byte up to and including the
	// '[' that opens the records.
	head func(Header) ([]byte, error)
	// node is what one record is marshalled as.
	node func(*Record) any
}

// jsonLayout is Engram's own format: {"format":"engram-export",…,"records":[
// {"kind":…,"data":…,"history":…}, …].
var jsonLayout = layout{head: jsonHead, node: jsonNode}

// NewWriter writes Engram's own json format to w.
func NewWriter(w io.Writer) *Writer { return newWriter(w, jsonLayout) }

func newWriter(w io.Writer, lay layout) *Writer {
	x := &Writer{bw: bufio.NewWriterSize(w, 32<<10), h: sha256.New(), counts: map[string]int{}, lay: lay}
	x.enc = json.NewEncoder(x.hashed())
	x.enc.SetEscapeHTML(false)
	return x
}

type teeWriter struct{ x *Writer }

func (t teeWriter) Write(p []byte) (int, error) {
	t.x.h.Write(p)
	return t.x.bw.Write(p)
}

func (x *Writer) hashed() io.Writer { return teeWriter{x} }

func (x *Writer) raw(s string) error {
	_, err := x.hashed().Write([]byte(s))
	return err
}

// Begin writes the header and opens the records array.
func (x *Writer) Begin(h Header) error {
	hb, err := x.lay.head(h)
	if err != nil {
		return err
	}
	return x.raw(string(hb))
}

func jsonHead(h Header) ([]byte, error) {
	hb, err := json.Marshal(struct {
		Format    string    `json:"format"`
		Version   int       `json:"version"`
		Tenant    string    `json:"tenant"`
		Scope     Scope     `json:"scope"`
		CreatedAt time.Time `json:"created_at"`
	}{Format, Version, h.Tenant, h.Scope, h.CreatedAt.UTC()})
	if err != nil {
		return nil, err
	}
	// Drop the closing brace: the records follow inside the same object.
	return append(hb[:len(hb)-1], `,"records":[`...), nil
}

// Write writes one record.
func (x *Writer) Write(r *Record) error {
	return x.record(r.Kind, x.lay.node(r))
}

// jsonNode is a record of the json format.
func jsonNode(r *Record) any {
	v, history := r.data()
	return struct {
		Kind    string `json:"kind"`
		Data    any    `json:"data"`
		History any    `json:"history,omitempty"`
	}{r.Kind, v, history}
}

// data is what a record holds under "data", and its history (a memory's
// changes) when it has one.
func (r *Record) data() (v any, history any) {
	switch r.Kind {
	case KindMemory:
		if r.History == nil {
			return r.Memory, []engram.HistoryEntry{} // "history": [] for a memory never changed
		}
		return r.Memory, r.History
	case KindEpisode:
		return r.Episode, nil
	case KindEntity:
		return r.Entity, nil
	case KindFact:
		return r.Fact, nil
	case KindTopic:
		return r.Topic, nil
	}
	return nil, nil
}

// record writes one record of kind, marshalled from v.
func (x *Writer) record(kind string, v any) error {
	sep := "\n"
	if x.n > 0 {
		sep = ",\n"
	}
	if err := x.raw(sep); err != nil {
		return err
	}
	// Encode appends a newline, which is valid JSON whitespace.
	if err := x.enc.Encode(v); err != nil {
		return err
	}
	x.n++
	x.counts[kind]++
	return nil
}

// Counts is how many records of each kind were written so far.
func (x *Writer) Counts() map[string]int { return maps.Clone(x.counts) }

// Finish closes the records, writes the counts, then the checksum of every
// byte written so far and the signature over it, and flushes.
func (x *Writer) Finish(key ed25519.PrivateKey) error {
	cb, err := json.Marshal(countsOf(x.counts))
	if err != nil {
		return err
	}
	if err := x.raw(`],"counts":` + string(cb)); err != nil {
		return err
	}
	sum := "sha256:" + hex.EncodeToString(x.h.Sum(nil))
	pub := key.Public().(ed25519.PublicKey)
	sig := Signature{Alg: SignatureAlg, KeyID: KeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub),
		Value: base64.StdEncoding.EncodeToString(ed25519.Sign(key, []byte(signedPrefix+sum)))}
	tb, err := json.Marshal(struct {
		Checksum  string    `json:"checksum"`
		Signature Signature `json:"signature"`
	}{sum, sig})
	if err != nil {
		return err
	}
	// The trailer is outside the checksum: replace its opening brace by
	// the comma that continues the document's object.
	if _, err := x.bw.WriteString("," + string(tb[1:]) + "\n"); err != nil {
		return err
	}
	return x.bw.Flush()
}

// countsOf lists every kind, zero ones too, so a reader sees what the
// format can hold.
func countsOf(c map[string]int) map[string]int {
	out := map[string]int{}
	for _, k := range []string{KindMemory, KindEpisode, KindEntity, KindFact, KindTopic} {
		out[k] = c[k]
	}
	for k, v := range c {
		out[k] = v
	}
	return out
}

// ErrTampered is returned (wrapped) by Verify for any document whose bytes
// do not match their checksum or signature, or whose shape is not the
// format's.
var ErrTampered = errors.New("export: verification failed")

// ErrUnsupported is NewEncoder's answer for a format it does not write.
var ErrUnsupported = errors.New("export: format not supported")

// kinds is sorted for stable messages.
func kinds(c map[string]int) []string { return slices.Sorted(maps.Keys(c)) }
