package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Mode says what a Dispatcher does when sinks refuse an event.
type Mode int

const (
	// BestEffort (the default) never fails the caller: a sink's error is
	// counted and logged (sink name and event id, never the entry), and the
	// event is counted as dropped when no sink accepted it. Spooling sinks
	// still deliver what they accepted once their destination recovers.
	BestEffort Mode = iota
	// FailClosed makes Send return ErrNoSinkAccepted when no sink accepted
	// the event, so the engine can fail the request it records.
	FailClosed
)

// ErrNoSinkAccepted is returned (wrapped, with each sink's error joined)
// by a FailClosed Dispatcher when every sink refused an event.
var ErrNoSinkAccepted = errors.New("audit: no sink accepted the entry")

// counters are one sink's running totals; they only grow (Prometheus
// counters). Safe to read while Send runs.
type counters struct {
	Delivered atomic.Uint64 // Send returned nil on a sink that writes directly
	Spooled   atomic.Uint64 // Send returned nil on a Spooler: queued durably
	Failed    atomic.Uint64 // Send returned an error
}

// Dispatcher fans each event out to every sink, in order, and applies its
// Mode. Safe for concurrent use.
//
// Where the engine calls it decides what fail-closed means. Engram's
// engine (engine.WithAuditSinkFailClosed) calls it inside the write
// transaction of a mutating action, as the transaction's last step: an
// error rolls the action back, so no change exists that no sink saw, and
// a client's 503 always means "nothing happened". Entries of reads and
// failures are sent after their commit and never fail the request. The
// price, documented in docs/AUDIT-SINKS.md: the transaction is held open
// for the sinks' latency, and a sink can hold an entry whose commit then
// failed (its seq is reused; the later entry is authoritative).
type Dispatcher struct {
	mode    Mode
	log     *slog.Logger
	sinks   []Sink
	spooled []bool
	stats   []*counters
	dropped atomic.Uint64 // events no sink accepted
}

// NewDispatcher returns a Dispatcher over sinks. FailClosed with no sinks
// is an error: every event would fail. A nil logger discards.
func NewDispatcher(mode Mode, logger *slog.Logger, sinks ...Sink) (*Dispatcher, error) {
	if mode != BestEffort && mode != FailClosed {
		return nil, fmt.Errorf("audit sinks: unknown mode %d", mode)
	}
	if mode == FailClosed && len(sinks) == 0 {
		return nil, errors.New("audit sinks: fail-closed mode needs at least one sink")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{mode: mode, log: logger.With("component", "audit-sink"), sinks: sinks}
	for _, s := range sinks {
		sp, ok := s.(Spooler)
		d.spooled = append(d.spooled, ok && sp.Spooled())
		d.stats = append(d.stats, &counters{})
	}
	return d, nil
}

// Send gives ev to every sink. In BestEffort mode it returns nil. In
// FailClosed mode it returns an error wrapping ErrNoSinkAccepted when no
// sink accepted ev, and nil as soon as one did (the others' errors are
// still counted and logged).
func (d *Dispatcher) Send(ctx context.Context, ev Event) error {
	_, err := d.send(ctx, ev)
	return err
}

// send is Send that also reports whether some sink accepted ev.
func (d *Dispatcher) send(ctx context.Context, ev Event) (bool, error) {
	accepted := 0
	var errs []error
	for i, s := range d.sinks {
		if err := s.Send(ctx, ev); err != nil {
			d.stats[i].Failed.Add(1)
			errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
			// The entry's JSON is never logged: only where and which.
			d.log.Warn("audit sink refused entry", "sink", s.Name(), "event", ev.ID(), "err", err)
			continue
		}
		accepted++
		if d.spooled[i] {
			d.stats[i].Spooled.Add(1)
		} else {
			d.stats[i].Delivered.Add(1)
		}
	}
	if accepted > 0 {
		return true, nil
	}
	d.dropped.Add(1)
	if d.mode == FailClosed {
		return false, fmt.Errorf("%w (event %s): %w", ErrNoSinkAccepted, ev.ID(), errors.Join(errs...))
	}
	if len(d.sinks) > 0 {
		d.log.Error("audit entry reached no sink", "event", ev.ID())
	}
	return false, nil
}

// Close closes every sink and returns their errors joined.
func (d *Dispatcher) Close() error {
	var errs []error
	for _, s := range d.sinks {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Stat is a snapshot of one sink's counters.
type Stat struct {
	Sink                       string
	Delivered, Spooled, Failed uint64
}

// Stats returns a snapshot per sink, in configuration order, and the
// number of events no sink accepted.
func (d *Dispatcher) Stats() (perSink []Stat, dropped uint64) {
	for i, s := range d.sinks {
		c := d.stats[i]
		perSink = append(perSink, Stat{
			Sink: s.Name(), Delivered: c.Delivered.Load(), Spooled: c.Spooled.Load(), Failed: c.Failed.Load(),
		})
	}
	return perSink, d.dropped.Load()
}

var (
	descEvents = prometheus.NewDesc("engram_audit_sink_events_total",
		"Audit events handed to a sink, by sink and result (delivered, spooled, failed).",
		[]string{"sink", "result"}, nil)
	descDropped = prometheus.NewDesc("engram_audit_sink_dropped_total",
		"Audit events that no sink accepted.", nil, nil)
)

// Collector exposes the counters to Prometheus. Register it once.
func (d *Dispatcher) Collector() prometheus.Collector { return collector{d} }

type collector struct{ d *Dispatcher }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descEvents
	ch <- descDropped
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	stats, dropped := c.d.Stats()
	for _, s := range stats {
		for _, r := range []struct {
			result string
			n      uint64
		}{{"delivered", s.Delivered}, {"spooled", s.Spooled}, {"failed", s.Failed}} {
			ch <- prometheus.MustNewConstMetric(descEvents, prometheus.CounterValue, float64(r.n), s.Sink, r.result)
		}
	}
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(dropped))
}

// Publish adapts the Dispatcher to the engine's audit hook (audit.Sink,
// satisfied structurally so that this package stays free of the store):
// it wraps one chained entry in an Event and Sends it. The event's time is
// the entry's own "time" field, so a redelivered or replayed entry keeps
// the time it was recorded at; an entry without a readable time is
// refused, as Send refuses invalid JSON, rather than stamped with a time
// it does not have.
func (d *Dispatcher) Publish(ctx context.Context, tenantID string, seq uint64, entryJSON []byte) error {
	_, err := d.PublishAck(ctx, tenantID, seq, entryJSON)
	return err
}

// PublishAck is Publish that also says whether some sink accepted the
// entry (audit.AckSink): in BestEffort mode Publish returns nil either
// way, and the engine's back-fill must know which entries to try again.
func (d *Dispatcher) PublishAck(ctx context.Context, tenantID string, seq uint64, entryJSON []byte) (bool, error) {
	var head struct {
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal(entryJSON, &head); err != nil || head.Time.IsZero() {
		// The entry is never quoted: only which one.
		err := fmt.Errorf("audit sinks: entry %s:%d has no readable time", tenantID, seq)
		d.dropped.Add(1)
		if d.mode == FailClosed {
			return false, fmt.Errorf("%w: %w", ErrNoSinkAccepted, err)
		}
		d.log.Error("audit entry reached no sink", "event", Event{TenantID: tenantID, Seq: seq}.ID(), "err", err)
		return false, nil
	}
	return d.send(ctx, Event{TenantID: tenantID, Seq: seq, Time: head.Time, JSON: entryJSON})
}
