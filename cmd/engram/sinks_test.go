package main_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	engrampkg "github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/webhook"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// receiver is a webhook endpoint on loopback that checks every signature
// and keeps the first delivery of each event id.
type receiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server

	mu     sync.Mutex
	status int               // answered instead of 204 while non-zero
	posts  int               // every signed POST, answered or not
	bodies map[string][]byte // by Webhook-Id, first accepted delivery
	order  map[string][]uint64
}

func newReceiver(t *testing.T, secret []byte) *receiver {
	return &receiver{t: t, secret: secret, bodies: map[string][]byte{}, order: map[string][]uint64{}}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := webhook.Verify(rc.secret, r.Header, body, time.Now(), 0); err != nil {
		rc.t.Errorf("delivery with a bad signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts++
	if rc.status != 0 {
		w.WriteHeader(rc.status)
		return
	}
	var env sink.Envelope
	if err := json.Unmarshal(body, &env); err != nil || env.ID != r.Header.Get(webhook.HeaderID) {
		rc.t.Errorf("envelope %q (id header %q): %v", body, r.Header.Get(webhook.HeaderID), err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if prev, ok := rc.bodies[env.ID]; ok {
		// At-least-once: a redelivery must be the same event.
		if !bytes.Equal(prev, body) {
			rc.t.Errorf("redelivery of %s differs", env.ID)
		}
	} else {
		rc.bodies[env.ID] = body
		rc.order[env.Tenant] = append(rc.order[env.Tenant], env.Seq)
	}
	w.WriteHeader(http.StatusNoContent)
}

// start listens on addr ("" for any loopback port): the same address
// again after stop brings the receiver back where Engram expects it.
func (rc *receiver) start(addr string) string {
	rc.t.Helper()
	srv := httptest.NewUnstartedServer(rc)
	if addr != "" {
		srv.Listener.Close()
		var err error
		for i := 0; ; i++ {
			if srv.Listener, err = net.Listen("tcp", addr); err == nil {
				break
			}
			if i == 50 {
				rc.t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	srv.Start()
	rc.srv = srv
	return srv.Listener.Addr().String()
}

func (rc *receiver) stop() { rc.srv.Close() }

func (rc *receiver) set(status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status = status
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.posts
}

func (rc *receiver) snapshot() (map[string][]byte, map[string][]uint64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	b := make(map[string][]byte, len(rc.bodies))
	for k, v := range rc.bodies {
		b[k] = v
	}
	o := map[string][]uint64{}
	for k, v := range rc.order {
		o[k] = append([]uint64(nil), v...)
	}
	return b, o
}

// markers are strings the session sends that no sink may ever receive.
type markers struct {
	content, content2, query, user, meta string
	secrets                              []string
}

func newMarkers(t *testing.T) *markers {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	s := hex.EncodeToString(b)
	return &markers{content: "content-heron-" + s, content2: "content-egret-" + s, query: "query-ibis-" + s,
		user: "user-crane-" + s, meta: "meta-stork-" + s}
}

func (m *markers) all() []string {
	return append([]string{m.content, m.content2, m.query, m.user, m.meta}, m.secrets...)
}

// session makes the calls of an ordinary session, each one audited:
// writes, reads, search, keys, a refused key and an audit read.
func session(t *testing.T, url, key string, m *markers) {
	t.Helper()
	ctx := context.Background()
	c := client.New(url, key)
	mem := c.Memories()
	res, err := mem.Add(ctx, engrampkg.AddRequest{Content: m.content, Scope: engrampkg.Scope{UserID: m.user},
		Metadata: map[string]any{"note": m.meta}})
	if err != nil {
		t.Fatal(err)
	}
	id := res[0].ID
	if _, err := mem.Get(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.List(ctx, engrampkg.ListRequest{Scope: engrampkg.Scope{UserID: m.user}}); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Search(ctx, engrampkg.SearchRequest{Query: m.query}); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Update(ctx, id, engrampkg.UpdateRequest{Content: m.content2}); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.History(ctx, id); err != nil {
		t.Fatal(err)
	}
	nk, err := c.CreateKey(ctx, client.CreateKeyRequest{Name: "reader", Scopes: []engrampkg.Permission{engrampkg.PermMemoriesRead}})
	if err != nil {
		t.Fatal(err)
	}
	m.secrets = append(m.secrets, nk.Secret)
	if _, err := client.New(url, nk.Secret).Audit(ctx, engrampkg.AuditQuery{}); client.Code(err) != engrampkg.CodeForbidden {
		t.Fatalf("read-only key reading the audit trail: %v", err)
	}
	if err := c.RevokeKey(ctx, nk.ID); err != nil {
		t.Fatal(err)
	}
	// An unknown key: an authentication failure in the system chain.
	if _, err := client.New(url, "engram_nosuchkey_"+m.query).Audit(ctx, engrampkg.AuditQuery{}); client.Code(err) != engrampkg.CodeUnauthenticated {
		t.Fatalf("unknown key: %v", err)
	}
	if err := mem.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Audit(ctx, engrampkg.AuditQuery{Limit: 5}); err != nil {
		t.Fatal(err)
	}
}

// readFileSink returns the file sink's entries by event id, checking that
// every line is one JSON envelope and no id appears twice.
func readFileSink(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var env sink.Envelope
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil || env.ID == "" {
			t.Fatalf("file sink line %q: %v", sc.Text(), err)
		}
		if _, dup := out[env.ID]; dup {
			t.Errorf("file sink: %s twice", env.ID)
		}
		out[env.ID] = append([]byte(nil), env.Entry...)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// chains reads every audit record of the data directory's store, oldest
// first per tenant: the source of truth the sinks must match.
func chains(t *testing.T, data string) map[string][]store.AuditRecord {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(data, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]store.AuditRecord{}
	if err := db.Read(ctx, func(tx store.Tx) error {
		ids, err := tx.AuditChains(ctx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			rs, err := tx.ListAudit(ctx, id, store.AuditFilter{Limit: 100000})
			if err != nil {
				return err
			}
			for i := len(rs) - 1; i >= 0; i-- {
				out[id] = append(out[id], rs[i])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// envelopeEntries extracts the entry of each webhook body.
func envelopeEntries(t *testing.T, bodies map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for id, b := range bodies {
		var env sink.Envelope
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatal(err)
		}
		out[id] = env.Entry
	}
	return out
}

func spoolEmpty(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "t-*", "*.json"))
	return len(files) == 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAuditSinksEndToEnd runs `engram serve` with a file sink and a signed
// webhook to a loopback receiver, through a session of API calls, a 503
// outage, a dead receiver, an Engram restart during the outage, and the
// recovery. Afterwards every entry of every chain (the tenant's and the
// system chain) is in both sinks, byte for byte as chained, with its MAC,
// seqs contiguous per tenant; the webhook delivered each tenant's entries in
// order; the tenant's entries match GET /v1/audit; and no sink ever saw
// content, a query, a user id, metadata or a secret.
func TestAuditSinksEndToEnd(t *testing.T) {
	dir := t.TempDir()
	data, spool, file := filepath.Join(dir, "data"), filepath.Join(dir, "spool"), filepath.Join(dir, "audit.jsonl")
	secret := "whsec-test-" + newMarkers(t).query // ≥ 16 bytes, random
	rc := newReceiver(t, []byte(secret))
	addr := rc.start("")
	env := []string{
		"ENGRAM_AUDIT_SINKS=file:" + file + ";http://" + addr + "/hook#spool=" + spool + "&allow=loopback,http&max_backoff=200ms&timeout=2s",
		"ENGRAM_AUDIT_WEBHOOK_SECRET=" + secret,
	}
	m := newMarkers(t)
	m.secrets = append(m.secrets, secret)

	s := startServerWith(t, data, env)
	key := ownerKey(t, data)
	m.secrets = append(m.secrets, key)
	session(t, s.url, key, m)

	// The receiver answers 503: Engram keeps retrying, requests succeed.
	rc.set(http.StatusServiceUnavailable)
	before := rc.count()
	session(t, s.url, key, m)
	waitFor(t, "retries against the 503", func() bool { return rc.count() >= before+3 })

	// The receiver goes away altogether, and Engram restarts meanwhile
	// over the same data directory and spool.
	rc.stop()
	session(t, s.url, key, m)
	s.stop(t)
	s = startServerWith(t, data, env)
	session(t, s.url, key, m)
	time.Sleep(300 * time.Millisecond)

	// Recovery: the receiver is back where it was, accepting.
	rc.set(0)
	rc.start(addr)
	session(t, s.url, key, m)
	waitFor(t, "the spool to drain", func() bool { return spoolEmpty(spool) })

	// GET /v1/audit agrees with what the sinks received.
	ctx := context.Background()
	var api []engrampkg.AuditRecord
	for cur := ""; ; {
		page, err := client.New(s.url, key).Audit(ctx, engrampkg.AuditQuery{Limit: 100, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		api = append(api, page.Entries...)
		if cur = page.NextCursor; cur == "" {
			break
		}
	}
	metrics := scrape(t, s.url+"/metrics")
	waitFor(t, "the spool to drain", func() bool { return spoolEmpty(spool) })
	s.stop(t)

	fromFile := readFileSink(t, file)
	bodies, order := rc.snapshot()
	fromHook := envelopeEntries(t, bodies)
	all := chains(t, data)
	if len(all[""]) == 0 {
		t.Fatal("the system chain is empty")
	}
	total := 0
	for tenant, recs := range all {
		for i, r := range recs {
			if r.Entry.Seq != uint64(i+1) {
				t.Fatalf("chain %q: record %d has seq %d", tenant, i, r.Entry.Seq)
			}
			id := sink.Event{TenantID: tenant, Seq: r.Entry.Seq}.ID()
			want := audit.JSON(&r.Entry, r.KeyVersion, r.MAC)
			if got := fromFile[id]; !bytes.Equal(got, want) {
				t.Errorf("file sink %s:\n got %s\nwant %s", id, got, want)
			}
			if got := fromHook[id]; !bytes.Equal(got, want) {
				t.Errorf("webhook %s:\n got %s\nwant %s", id, got, want)
			}
		}
		total += len(recs)
		// One worker per tenant, in seq order, never skipping.
		for i, seq := range order[tenant] {
			if seq != uint64(i+1) {
				t.Fatalf("webhook: tenant %q's deliveries out of order: %v", tenant, order[tenant])
			}
		}
	}
	t.Logf("%d chains, %d entries; %d webhook POSTs (with retries)", len(all), total, rc.count())
	if len(fromFile) != total || len(fromHook) != total {
		t.Errorf("file sink has %d entries, webhook %d, the chains %d", len(fromFile), len(fromHook), total)
	}
	for _, e := range api {
		raw, ok := fromHook[sink.Event{TenantID: e.TenantID, Seq: e.Seq}.ID()]
		if !ok {
			t.Fatalf("GET /v1/audit has %s:%d, the sinks do not", e.TenantID, e.Seq)
		}
		var got audit.Record
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
		if !got.Time.Equal(e.Time) {
			t.Errorf("seq %d: time %v, API %v", e.Seq, got.Time, e.Time)
		}
		// The whole record, chain MAC included: a receiver can match what
		// it holds against what the API serves.
		got.Time, e.Time = time.Time{}, time.Time{}
		if got != e || len(e.MAC) != 64 || e.KeyVersion < 1 {
			t.Errorf("seq %d: sink %+v, API %+v", e.Seq, got, e)
		}
	}
	if len(api) < 40 {
		t.Errorf("GET /v1/audit returned only %d entries", len(api))
	}

	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var hooked []byte
	for _, b := range bodies {
		hooked = append(hooked, b...)
	}
	for _, mk := range m.all() {
		if bytes.Contains(raw, []byte(mk)) || bytes.Contains(hooked, []byte(mk)) {
			t.Errorf("a sink received %q", mk)
		}
	}
	for _, want := range []string{`engram_audit_sink_events_total{result="spooled",sink="webhook:`, `engram_audit_sink_events_total{result="delivered",sink="file:`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %q", out)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// closedPort returns a loopback address nobody listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestAuditFailClosed: with --audit-fail-closed and every sink failing
// (TCP syslog to a closed loopback port), POST /v1/memories answers 503
// `unavailable` and stores nothing; the refusal is itself in the chain,
// which still verifies. With one working sink beside the failing one, the
// same request succeeds and the file sink has its entry as a JSON line.
func TestAuditFailClosed(t *testing.T) {
	dir := t.TempDir()
	data, file := filepath.Join(dir, "data"), filepath.Join(dir, "audit.jsonl")
	dead := "syslog+tcp://" + closedPort(t)
	m := newMarkers(t)
	ctx := context.Background()

	// First start with a working sink: creating the default tenant is a
	// mutating action too.
	s := startServerWith(t, data, []string{"ENGRAM_AUDIT_FAIL_CLOSED=true"}, "--audit-sink", "file:"+file)
	key := ownerKey(t, data)
	s.stop(t)

	s = startServerWith(t, data, nil, "--audit-fail-closed", "--audit-sink", dead)
	mem := client.New(s.url, key).Memories()
	req, err := http.NewRequest(http.MethodPost, s.url+"/v1/memories",
		strings.NewReader(`{"content":"`+m.content+`","user_id":"`+m.user+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var problem struct{ Code string }
	err = json.NewDecoder(resp.Body).Decode(&problem)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || problem.Code != engrampkg.CodeUnavailable {
		t.Fatalf("POST /v1/memories with every sink failing: %d %+v (%v), want 503 unavailable", resp.StatusCode, problem, err)
	}
	list, err := mem.List(ctx, engrampkg.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Memories) != 0 {
		t.Fatalf("a refused add stored %d memories", len(list.Memories))
	}
	if hits, err := mem.Search(ctx, engrampkg.SearchRequest{Query: m.content, Threshold: client.Threshold(0)}); err != nil || len(hits) != 0 {
		t.Fatalf("search after a refused add: %v, %d hits", err, len(hits))
	}
	page, err := client.New(s.url, key).Audit(ctx, engrampkg.AuditQuery{Action: engrampkg.AuditMemoryCreate})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 1 || page.Entries[0].Outcome != engrampkg.OutcomeFailure || page.Entries[0].Reason != engrampkg.CodeUnavailable {
		t.Fatalf("memory.create entries: %+v, want one failure (unavailable)", page.Entries)
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %q", out)
	}
	if strings.Contains(string(s.stderr.Bytes()), m.content) {
		t.Error("the server logged memory content")
	}
	s.stop(t)

	// One sink that works is enough.
	s = startServerWith(t, data, nil, "--audit-fail-closed", "--audit-sink", dead, "--audit-sink", "file:"+file+"#sync=always")
	res, err := client.New(s.url, key).Memories().Add(ctx, engrampkg.AddRequest{Content: m.content})
	if err != nil {
		t.Fatalf("add with one working sink: %v", err)
	}
	s.stop(t)
	lines := readFileSink(t, file)
	found := false
	for _, raw := range lines {
		var r audit.Record
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		if r.Action == engrampkg.AuditMemoryCreate && r.TargetID == res[0].ID && r.Outcome == engrampkg.OutcomeSuccess {
			found = true
		}
	}
	if !found {
		t.Fatalf("the file sink lacks the memory.create entry of %s", res[0].ID)
	}
	if _, ok := lines[":1"]; !ok {
		t.Error("the file sink lacks the system chain's tenant.create")
	}
	if out := mustEngram(t, nil, "audit", "verify", "--data", data); !strings.Contains(out, "intact") {
		t.Fatalf("verify: %q", out)
	}
}

// TestAuditSinkConfigErrors: a bad sink stops `engram serve` before it
// opens anything, and the error never shows the webhook secret.
func TestAuditSinkConfigErrors(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	secret := "s3cret-" + newMarkers(t).query
	for _, c := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--audit-fail-closed"}, nil, "needs at least one --audit-sink"},
		{[]string{"--audit-sink", "ftp://x/y"}, nil, "unknown scheme"},
		{[]string{"--audit-sink", "https://hooks.example/h#spool=/tmp/s"}, []string{"ENGRAM_AUDIT_WEBHOOK_SECRET=short"}, "at least 16 bytes"},
		{nil, []string{"ENGRAM_AUDIT_SINKS=http://hooks.example/h#spool=/tmp/s&secret_env=HOOK", "HOOK=" + secret, "ENGRAM_AUDIT_FAIL_CLOSED=1"}, "plain"},
		{[]string{"--audit-sink", "file:/tmp/x#sync=sometimes"}, nil, "sync="},
	} {
		_, errOut, err := engram(t, c.env, append([]string{"serve", "--data", data, "--addr", "127.0.0.1:0"}, c.args...)...)
		if err == nil || !strings.Contains(errOut, c.want) || strings.Contains(errOut, secret) {
			t.Errorf("%v %v: err %v, stderr %q; want an error containing %q", c.args, c.env, err, errOut, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "engram.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a rejected configuration created the store: %v", err)
	}
}

// TestBenchAPIAuditSink: `engram bench api --audit-sink` measures with the
// sink it is given, and never with a deployment's ENGRAM_AUDIT_SINKS.
func TestBenchAPIAuditSink(t *testing.T) {
	dir := t.TempDir()
	given, deployed := filepath.Join(dir, "bench.jsonl"), filepath.Join(dir, "deployed.jsonl")
	out := mustEngram(t, []string{"ENGRAM_AUDIT_SINKS=file:" + deployed}, "bench", "api", "--n", "5", "--embedder", "none",
		"--audit-fail-closed", "--audit-sink", "file:"+given)
	if !strings.Contains(out, "audit sinks: 1 (fail-closed true)") {
		t.Errorf("bench output: %q", out)
	}
	if n := len(readFileSink(t, given)); n < 10 {
		t.Errorf("the benchmark's sink has %d entries, want ≥ 10", n)
	}
	if _, err := os.Stat(deployed); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the benchmark wrote to ENGRAM_AUDIT_SINKS: %v", err)
	}
}
