package export

import (
	"crypto/ed25519"
	"io"

	"github.com/engram-memory/engram"
)

// Record is one record of an export, as every format's decoder gives it
// back: Kind says which one of the pointers is set. A memory carries its
// history (oldest change first, as written).
type Record struct {
	Kind    string
	Memory  *engram.Memory
	History []engram.HistoryEntry
	Episode *engram.Episode
	Entity  *engram.Entity
	Fact    *engram.Fact
	Topic   *engram.TopicCount
}

// Encoder writes one export document of a format: Begin, Write for each
// record, then Finish, which checksums and signs. An error from any leaves
// the document without its trailer, which verification rejects.
type Encoder interface {
	Begin(Header) error
	Write(*Record) error
	// Counts is how many records of each kind were written so far.
	Counts() map[string]int
	Finish(key ed25519.PrivateKey) error
}

// Decoder reads one export document back, a record at a time (constant
// memory). Next returns io.EOF after the last record.
type Decoder interface {
	Header() Header
	Next() (*Record, error)
}

// NewEncoder returns the encoder of format ("" is json): json, jsonld
// or pam. Other formats return ErrUnsupported.
func NewEncoder(format string, w io.Writer) (Encoder, error) {
	switch format {
	case "", engram.ExportJSON:
		return NewWriter(w), nil
	case engram.ExportJSONLD:
		return NewJSONLDWriter(w), nil
	case engram.ExportPAM:
		return NewPAMWriter(w), nil
	}
	return nil, ErrUnsupported
}

// FormatName is the format parameter (json, jsonld, pam) of a document
// whose Report.Format is docFormat; "" for none of ours.
func FormatName(docFormat string) string {
	switch docFormat {
	case Format:
		return engram.ExportJSON
	case FormatJSONLD:
		return engram.ExportJSONLD
	case PAMSchema:
		return engram.ExportPAM
	}
	return ""
}
