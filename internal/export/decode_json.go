package export

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/engram-memory/engram"
)

// jsonDecoder reads Engram's own json export format back, a record at a
// time through a streaming json.Decoder: memory is one record, whatever
// the document's size. It reads the shape only; whether the bytes are the
// ones the tenant signed is Verify's question, asked before.
type jsonDecoder struct {
	lim  *recordLimit
	dec  *json.Decoder
	h    Header
	done bool
}

// newJSONDecoder reads the header, up to the opening of the records array.
func newJSONDecoder(r io.Reader) (Decoder, error) {
	lim := newRecordLimit(r)
	d := &jsonDecoder{lim: lim, dec: json.NewDecoder(lim)}
	if t, err := d.dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("export: not a JSON object")
	}
	var format string
	version := 0
	for d.dec.More() {
		t, err := d.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
		var dst any
		switch t {
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
		case "records":
			if format != Format || version != Version {
				return nil, fmt.Errorf("export: format %q version %d is not %s version %d", format, version, Format, Version)
			}
			if t, err := d.dec.Token(); err != nil || t != json.Delim('[') {
				return nil, fmt.Errorf("export: records is not an array")
			}
			return d, nil
		default:
			return nil, fmt.Errorf("export: unknown field %v before the records", t)
		}
		if err := d.dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("export: field %v: %w", t, err)
		}
	}
	return nil, fmt.Errorf("export: no records")
}

func (d *jsonDecoder) Header() Header { return d.h }

// Next returns the next record, io.EOF after the last one. What follows
// the records (counts, checksum, signature) is left unread.
func (d *jsonDecoder) Next() (*Record, error) {
	if d.done || !d.dec.More() {
		d.done = true
		return nil, io.EOF
	}
	d.lim.reset()
	var raw struct {
		Kind    string                `json:"kind"`
		Data    json.RawMessage       `json:"data"`
		History []engram.HistoryEntry `json:"history"`
	}
	if err := d.dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("export: record: %w", err)
	}
	rec := &Record{Kind: raw.Kind}
	var dst any
	switch raw.Kind {
	case KindMemory:
		rec.Memory, rec.History = &engram.Memory{}, raw.History
		dst = rec.Memory
	case KindEpisode:
		rec.Episode = &engram.Episode{}
		dst = rec.Episode
	case KindEntity:
		rec.Entity = &engram.Entity{}
		dst = rec.Entity
	case KindFact:
		rec.Fact = &engram.Fact{}
		dst = rec.Fact
	case KindTopic:
		rec.Topic = &engram.TopicCount{}
		dst = rec.Topic
	default:
		return nil, fmt.Errorf("export: unknown record kind %q", raw.Kind)
	}
	if len(raw.Data) == 0 {
		return nil, fmt.Errorf("export: %s record without data", raw.Kind)
	}
	if err := json.Unmarshal(raw.Data, dst); err != nil {
		return nil, fmt.Errorf("export: %s record: %w", raw.Kind, err)
	}
	return rec, nil
}
