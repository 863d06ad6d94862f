package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/file"
	"github.com/engram-memory/engram/internal/audit/sink/safedial"
	"github.com/engram-memory/engram/internal/audit/sink/webhook"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/testserver"
)

// fullSpool is a fail-closed Dispatcher over one real webhook sink whose
// receiver is down (a closed loopback port) and whose spool holds n
// events: the first n entries are accepted (spooled), every later one is
// refused with spool.ErrFull, as in production once a receiver has been
// down long enough.
func fullSpool(t *testing.T, n int) *sink.Dispatcher {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	wh, err := webhook.New(webhook.Config{URL: "http://" + addr + "/hook", Secret: []byte("0123456789abcdef0123"),
		SpoolDir: t.TempDir(), MaxSpooled: n, AllowHTTP: true, Policy: safedial.Policy{AllowLoopback: true}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := sink.NewDispatcher(sink.FailClosed, nil, wh)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestFailClosedRollsBack: once no sink accepts entries, every mutating
// action answers unavailable and changes nothing; reads still work; each
// refusal is in the chain as a failure, and the chain verifies.
func TestFailClosedRollsBack(t *testing.T) {
	// Room for: tenant.create (system chain), memory.create, key.create.
	d := fullSpool(t, 3)
	var mu sync.Mutex
	var reported []error
	e, _ := testserver.NewEngine(t, engine.WithAuditSinkFailClosed(d, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	}))
	ctx := context.Background()
	_, pctx := owner(t, e)
	res, err := e.Add(pctx, engram.AddRequest{Content: "first", Scope: engram.Scope{UserID: "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	id := res[0].ID
	nk, err := e.CreateKey(pctx, engram.CreateKeyRequest{Name: "k", Scopes: []engram.Permission{engram.PermMemoriesRead}})
	if err != nil {
		t.Fatal(err)
	}

	// The spool is full from here on.
	refused := []struct {
		name string
		do   func() error
	}{
		{"add", func() error { _, err := e.Add(pctx, engram.AddRequest{Content: "second"}); return err }},
		{"update", func() error { _, err := e.Update(pctx, id, engram.UpdateRequest{Content: "changed"}); return err }},
		{"delete", func() error { return e.Delete(pctx, id) }},
		{"create key", func() error {
			_, err := e.CreateKey(pctx, engram.CreateKeyRequest{Name: "k2", Scopes: []engram.Permission{engram.PermMemoriesRead}})
			return err
		}},
		{"revoke key", func() error { return e.RevokeKey(pctx, nk.ID) }},
		{"forget user", func() error { _, err := e.ForgetUser(pctx, "u1"); return err }},
		{"create tenant", func() error { _, err := e.CreateTenant(ctx, "t2"); return err }},
	}
	for _, r := range refused {
		if err := r.do(); engram.ErrorCode(err) != engram.CodeUnavailable {
			t.Errorf("%s with every sink refusing: %v, want unavailable", r.name, err)
		}
	}

	// Nothing changed, and reads are not refused.
	m, err := e.Get(pctx, id)
	if err != nil || m.Content != "first" {
		t.Fatalf("memory after refused writes: %+v, %v", m, err)
	}
	list, err := e.List(pctx, engram.ListRequest{})
	if err != nil || len(list.Memories) != 1 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if h, err := e.History(pctx, id); err != nil || len(h) != 1 {
		t.Fatalf("history: %+v, %v", h, err)
	}
	if _, err := e.Authenticate(ctx, nk.Secret); err != nil {
		t.Fatalf("the key whose revocation was refused: %v", err)
	}
	if _, err := e.TenantByName(ctx, "t2"); engram.ErrorCode(err) != engram.CodeNotFound {
		t.Fatalf("tenant t2: %v, want not_found", err)
	}
	keys, err := e.ListKeys(pctx)
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys: %d, %v; want 2", len(keys), err)
	}

	// Each refusal of a tenant action is a failure entry with reason
	// unavailable; the chains verify.
	page, err := e.ListAudit(pctx, engram.AuditQuery{Outcome: engram.OutcomeFailure, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	failures := 0
	for _, en := range page.Entries {
		if en.Reason == engram.CodeUnavailable {
			failures++
		}
	}
	if failures != len(refused)-1 { // tenant creation is an operator action with no tenant chain yet
		t.Errorf("%d unavailable failure entries, want %d: %+v", failures, len(refused)-1, page.Entries)
	}
	reports, err := e.VerifyAudit(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reports {
		if r.Problem != nil {
			t.Fatalf("chain %q: %v", r.TenantID, r.Problem)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) == 0 {
		t.Error("the refusals were not reported to the operator")
	}
}

// TestFailClosedOrder: in fail-closed mode a mutating entry reaches the
// sink inside its transaction, and writes are serialised, so concurrent
// writers' entries arrive in the file in seq order, each exactly as
// chained.
func TestFailClosedOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	fs, err := file.Open(file.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	d, err := sink.NewDispatcher(sink.FailClosed, nil, fs)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := testserver.NewEngine(t, engine.WithAuditSinkFailClosed(d, nil))
	nt, pctx := owner(t, e)
	const writers, each = 6, 8
	concurrently(t, writers, each, func(w, i int) error {
		_, err := e.Add(pctx, engram.AddRequest{Content: fmt.Sprintf("w%d i%d", w, i)})
		return err
	})
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last uint64
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var env sink.Envelope
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		if env.Tenant != nt.Tenant.ID {
			continue
		}
		var r audit.Record
		if err := json.Unmarshal(env.Entry, &r); err != nil {
			t.Fatal(err)
		}
		if r.Action != engram.AuditMemoryCreate || env.Seq != last+1 {
			t.Fatalf("entry %d after %d: %s", env.Seq, last, env.Entry)
		}
		last = env.Seq
		n++
	}
	if n != writers*each {
		t.Fatalf("%d entries in the file, want %d", n, writers*each)
	}
}
