// Package sink delivers committed audit entries to destinations outside the
// database: a JSON-lines file, a syslog collector, a signed webhook. The
// audit engine calls a Dispatcher after each entry commits; the Dispatcher
// fans the entry out to every configured Sink.
//
// The package is storage-independent: a Sink sees an Event (tenant,
// sequence, time and the entry's JSON, which holds metadata only, never
// memory content) and nothing of the chain or the store. Sinks live in
// sub-packages named for their technology: file, rfc5424 (syslog), webhook
// (with spool, its durable queue, and safedial, its SSRF guard); spec turns
// a configuration string into sinks.
package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Event is one committed audit entry as sinks receive it.
type Event struct {
	TenantID string
	Seq      uint64    // per-tenant chain sequence number
	Time     time.Time // when the entry was recorded
	JSON     []byte    // the entry's JSON encoding, opaque to sinks: metadata only, never content
}

// ID is the event's stable identity, "<tenant>:<seq>". Receivers
// deduplicate on it: a redelivered event carries the same ID.
func (ev Event) ID() string {
	return ev.TenantID + ":" + strconv.FormatUint(ev.Seq, 10)
}

// Envelope is the JSON object a sink writes for one event (a line of the
// file sink, the body of a webhook POST). Entry is the audit entry verbatim.
type Envelope struct {
	ID     string          `json:"id"`
	Tenant string          `json:"tenant"`
	Seq    uint64          `json:"seq"`
	Time   time.Time       `json:"time"`
	Entry  json.RawMessage `json:"entry"`
}

// Envelope returns the event's envelope encoding, compact and without a
// trailing newline. It fails when ev.JSON is not valid JSON, so a broken
// entry never reaches a destination as a half-written line.
func (ev Event) Envelope() ([]byte, error) {
	if !json.Valid(ev.JSON) {
		return nil, fmt.Errorf("event %s: entry is not valid JSON", ev.ID())
	}
	b, err := json.Marshal(Envelope{
		ID: ev.ID(), Tenant: ev.TenantID, Seq: ev.Seq, Time: ev.Time.UTC(), Entry: ev.JSON,
	})
	if err != nil {
		return nil, fmt.Errorf("event %s: encode envelope: %w", ev.ID(), err)
	}
	return b, nil
}

// Sink is one destination for audit events. Implementations are safe for
// concurrent use.
type Sink interface {
	// Name identifies the sink in logs and metrics; it never holds secrets
	// (no URL credentials, no query strings).
	Name() string
	// Send hands one event to the destination. nil means accepted: written
	// (file, syslog) or durably queued for delivery (spooling sinks, which
	// also implement Spooler). An error means this sink does not have the
	// event; the Dispatcher decides what that means for the request.
	Send(ctx context.Context, ev Event) error
	// Close releases the sink. Spooling sinks keep undelivered events on
	// disk for the next process.
	Close() error
}

// Spooler is implemented by sinks whose Send accepts an event into a
// durable local queue and delivers it later (the webhook sink). The
// Dispatcher counts their accepted events as spooled, not delivered.
type Spooler interface {
	Spooled() bool
}
