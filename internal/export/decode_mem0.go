package export

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/engram-memory/engram"
)

// Mem0 is the scope kind a mem0 document's header reports: mem0 exports
// carry no tenant, scope or signature.
const Mem0 = "mem0"

// mem0Decoder reads a mem0 export: the answer of get_all (a list of
// memories, or {"results": [...]}, as v1 and v2 of mem0's API give it) or
// the platform's memory export ({"memories": [...]} or {"data": [...]}),
// a memory at a time. Every record is a memory without history.
type mem0Decoder struct {
	lim  *recordLimit // mem0 documents are unsigned: nothing bounded them before
	dec  *json.Decoder
	done bool
}

// mem0Memory is one memory as mem0 writes it. Fields Engram has no
// place for (hash, immutable, owner, organization, app_id) are dropped;
// categories travel in the metadata.
type mem0Memory struct {
	ID             string         `json:"id"`
	Memory         string         `json:"memory"`
	Text           string         `json:"text"` // some exports name the content text
	UserID         string         `json:"user_id"`
	AgentID        string         `json:"agent_id"`
	RunID          string         `json:"run_id"`
	Metadata       map[string]any `json:"metadata"`
	Categories     []string       `json:"categories"`
	CreatedAt      mem0Time       `json:"created_at"`
	UpdatedAt      mem0Time       `json:"updated_at"`
	ExpirationDate mem0Time       `json:"expiration_date"`
}

// mem0Time reads the times mem0 writes: RFC 3339 with or without a zone
// (Python's isoformat; no zone is UTC), or a date alone (expiration_date).
type mem0Time struct{ t *time.Time }

func (m *mem0Time) UnmarshalJSON(b []byte) error {
	var s string
	if string(b) == "null" {
		return nil
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			t = t.UTC().Truncate(time.Microsecond)
			m.t = &t
			return nil
		}
	}
	return fmt.Errorf("not a time mem0 writes")
}

func newMem0Decoder(r io.Reader) (Decoder, error) {
	lim := newRecordLimit(r)
	d := &mem0Decoder{lim: lim, dec: json.NewDecoder(lim)}
	t, err := d.dec.Token()
	if err != nil {
		return nil, fmt.Errorf("mem0: %w", err)
	}
	switch t {
	case json.Delim('['):
		return d, nil
	case json.Delim('{'):
	default:
		return nil, fmt.Errorf("mem0: neither a list of memories nor an object holding one")
	}
	for d.dec.More() {
		k, err := d.dec.Token()
		if err != nil {
			return nil, fmt.Errorf("mem0: %w", err)
		}
		switch k {
		case "results", "memories", "data":
			if t, err := d.dec.Token(); err != nil || t != json.Delim('[') {
				return nil, fmt.Errorf("mem0: %v is not a list", k)
			}
			return d, nil
		}
		var skip json.RawMessage
		if err := d.dec.Decode(&skip); err != nil {
			return nil, fmt.Errorf("mem0: %w", err)
		}
	}
	return nil, fmt.Errorf("mem0: no results, memories or data list")
}

func (d *mem0Decoder) Header() Header { return Header{Scope: Scope{Kind: Mem0}} }

func (d *mem0Decoder) Next() (*Record, error) {
	if d.done || !d.dec.More() {
		d.done = true
		return nil, io.EOF
	}
	d.lim.reset()
	var m mem0Memory
	if err := d.dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("mem0: memory: %w", err)
	}
	content := m.Memory
	if content == "" {
		content = m.Text
	}
	md := m.Metadata
	if len(m.Categories) > 0 {
		if md == nil {
			md = map[string]any{}
		}
		if _, ok := md["categories"]; !ok {
			cs := make([]any, len(m.Categories))
			for i, c := range m.Categories {
				cs[i] = c
			}
			md["categories"] = cs
		}
	}
	out := &engram.Memory{ID: strings.TrimSpace(m.ID), Content: content, UserID: m.UserID, AgentID: m.AgentID, RunID: m.RunID,
		Metadata: md, ExpirationDate: m.ExpirationDate.t}
	if m.CreatedAt.t != nil {
		out.CreatedAt = *m.CreatedAt.t
	}
	out.UpdatedAt = out.CreatedAt
	if m.UpdatedAt.t != nil {
		out.UpdatedAt = *m.UpdatedAt.t
	}
	return &Record{Kind: KindMemory, Memory: out}, nil
}
