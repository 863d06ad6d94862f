package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/safedial"
	"github.com/engram-memory/engram/internal/audit/sink/sinktest"
	"github.com/engram-memory/engram/internal/audit/sink/webhook"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var secret = []byte("test-secret-0123456789abcdef")

// receiver is a webhook endpoint as a customer would write it: verify the
// signature on the raw body, then record the event, deduplicating on the
// Webhook-Id.
type receiver struct {
	t        *testing.T
	status   atomic.Int32 // answer; 200 when 0
	loseAck  sync.Map     // id -> true: record, then answer 503 once (a lost ack)
	mu       sync.Mutex
	requests int
	badSigs  int
	accepted []sink.Envelope // every accepted body, duplicates included
	ids      map[string]bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if err := webhook.Verify(secret, r.Header, body, time.Now(), 0); err != nil {
		rc.badSigs++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if s := rc.status.Load(); s != 0 {
		w.WriteHeader(int(s))
		return
	}
	var env sink.Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	id := r.Header.Get(webhook.HeaderID)
	if id != env.ID || r.Header.Get(webhook.HeaderIdempotency) != id || id != fmt.Sprintf("%s:%d", env.Tenant, env.Seq) {
		rc.t.Errorf("id header %q does not match body %s:%d", id, env.Tenant, env.Seq)
	}
	rc.accepted = append(rc.accepted, env)
	if rc.ids == nil {
		rc.ids = map[string]bool{}
	}
	rc.ids[id] = true
	if _, lose := rc.loseAck.LoadAndDelete(id); lose {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// perTenant dedups accepted deliveries by id (as the receiver would) and
// returns each tenant's sequence numbers in first-delivery order, the
// number of duplicates and of deliveries with a bad signature.
func (rc *receiver) perTenant() (got map[string][]uint64, dups, badSigs int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[string]bool{}
	out := map[string][]uint64{}
	for _, e := range rc.accepted {
		if seen[e.ID] {
			dups++
			continue
		}
		seen[e.ID] = true
		out[e.Tenant] = append(out[e.Tenant], e.Seq)
	}
	return out, dups, rc.badSigs
}

func event(tenant string, seq uint64) sink.Event {
	return sink.Event{TenantID: tenant, Seq: seq, Time: time.Now(),
		JSON: []byte(fmt.Sprintf(`{"action":"memory.update","target":"m-%d"}`, seq))}
}

func newSink(t *testing.T, url, spoolDir string, allowLoopback bool) *webhook.Sink {
	t.Helper()
	s, err := webhook.New(webhook.Config{
		URL: url, Secret: secret, SpoolDir: spoolDir, AllowHTTP: true,
		Policy:     safedial.Policy{AllowLoopback: allowLoopback},
		Timeout:    2 * time.Second,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func seqs(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func checkTenant(t *testing.T, got map[string][]uint64, tenant string, want []uint64) {
	t.Helper()
	if fmt.Sprint(got[tenant]) != fmt.Sprint(want) {
		t.Fatalf("tenant %s: delivered %v, want %v in order", tenant, got[tenant], want)
	}
}

func TestDeliversSignedInOrderPerTenant(t *testing.T) {
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	s := newSink(t, srv.URL+"/hook?token=abc", t.TempDir(), true)
	defer s.Close()
	ctx := context.Background()
	for i := uint64(1); i <= 20; i++ {
		for _, tenant := range []string{"acme", "globex"} {
			if err := s.Send(ctx, event(tenant, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	got, dups, bad := rc.perTenant()
	checkTenant(t, got, "acme", seqs(1, 20))
	checkTenant(t, got, "globex", seqs(1, 20))
	if dups != 0 || bad != 0 {
		t.Fatalf("dups %d bad signatures %d", dups, bad)
	}
	if st := s.Stats(); st.Spooled != 40 || st.Delivered != 40 {
		t.Fatalf("stats %+v", st)
	}
	if strings.Contains(s.Name(), "token") {
		t.Fatalf("name %q leaks the query", s.Name())
	}
}

// TestOutageRestartRecovery: the receiver answers 503, then goes away
// entirely; the sink is restarted over the same spool mid-outage; a lost
// acknowledgement forces one redelivery. When the receiver returns, every
// event arrives, each tenant in order, and the only duplicate carries the
// same Webhook-Id so the receiver recognises it.
func TestOutageRestartRecovery(t *testing.T) {
	rc := &receiver{t: t}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := httptest.NewUnstartedServer(rc)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	url := srv.URL + "/hook"
	spoolDir := t.TempDir()
	ctx := context.Background()

	// Phase 1: receiver up but failing.
	rc.status.Store(http.StatusServiceUnavailable)
	s1 := newSink(t, url, spoolDir, true)
	for i := uint64(1); i <= 5; i++ {
		if err := s1.Send(ctx, event("acme", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := uint64(1); i <= 3; i++ {
		if err := s1.Send(ctx, event("globex", i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "failed attempts against the 503 receiver", func() bool { return s1.Stats().Attempts >= 3 })

	// Phase 2: the receiver goes down and Engram restarts mid-outage.
	srv.Close()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newSink(t, url, spoolDir, true)
	defer s2.Close()
	for i := uint64(6); i <= 8; i++ {
		if err := s2.Send(ctx, event("acme", i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "failed attempts against the dead receiver", func() bool { return s2.Stats().Attempts >= 2 })

	// Phase 3: the receiver comes back on the same address, and loses
	// the acknowledgement of acme:3 once.
	rc.status.Store(0)
	rc.loseAck.Store("acme:3", true)
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv2 := httptest.NewUnstartedServer(rc)
	srv2.Listener.Close()
	srv2.Listener = ln2
	srv2.Start()
	defer srv2.Close()
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s2.Flush(fctx); err != nil {
		t.Fatal(err)
	}
	got, dups, bad := rc.perTenant()
	checkTenant(t, got, "acme", seqs(1, 8))
	checkTenant(t, got, "globex", seqs(1, 3))
	if dups != 1 {
		t.Fatalf("want exactly the one redelivery of acme:3, got %d duplicates", dups)
	}
	if bad != 0 {
		t.Fatalf("%d bad signatures", bad)
	}
}

func TestSSRFGuardRefusesLoopbackByDefault(t *testing.T) {
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	neverDelivered(t, newSink(t, srv.URL, t.TempDir(), false), rc)
	// The same receiver by a name that resolves to loopback.
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	neverDelivered(t, newSink(t, "http://localhost:"+port+"/hook", t.TempDir(), false), rc)
}

// neverDelivered sends one event and checks that attempts fail without
// any request reaching rc.
func neverDelivered(t *testing.T, s *webhook.Sink, rc *receiver) {
	t.Helper()
	if err := s.Send(context.Background(), event("acme", 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "failed attempts", func() bool { return s.Stats().Attempts >= 2 })
	s.Close()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.requests != 0 || s.Stats().Delivered != 0 {
		t.Fatalf("receiver got %d requests", rc.requests)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	rc := &receiver{t: t}
	target := httptest.NewServer(rc)
	defer target.Close()
	redirector := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusTemporaryRedirect))
	defer redirector.Close()
	neverDelivered(t, newSink(t, redirector.URL, t.TempDir(), true), rc)
}

func TestConfigRefusals(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []webhook.Config{
		{URL: "http://example.com/h", Secret: secret, SpoolDir: dir},
		{URL: "ftp://example.com/h", Secret: secret, SpoolDir: dir},
		{URL: "https://user:pw-XYZ@example.com/h", Secret: secret, SpoolDir: dir},
		{URL: "https://example.com/h", Secret: []byte("short-sekrit"), SpoolDir: dir},
		{URL: "https://example.com/h", Secret: secret, SpoolDir: ""},
	} {
		s, err := webhook.New(c)
		if err == nil {
			s.Close()
			t.Errorf("%s: want error", c.URL)
			continue
		}
		if strings.Contains(err.Error(), "pw-XYZ") || strings.Contains(err.Error(), "sekrit") || strings.Contains(err.Error(), string(secret)) {
			t.Errorf("error echoes a secret: %v", err)
		}
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"acme:1"}`)
	now := time.Unix(1_800_000_000, 0)
	h := http.Header{}
	h.Set(webhook.HeaderID, "acme:1")
	h.Set(webhook.HeaderTimestamp, fmt.Sprint(now.Unix()))
	h.Set(webhook.HeaderSignature, webhook.Sign(secret, "acme:1", now, body))
	if err := webhook.Verify(secret, h, body, now, 0); err != nil {
		t.Fatalf("valid delivery: %v", err)
	}
	// Secret rotation: several signatures, one valid.
	rot := h.Clone()
	rot.Set(webhook.HeaderSignature, "v1,AAAA "+h.Get(webhook.HeaderSignature))
	if err := webhook.Verify(secret, rot, body, now, 0); err != nil {
		t.Fatalf("rotated: %v", err)
	}
	otherID := h.Clone()
	otherID.Set(webhook.HeaderID, "acme:2")
	missing := h.Clone()
	missing.Del(webhook.HeaderTimestamp)
	for name, c := range map[string]struct {
		secret []byte
		h      http.Header
		body   []byte
		now    time.Time
	}{
		"tampered body":  {secret, h, []byte(`{"id":"acme:2"}`), now},
		"wrong secret":   {[]byte("another-secret-0123456789"), h, body, now},
		"swapped id":     {secret, otherID, body, now},
		"replayed later": {secret, h, body, now.Add(6 * time.Minute)},
		"from future":    {secret, h, body, now.Add(-6 * time.Minute)},
		"missing header": {secret, missing, body, now},
	} {
		if err := webhook.Verify(c.secret, c.h, c.body, c.now, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// BenchmarkSend measures Send (the fsynced spool write) with the receiver
// refused by the guard, so nothing is delivered, and end-to-end throughput
// to a loopback receiver (spool write, signed POST, acknowledgement, spool
// removal), flushed before the clock stops.
func BenchmarkSend(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	for _, c := range []struct {
		name  string
		allow bool
	}{{"spool-only", false}, {"delivered", true}} {
		b.Run(c.name, func(b *testing.B) {
			s, err := webhook.New(webhook.Config{
				URL: srv.URL, Secret: secret, SpoolDir: b.TempDir(), AllowHTTP: true,
				Policy:     safedial.Policy{AllowLoopback: c.allow},
				MinBackoff: time.Hour, MaxBackoff: time.Hour,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var seq uint64
			for b.Loop() {
				seq++
				if err := s.Send(context.Background(), event("acme", seq)); err != nil {
					b.Fatal(err)
				}
			}
			if c.allow {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := s.Flush(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzVerify: arbitrary headers and bodies never verify without the
// secret, and never panic.
func FuzzVerify(f *testing.F) {
	f.Add("acme:1", "1800000000", "v1,AAAA", []byte(`{}`))
	f.Add("", "", "", []byte(nil))
	f.Add("a", "-99999999999999999999", "v1, v1,=== v2,x", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(webhook.HeaderID, id)
		h.Set(webhook.HeaderTimestamp, ts)
		h.Set(webhook.HeaderSignature, sig)
		if webhook.Verify(secret, h, body, time.Unix(1_800_000_000, 0), 0) == nil {
			t.Fatalf("forged delivery verified: %q %q %q", id, ts, sig)
		}
	})
}

func TestConformance(t *testing.T) {
	rc := &receiver{t: t}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	sinktest.Run(t, newSink(t, srv.URL, t.TempDir(), true), func(*testing.T) []sink.Envelope {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return slices.Clone(rc.accepted)
	}, true)
}

// TestStalledTenantDoesNotDelayOthers: a receiver that rejects one
// tenant's event puts that tenant in a long backoff; other tenants'
// events, including ones sent during that backoff, arrive at once.
func TestStalledTenantDoesNotDelayOthers(t *testing.T) {
	var (
		mu        sync.Mutex
		delivered []string
		rejected  int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id := r.Header.Get(webhook.HeaderID)
		if strings.HasPrefix(id, "acme:") {
			rejected++
			http.Error(w, "schema mismatch", http.StatusBadRequest)
			return
		}
		delivered = append(delivered, id)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s, err := webhook.New(webhook.Config{
		URL: srv.URL, Secret: secret, SpoolDir: t.TempDir(), AllowHTTP: true,
		Policy:     safedial.Policy{AllowLoopback: true},
		MinBackoff: time.Hour, MaxBackoff: time.Hour, // at least 30 minutes
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for _, ev := range []sink.Event{event("acme", 1), event("acme", 2), event("globex", 1), event("globex", 2)} {
		if err := s.Send(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(delivered) }
	eventually(t, "globex delivered while acme is stalled", func() bool { return count() == 2 })
	if err := s.Send(ctx, event("globex", 3)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "globex:3 delivered during acme's backoff", func() bool { return count() == 3 })
	mu.Lock()
	defer mu.Unlock()
	if rejected != 1 || fmt.Sprint(delivered) != "[globex:1 globex:2 globex:3]" {
		t.Fatalf("acme attempts %d (want 1: in backoff after), delivered %v", rejected, delivered)
	}
}
