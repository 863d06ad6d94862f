// Package storetest is the conformance suite of store.Store: every
// implementation (SQLite, PostgreSQL) runs it, so the engine can rely on one
// behaviour whichever database holds the data.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engram-memory/engram/internal/store"
)

// Run runs the suite. open returns a new, empty store for each subtest; Run
// closes it when the subtest ends, so open must not (it may register a
// cleanup that drops the database: that runs after the close).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*fx)
	}{
		{"Tenants", testTenants},
		{"Accounts", testAccounts},
		{"Logins", testLogins},
		{"Sessions", testSessions},
		{"APIKeys", testAPIKeys},
		{"RevokeAPIKey", testRevokeAPIKey},
		{"TouchAPIKey", testTouchAPIKey},
		{"WrappedKeys", testWrappedKeys},
		{"Keys", testKeys},
		{"UpdateKey", testUpdateKey},
		{"DeleteKey", testDeleteKey},
		{"TenantKEK", testTenantKEK},
		{"ListTenants", testListTenants},
		{"Memory", testMemory},
		{"UpdateMemory", testUpdateMemory},
		{"DeleteMemory", testDeleteMemory},
		{"Memories", testMemories},
		{"MemoryByMAC", testMemoryByMAC},
		{"ListMemories", testListMemories},
		{"History", testHistory},
		{"SearchPostings", testSearchPostings},
		{"DocPostings", testDocPostings},
		{"Vectors", testVectors},
		{"HistoryEntry", testHistoryEntry},
		{"ReplaceHistory", testReplaceHistory},
		{"HistoryScan", testHistoryScan},
		{"DueMemories", testDueMemories},
		{"ReplaceAccount", testReplaceAccount},
		{"StaleRecords", testStaleRecords},
		{"DeleteSubject", testDeleteSubject},
		{"DeleteSubjectRollsBack", testDeleteSubjectRollsBack},
		{"DeleteTenant", testDeleteTenant},
		{"Idempotency", testIdempotency},
		{"OAuthClients", testOAuthClients}, {"OAuthCodes", testOAuthCodes}, {"OAuthCodeRace", testOAuthCodeRace}, {"OAuthTenantDelete", testOAuthTenantDelete}, {"OAuthIdleClients", testOAuthIdleClients},
		{"WriteRollsBackOnError", testWriteRollsBackOnError},
		{"WriteRollsBackOnPanic", testWriteRollsBackOnPanic},
		{"ReadIsReadOnly", testReadIsReadOnly},
		{"ReadBesideWrite", testReadBesideWrite},
		{"ConcurrentWrites", testConcurrentWrites},
		{"TenantIsolation", testTenantIsolation},
		{"Audit", testAudit},
		{"AuditConcurrent", testAuditConcurrent},
		{"AuditSegments", testAuditSegments},
		{"AuditWatermarks", testAuditWatermarks},
		{"Episode", testEpisode},
		{"UpdateEpisode", testUpdateEpisode},
		{"ListEpisodes", testListEpisodes},
		{"PendingEpisodes", testPendingEpisodes},
		{"Entity", testEntity},
		{"UpdateEntity", testUpdateEntity},
		{"EntitiesByKeys", testEntitiesByKeys},
		{"ListEntities", testListEntities},
		{"DeleteEntity", testDeleteEntity},
		{"Fact", testFact},
		{"UpdateFact", testUpdateFact},
		{"DeleteFact", testDeleteFact},
		{"FactsOf", testFactsOf},
		{"ListFacts", testListFacts},
		{"MoveEntityFacts", testMoveEntityFacts},
		{"Mentions", testMentions},
		{"Topics", testTopics},
		{"TenantSettings", testTenantSettings},
		{"DeleteUserObservations", testDeleteUserObservations},
		{"DeleteSubjectObservations", testDeleteSubjectObservations},
		{"DeleteTenantObservations", testDeleteTenantObservations},
		{"StaleObservations", testStaleObservations},
		{"RecordTenant", testRecordTenant},
		{"Leases", testLeases},
		{"IndexChanges", testIndexChanges}, {"DocPostingsOf", testDocPostingsOf},
	}
	tests = append(tests, visibilityTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(&fx{t: t, s: s, ctx: t.Context()})
		})
	}
}

// base is deliberately not UTC and not a whole microsecond: stores return
// UTC truncated to microseconds.
var base = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))

// at returns base plus n seconds.
func at(n int) time.Time { return base.Add(time.Duration(n) * time.Second) }

// newID returns a time-ordered id, as the engine makes them.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// fx is one subtest's fixture: a fresh store and helpers on it.
type fx struct {
	t   *testing.T
	s   store.Store
	ctx context.Context
}

// write runs fn in a write transaction. fn must not call t.Fatal: it
// returns errors, which the caller checks after the transaction ends.
func (f *fx) write(fn func(tx store.Tx) error) error { return f.s.Write(f.ctx, fn) }

func (f *fx) mustWrite(fn func(tx store.Tx) error) {
	f.t.Helper()
	if err := f.write(fn); err != nil {
		f.t.Fatalf("write: %v", err)
	}
}

func (f *fx) mustRead(fn func(tx store.Tx) error) {
	f.t.Helper()
	if err := f.s.Read(f.ctx, fn); err != nil {
		f.t.Fatalf("read: %v", err)
	}
}

// get runs one getter in its own read transaction.
func get[T any](f *fx, fn func(tx store.Tx) (T, error)) (T, error) {
	var v T
	err := f.s.Read(f.ctx, func(tx store.Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v, err
}

// mustGet is get that fails the test on an error.
func mustGet[T any](f *fx, fn func(tx store.Tx) (T, error)) T {
	f.t.Helper()
	v, err := get(f, fn)
	if err != nil {
		f.t.Fatalf("read: %v", err)
	}
	return v
}

// wantErr fails unless err is target (through any wrapping).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// tenant creates a tenant and returns its id.
func (f *fx) tenant() string {
	f.t.Helper()
	tn := &store.Tenant{ID: newID(), Name: "tenant-" + newID(), CreatedAt: base}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateTenant(f.ctx, tn) })
	return tn.ID
}

// account creates an account in tenantID and returns its id.
func (f *fx) account(tenantID string) string {
	f.t.Helper()
	a := &store.Account{ID: newID(), TenantID: tenantID, Role: "owner", Subject: "tenant", KeyVersion: 1,
		Name: []byte("sealed name"), CreatedAt: base}
	f.mustWrite(func(tx store.Tx) error { return tx.CreateAccount(f.ctx, a) })
	return a.ID
}

// checkEqual compares two records of the same struct type field by field,
// the way the contract defines equality: byte slices by content (nil and
// empty alike), times as instants that must come back in UTC, truncated to
// the microsecond.
func checkEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Kind() == reflect.Pointer {
		if gv.IsNil() {
			t.Errorf("%s: got nil", what)
			return
		}
		gv = gv.Elem()
	}
	if wv.Kind() == reflect.Pointer {
		wv = wv.Elem()
	}
	if gv.Type() != wv.Type() {
		t.Fatalf("%s: comparing %s with %s", what, gv.Type(), wv.Type())
	}
	for i := range gv.NumField() {
		name := what + "." + gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		switch w := w.(type) {
		case time.Time:
			checkTime(t, name, g.(time.Time), w)
		case *time.Time:
			g := g.(*time.Time)
			switch {
			case g == nil && w == nil:
			case g == nil || w == nil:
				t.Errorf("%s = %v, want %v", name, g, w)
			default:
				checkTime(t, name, *g, *w)
			}
		case []byte:
			if !bytes.Equal(g.([]byte), w) {
				t.Errorf("%s = %q, want %q", name, g, w)
			}
		case []string:
			if !slices.Equal(g.([]string), w) {
				t.Errorf("%s = %q, want %q", name, g, w)
			}
		default:
			if g != w {
				t.Errorf("%s = %v, want %v", name, g, w)
			}
		}
	}
}

func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	want = want.Truncate(time.Microsecond)
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want.UTC())
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

// checkList compares a list with the expected records, in order.
func checkList[T any](t *testing.T, what string, got []T, want []*T) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d records, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		checkEqual(t, fmt.Sprintf("%s[%d]", what, i), &got[i], want[i])
	}
}

// ids returns the ids of memories, in order.
func ids(ms []store.Memory) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

func sealed(format string, args ...any) []byte {
	return []byte("sealed:" + fmt.Sprintf(format, args...))
}
