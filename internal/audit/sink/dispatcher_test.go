package sink_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/engram-memory/engram/internal/audit/sink"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fake is a sink whose Send fails while err is set.
type fake struct {
	name    string
	err     error
	spooled bool
	mu      sync.Mutex
	got     []sink.Event
	closed  bool
}

func (f *fake) Name() string { return f.name }
func (f *fake) Send(_ context.Context, ev sink.Event) error {
	if f.err != nil {
		return f.err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, ev)
	return nil
}
func (f *fake) Close() error  { f.closed = true; return nil }
func (f *fake) Spooled() bool { return f.spooled }

func event(seq uint64) sink.Event {
	return sink.Event{TenantID: "acme", Seq: seq, Time: time.Unix(1700000000, 0), JSON: []byte(`{"action":"memory.create"}`)}
}

func TestFailClosedErrorsOnlyWhenNoSinkAccepts(t *testing.T) {
	down := errors.New("connection refused")
	a, b := &fake{name: "a", err: down}, &fake{name: "b", err: down}
	d, err := sink.NewDispatcher(sink.FailClosed, nil, a, b)
	if err != nil {
		t.Fatal(err)
	}
	err = d.Send(context.Background(), event(1))
	if !errors.Is(err, sink.ErrNoSinkAccepted) || !errors.Is(err, down) {
		t.Fatalf("all sinks down: got %v, want ErrNoSinkAccepted wrapping the sink errors", err)
	}
	if !strings.Contains(err.Error(), "acme:1") || strings.Contains(err.Error(), "memory.create") {
		t.Fatalf("error must name the event and never hold the entry: %v", err)
	}

	b.err = nil
	if err := d.Send(context.Background(), event(2)); err != nil {
		t.Fatalf("one sink accepted: got %v, want nil", err)
	}
	stats, dropped := d.Stats()
	if dropped != 1 || stats[0].Failed != 2 || stats[1].Failed != 1 || stats[1].Delivered != 1 {
		t.Fatalf("stats %+v dropped %d", stats, dropped)
	}
	if err := d.Close(); err != nil || !a.closed || !b.closed {
		t.Fatalf("close: %v", err)
	}
}

func TestBestEffortNeverFailsAndCounts(t *testing.T) {
	down := &fake{name: "down", err: errors.New("boom")}
	spool := &fake{name: "spool", spooled: true}
	d, err := sink.NewDispatcher(sink.BestEffort, nil, down, spool)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(3) {
		if err := d.Send(context.Background(), event(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	spool.err = errors.New("disk full")
	if err := d.Send(context.Background(), event(4)); err != nil {
		t.Fatalf("best effort returned %v", err)
	}
	want := `
# HELP engram_audit_sink_dropped_total Audit events that no sink accepted.
# TYPE engram_audit_sink_dropped_total counter
engram_audit_sink_dropped_total 1
`
	if err := testutil.CollectAndCompare(d.Collector(), strings.NewReader(want), "engram_audit_sink_dropped_total"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(d.Collector())
	if n := testutil.CollectAndCount(d.Collector(), "engram_audit_sink_events_total"); n != 6 {
		t.Fatalf("want 6 series (2 sinks x 3 results), got %d", n)
	}
	stats, _ := d.Stats()
	if stats[1].Spooled != 3 || stats[1].Delivered != 0 || stats[1].Failed != 1 || stats[0].Failed != 4 {
		t.Fatalf("stats %+v", stats)
	}
}

func TestFailClosedNeedsASink(t *testing.T) {
	if _, err := sink.NewDispatcher(sink.FailClosed, nil); err == nil {
		t.Fatal("fail-closed with no sinks must be refused")
	}
}

func TestEnvelopeRejectsInvalidJSON(t *testing.T) {
	ev := event(1)
	ev.JSON = []byte(`{"half":`)
	if _, err := ev.Envelope(); err == nil {
		t.Fatal("invalid entry JSON must not become a line")
	}
	b, err := event(7).Envelope()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"acme:7","tenant":"acme","seq":7,"time":"2023-11-14T22:13:20Z","entry":{"action":"memory.create"}}`
	if string(b) != want {
		t.Fatalf("envelope\n got %s\nwant %s", b, want)
	}
}

// TestPublish: the engine's hook becomes an Event carrying the entry's own
// time and bytes; an entry without a time is refused in fail-closed mode
// and dropped (never sent) in best-effort mode.
func TestPublish(t *testing.T) {
	ctx := context.Background()
	f := &fake{name: "f"}
	d, err := sink.NewDispatcher(sink.FailClosed, nil, f)
	if err != nil {
		t.Fatal(err)
	}
	entry := []byte(`{"seq":3,"time":"2026-11-30T20:31:07.123456Z","tenant_id":"t1","action":"memory.create"}`)
	if err := d.Publish(ctx, "t1", 3, entry); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 11, 30, 20, 31, 7, 123456000, time.UTC)
	if len(f.got) != 1 || f.got[0].ID() != "t1:3" || !f.got[0].Time.Equal(want) || string(f.got[0].JSON) != string(entry) {
		t.Fatalf("got %+v", f.got)
	}
	for _, bad := range []string{`{"seq":4}`, `not json`} {
		if err := d.Publish(ctx, "t1", 4, []byte(bad)); !errors.Is(err, sink.ErrNoSinkAccepted) {
			t.Fatalf("%s: err = %v, want ErrNoSinkAccepted", bad, err)
		}
	}
	be, err := sink.NewDispatcher(sink.BestEffort, nil, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := be.Publish(ctx, "t1", 5, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, dropped := be.Stats(); dropped != 1 || len(f.got) != 1 {
		t.Fatalf("dropped = %d, sent %d; want 1 dropped, nothing sent", dropped, len(f.got))
	}
}

// TestPublishAck: PublishAck tells whether some sink accepted the entry in
// both modes, while Publish in BestEffort mode stays silent about it (the
// back-fill relies on the first, requests on the second).
func TestPublishAck(t *testing.T) {
	ctx := context.Background()
	down := errors.New("connection refused")
	entry := []byte(`{"time":"2026-11-30T20:31:07.123456Z","action":"memory.create"}`)
	for _, c := range []struct {
		name     string
		mode     sink.Mode
		sinkErr  []error
		entry    []byte
		accepted bool
		wantErr  bool
	}{
		{"best-effort, one of two accepts", sink.BestEffort, []error{down, nil}, entry, true, false},
		{"best-effort, none accepts", sink.BestEffort, []error{down, down}, entry, false, false},
		{"best-effort, no readable time", sink.BestEffort, []error{nil}, []byte(`{"action":"x"}`), false, false},
		{"fail-closed, one accepts", sink.FailClosed, []error{nil, down}, entry, true, false},
		{"fail-closed, none accepts", sink.FailClosed, []error{down}, entry, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var sinks []sink.Sink
			for i, err := range c.sinkErr {
				sinks = append(sinks, &fake{name: string(rune('a' + i)), err: err})
			}
			d, err := sink.NewDispatcher(c.mode, nil, sinks...)
			if err != nil {
				t.Fatal(err)
			}
			accepted, err := d.PublishAck(ctx, "acme", 7, c.entry)
			if accepted != c.accepted || (err != nil) != c.wantErr {
				t.Fatalf("PublishAck = %v, %v; want accepted %v, error %v", accepted, err, c.accepted, c.wantErr)
			}
			if perr := d.Publish(ctx, "acme", 8, c.entry); (perr != nil) != c.wantErr {
				t.Fatalf("Publish = %v; want error %v", perr, c.wantErr)
			}
		})
	}
}
