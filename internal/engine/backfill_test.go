package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/file"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
	"github.com/engram-memory/engram/internal/testserver"
)

// openDir opens an engine over the data directory dir, as a process of its
// own would: its own store handle, key ring and KEK file. With no options
// it is an offline operator command (no sinks).
func openDir(t *testing.T, dir string, opts ...engine.Option) *engine.Engine {
	t.Helper()
	return openDirAt(t, dir, nil, opts...)
}

// openDirAt is openDir on the clock now (nil: time.Now).
func openDirAt(t *testing.T, dir string, now engram.Clock, opts ...engine.Option) *engine.Engine {
	t.Helper()
	return testserver.OpenEngine(t, dir, now, opts...)
}

// chainsOf reads every chain of dir's store, and its watermarks, through a
// store handle of its own: the source of truth sinks must match.
func chainsOf(t *testing.T, dir string) (map[string][]store.AuditRecord, map[string]store.AuditWatermark) {
	t.Helper()
	recs, marks, err := readChains(dir)
	if err != nil {
		t.Fatal(err)
	}
	return recs, marks
}

func readChains(dir string) (map[string][]store.AuditRecord, map[string]store.AuditWatermark, error) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	recs, marks := map[string][]store.AuditRecord{}, map[string]store.AuditWatermark{}
	err = db.Read(ctx, func(tx store.Tx) error {
		ws, err := tx.AuditWatermarks(ctx)
		if err != nil {
			return err
		}
		for _, w := range ws {
			marks[w.TenantID] = w
			if recs[w.TenantID], err = tx.AuditRange(ctx, w.TenantID, 0, 1<<20); err != nil {
				return err
			}
		}
		return nil
	})
	return recs, marks, err
}

// eventLog is a sink that keeps every event it accepts; refuse (may be
// nil) decides, per Send, whether it refuses instead.
type eventLog struct {
	refuse func(ev sink.Event) bool

	mu  sync.Mutex
	got []sink.Event
}

func (l *eventLog) Name() string { return "log" }
func (l *eventLog) Close() error { return nil }
func (l *eventLog) Send(_ context.Context, ev sink.Event) error {
	if l.refuse != nil && l.refuse(ev) {
		return errors.New("refused")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, ev)
	return nil
}

// has returns, per event id, the entries accepted under it.
func (l *eventLog) has() map[string][][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][][]byte{}
	for _, ev := range l.got {
		out[ev.ID()] = append(out[ev.ID()], ev.JSON)
	}
	return out
}

func (l *eventLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.got)
}

func dispatcher(t *testing.T, mode sink.Mode, sinks ...sink.Sink) *sink.Dispatcher {
	t.Helper()
	d, err := sink.NewDispatcher(mode, nil, sinks...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// idOf is the event id of a record.
func idOf(r store.AuditRecord) string {
	return sink.Event{TenantID: r.Entry.TenantID, Seq: r.Entry.Seq}.ID()
}

// checkAllPublished fails unless every entry of every chain reached l, as
// chained, and every watermark reached its head.
func checkAllPublished(t *testing.T, dir string, l *eventLog) {
	t.Helper()
	recs, marks := chainsOf(t, dir)
	has := l.has()
	for tenant, rs := range recs {
		for _, r := range rs {
			want := audit.JSON(&r.Entry, r.KeyVersion, r.MAC)
			found := false
			for _, got := range has[idOf(r)] {
				found = found || bytes.Equal(got, want)
			}
			if !found {
				t.Errorf("the sink lacks %s as chained (it has %d entries under that id)", idOf(r), len(has[idOf(r)]))
			}
		}
		if w := marks[tenant]; w.Published != w.Head {
			t.Errorf("chain %q: watermark %d, head %d", tenant, w.Published, w.Head)
		}
	}
}

// TestBackfillOfflineEntries: entries written by offline operator commands
// (an engine without sinks on the same data directory: tenants created
// and forgotten, key rotation, memories) reach the file sink of the next
// engine with sinks through one back-fill pass, every seq of every chain
// in order and byte for byte as chained; a second pass publishes nothing.
// Without sinks nothing is written to the watermark table.
func TestBackfillOfflineEntries(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	off := openDir(t, dir)
	nt, err := off.CreateTenant(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.CreateTenant(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	p, err := off.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	pctx := engram.WithPrincipal(ctx, p)
	for i := range 3 {
		if _, err := off.Add(pctx, engram.AddRequest{Content: fmt.Sprintf("offline %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := off.RotateTenant(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := off.ForgetTenant(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := off.BackfillAudit(ctx); err != nil {
		t.Fatal(err)
	}
	recs, marks := chainsOf(t, dir)
	total := 0
	for tenant, w := range marks {
		if w.Published != 0 {
			t.Errorf("chain %q has watermark %d without sinks", tenant, w.Published)
		}
		total += len(recs[tenant])
	}
	if len(recs[""]) < 3 || len(recs[nt.Tenant.ID]) < 4 {
		t.Fatalf("chains after the offline commands: %d system, %d tenant entries", len(recs[""]), len(recs[nt.Tenant.ID]))
	}

	path := filepath.Join(t.TempDir(), "audit.jsonl")
	fs, err := file.Open(file.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	on := openDir(t, dir, engine.WithAuditSink(dispatcher(t, sink.BestEffort, fs), nil))
	if n, err := on.AuditPending(ctx); err != nil || n != uint64(total) {
		t.Fatalf("pending before the pass: %d, %v; want %d", n, err, total)
	}
	n, err := on.BackfillAudit(ctx)
	if err != nil || n != total {
		t.Fatalf("back-fill published %d (%v), want %d", n, err, total)
	}
	if n, err := on.AuditPending(ctx); err != nil || n != 0 {
		t.Fatalf("pending after the pass: %d, %v", n, err)
	}
	if on.AuditBackfilled() != uint64(total) {
		t.Fatalf("AuditBackfilled = %d, want %d", on.AuditBackfilled(), total)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := on.BackfillAudit(ctx); err != nil || n != 0 {
		t.Fatalf("second pass published %d (%v), want 0", n, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the second pass wrote to the sink")
	}

	// The file holds each chain exactly, in seq order.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]sink.Envelope{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var env sink.Envelope
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		got[env.Tenant] = append(got[env.Tenant], env)
	}
	recs, marks = chainsOf(t, dir)
	for tenant, rs := range recs {
		if len(got[tenant]) != len(rs) {
			t.Fatalf("chain %q: %d entries in the file, %d in the chain", tenant, len(got[tenant]), len(rs))
		}
		for i, r := range rs {
			env := got[tenant][i]
			if env.Seq != uint64(i+1) || r.Entry.Seq != env.Seq || !bytes.Equal(env.Entry, audit.JSON(&r.Entry, r.KeyVersion, r.MAC)) {
				t.Fatalf("chain %q line %d: %s:%d %s", tenant, i, env.Tenant, env.Seq, env.Entry)
			}
		}
		if w := marks[tenant]; w.Published != w.Head {
			t.Errorf("chain %q: watermark %d, head %d", tenant, w.Published, w.Head)
		}
	}
	if _, ok := got[""]; !ok {
		t.Fatal("the system chain is not in the file")
	}
}

// TestBackfillCrashWindow: an entry committed but never published (as when
// the process dies between the commit and the publish: here another
// engine, without sinks, appends it while this one's watermark says the
// earlier entries were published) is published by the back-fill within
// two passes, and only it: the inline publications around it are not
// published again. Entries committed while no sink accepted anything
// (best-effort, dropped) are published once a sink accepts again.
func TestBackfillCrashWindow(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var down atomic.Bool
	l := &eventLog{refuse: func(sink.Event) bool { return down.Load() }}
	on := openDir(t, dir, engine.WithAuditSink(dispatcher(t, sink.BestEffort, l), nil))
	nt, pctx := owner(t, on)
	if _, err := on.Add(pctx, engram.AddRequest{Content: "inline"}); err != nil {
		t.Fatal(err)
	}
	if n, err := on.BackfillAudit(ctx); err != nil || n != 0 {
		t.Fatalf("pass over inline publications: %d, %v; want 0", n, err)
	}
	_, marks := chainsOf(t, dir)
	if w := marks[nt.Tenant.ID]; w.Published != w.Head || w.Head == 0 {
		t.Fatalf("watermark after inline publications: %+v", w)
	}
	inline := l.count()

	// The lost publication.
	off := openDir(t, dir)
	op, err := off.Authenticate(ctx, nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Add(engram.WithPrincipal(ctx, op), engram.AddRequest{Content: "lost"}); err != nil {
		t.Fatal(err)
	}
	// Published inline after it.
	if _, err := on.Add(pctx, engram.AddRequest{Content: "after"}); err != nil {
		t.Fatal(err)
	}
	if n, err := on.AuditPending(ctx); err != nil || n != 1 {
		t.Fatalf("pending: %d, %v; want 1 (the lost entry)", n, err)
	}
	published := 0
	for range 2 {
		n, err := on.BackfillAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		published += n
	}
	if published != 1 {
		t.Fatalf("two passes published %d entries, want the 1 lost one", published)
	}
	checkAllPublished(t, dir, l)
	for id, entries := range l.has() {
		if len(entries) != 1 {
			t.Errorf("%s published %d times", id, len(entries))
		}
	}
	if got := l.count(); got != inline+2 {
		t.Errorf("%d events, want the %d inline ones, the lost one and the one after it", got, inline)
	}

	// Every sink refuses: the entries are dropped inline, the pass stops
	// at the first and reports it; once the sink is back, they arrive.
	down.Store(true)
	for i := range 3 {
		if _, err := on.Add(pctx, engram.AddRequest{Content: fmt.Sprintf("dropped %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// The first pass leaves them (they might be in flight inline), the
	// second tries them.
	if _, err := on.BackfillAudit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := on.BackfillAudit(ctx); err == nil {
		t.Fatal("a pass with every sink refusing reported nothing")
	}
	if n, err := on.AuditPending(ctx); err != nil || n != 3 {
		t.Fatalf("pending while the sink is down: %d, %v; want 3", n, err)
	}
	down.Store(false)
	published = 0
	for range 2 {
		n, err := on.BackfillAudit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		published += n
	}
	if published != 3 {
		t.Fatalf("after the outage the back-fill published %d, want 3", published)
	}
	checkAllPublished(t, dir, l)
}

// TestBackfillAfterRetention: entries that retention dropped before they
// were ever published (sealed, expired, swept by an engine without sinks)
// are skipped without complaint; what the chains still hold is published,
// and the watermarks reach the heads.
func TestBackfillAfterRetention(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clock := &testserver.Clock{}
	clock.Advance(time.Since(time.Time{}))
	off := openDirAt(t, dir, clock.Now)
	_, pctx := owner(t, off)
	for i := range 4 {
		if _, err := off.Add(pctx, engram.AddRequest{Content: fmt.Sprintf("old %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := off.SealAudit(ctx, checkpoint.Policy{MaxEntries: 2}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(engine.DefaultAuditRetentionDays*24*time.Hour + time.Hour)
	st, err := off.SweepAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries == 0 {
		t.Fatalf("the sweep dropped nothing: %+v", st)
	}
	recs, _ := chainsOf(t, dir)
	gaps := 0
	for _, rs := range recs {
		if len(rs) > 0 && rs[0].Entry.Seq > 1 {
			gaps++
		}
	}
	if gaps == 0 {
		t.Fatal("every chain still starts at seq 1")
	}

	l := &eventLog{}
	on := openDirAt(t, dir, clock.Now, engine.WithAuditSink(dispatcher(t, sink.BestEffort, l), nil))
	n, err := on.BackfillAudit(ctx)
	if err != nil {
		t.Fatalf("back-fill over dropped entries: %v", err)
	}
	kept := 0
	for _, rs := range recs {
		kept += len(rs)
	}
	if n != kept {
		t.Fatalf("published %d, want the %d entries retention kept", n, kept)
	}
	checkAllPublished(t, dir, l)
}

// TestBackfillConcurrent: writers add memories while back-fill passes run
// over and over, and the sink refuses every 7th event. A checker keeps
// reading the watermarks from a store handle of its own: the sink must
// already hold every entry at or below them. Once the writers are done,
// passes catch up, and the sink holds every entry of every chain, as
// chained. In fail-closed mode refused writes roll back and their seqs
// are reused by the failure entries, which must be the ones that arrive.
func TestBackfillConcurrent(t *testing.T) {
	for name, mode := range map[string]sink.Mode{"best-effort": sink.BestEffort, "fail-closed": sink.FailClosed} {
		t.Run(name, func(t *testing.T) { testBackfillConcurrent(t, mode) })
	}
}

func testBackfillConcurrent(t *testing.T, mode sink.Mode) {
	ctx := context.Background()
	dir := t.TempDir()
	var sends atomic.Int64
	l := &eventLog{refuse: func(sink.Event) bool { return sends.Add(1)%7 == 0 }}
	d := dispatcher(t, mode, l)
	opt := engine.WithAuditSink(d, nil)
	if mode == sink.FailClosed {
		opt = engine.WithAuditSinkFailClosed(d, nil)
	}
	e := openDir(t, dir, opt)
	var pctx context.Context
	for i := 0; pctx == nil; i++ {
		// Fail-closed refuses the tenant's creation now and then too.
		nt, err := e.CreateTenant(ctx, fmt.Sprintf("t%d", i))
		if err != nil {
			if i == 10 {
				t.Fatal(err)
			}
			continue
		}
		p, err := e.Authenticate(ctx, nt.Key.Secret)
		if err != nil {
			t.Fatal(err)
		}
		pctx = engram.WithPrincipal(ctx, p)
	}

	stop := make(chan struct{})
	var bg sync.WaitGroup
	var passErrs atomic.Int64
	bg.Go(func() { // the back-fill loop, as fast as it goes
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := e.BackfillAudit(ctx); err != nil {
				passErrs.Add(1)
			}
		}
	})
	checks := 0
	bg.Go(func() { // the invariant, checked from outside
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, marks, err := readChains(dir)
			if err != nil {
				t.Error(err)
				return
			}
			has := l.has()
			for tenant, w := range marks {
				for seq := uint64(1); seq <= w.Published; seq++ {
					if len(has[sink.Event{TenantID: tenant, Seq: seq}.ID()]) == 0 {
						t.Errorf("chain %q: watermark %d passes seq %d, which the sink never accepted", tenant, w.Published, seq)
						return
					}
				}
			}
			checks++
		}
	})

	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				_, err := e.Add(pctx, engram.AddRequest{Content: fmt.Sprintf("w%d i%d", w, i)})
				if err != nil && !(mode == sink.FailClosed && engram.ErrorCode(err) == engram.CodeUnavailable) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	bg.Wait()

	// Catch up: each pass gets at least one entry further.
	for i := 0; ; i++ {
		n, err := e.AuditPending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if i == 1000 {
			t.Fatalf("%d entries still pending after %d passes", n, i)
		}
		_, _ = e.BackfillAudit(ctx)
	}
	// Nothing is pending; one more pass records how far inline
	// publication got (serve runs it at shutdown).
	if n, err := e.BackfillAudit(ctx); err != nil || n != 0 {
		t.Fatalf("a pass with nothing pending published %d (%v)", n, err)
	}
	checkAllPublished(t, dir, l)
	t.Logf("%d events accepted, %d back-filled, %d passes reported a refusal, %d invariant checks", l.count(), e.AuditBackfilled(), passErrs.Load(), checks)
}
