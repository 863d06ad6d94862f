// Package sinktest is the conformance suite every audit sink passes: the
// contract of sink.Sink checked against the sink's real destination.
package sinktest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/sink"
)

// Received returns the envelopes the destination has received so far.
type Received func(t *testing.T) []sink.Envelope

// Run checks s against the contract: a stable name; concurrent Sends of
// distinct events all accepted and all arriving intact, each tenant in
// sequence order when the sink orders (ordered); an entry that is not JSON
// refused; Close idempotent. It closes s.
func Run(t *testing.T, s sink.Sink, received Received, ordered bool) {
	t.Helper()
	if s.Name() == "" {
		t.Fatal("empty Name")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tenants := []string{"acme", `we"ird]\tenant`}
	const perTenant = 10
	var wg sync.WaitGroup
	for _, tenant := range tenants {
		wg.Go(func() {
			// One goroutine per tenant: the engine sends a tenant's
			// entries in chain order, tenants concurrently.
			for seq := uint64(1); seq <= perTenant; seq++ {
				ev := sink.Event{TenantID: tenant, Seq: seq, Time: time.Unix(1_800_000_000, int64(seq)*1000).UTC(),
					JSON: []byte(fmt.Sprintf(`{"action":"memory.read","n":%d}`, seq))}
				if err := s.Send(ctx, ev); err != nil {
					t.Errorf("Send %s: %v", ev.ID(), err)
				}
			}
		})
	}
	wg.Wait()
	bad := sink.Event{TenantID: "acme", Seq: 99, Time: time.Now(), JSON: []byte(`{"broken":`)}
	if err := s.Send(ctx, bad); err == nil {
		t.Error("Send accepted an entry that is not JSON")
	}

	want := len(tenants) * perTenant
	var got []sink.Envelope
	for {
		got = received(t)
		if len(got) >= want || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	seen := map[string]bool{}
	last := map[string]uint64{}
	for _, e := range got {
		if e.ID != fmt.Sprintf("%s:%d", e.Tenant, e.Seq) || e.Seq < 1 || e.Seq > perTenant || !slices.Contains(tenants, e.Tenant) {
			t.Fatalf("unexpected envelope %+v", e)
		}
		if string(e.Entry) != fmt.Sprintf(`{"action":"memory.read","n":%d}`, e.Seq) || !e.Time.Equal(time.Unix(1_800_000_000, int64(e.Seq)*1000)) {
			t.Fatalf("envelope %s altered: %s at %v", e.ID, e.Entry, e.Time)
		}
		if seen[e.ID] {
			t.Fatalf("%s received twice", e.ID)
		}
		seen[e.ID] = true
		if ordered && e.Seq <= last[e.Tenant] {
			t.Fatalf("%s arrived after seq %d", e.ID, last[e.Tenant])
		}
		last[e.Tenant] = e.Seq
	}
	if len(seen) != want {
		t.Fatalf("received %d distinct events, want %d", len(seen), want)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
