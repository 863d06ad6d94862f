package sqlstore

import (
	"strings"
	"testing"
	"time"
)

// TestStamp: a time column scans from either dialect's representation —
// SQLite's INTEGER microseconds or PostgreSQL's timestamp — to the same UTC
// time; NULL only into a nullStamp.
func TestStamp(t *testing.T) {
	want := time.Date(2026, 12, 6, 4, 5, 6, 123456000, time.UTC)
	for _, src := range []any{want.UnixMicro(), want.In(time.FixedZone("X", 3600))} {
		var s stamp
		if err := s.Scan(src); err != nil || !s.t.Equal(want) || s.t.Location() != time.UTC {
			t.Fatalf("stamp from %T: %v, %v", src, s.t, err)
		}
		var n nullStamp
		if err := n.Scan(src); err != nil || n.ptr() == nil || !n.ptr().Equal(want) {
			t.Fatalf("nullStamp from %T: %v, %v", src, n.ptr(), err)
		}
	}
	var n nullStamp
	if err := n.Scan(nil); err != nil || n.ptr() != nil {
		t.Fatalf("nullStamp from NULL: %v, %v", n.ptr(), err)
	}
	var s stamp
	for _, src := range []any{nil, "2026-12-06", 1.5} {
		if err := s.Scan(src); err == nil {
			t.Fatalf("stamp from %T: no error", src)
		}
	}
}

// TestDialectTime: a bound time is microseconds for SQLite, a UTC
// timestamp truncated to the microsecond (the contract's precision) for
// PostgreSQL; nil is NULL for both.
func TestDialectTime(t *testing.T) {
	tm := time.Date(2026, 12, 6, 4, 5, 6, 123456789, time.FixedZone("X", -7200))
	lite := Tx{d: &Dialect{}}
	if got := lite.at(tm); got != tm.UnixMicro() {
		t.Fatalf("SQLite: %v", got)
	}
	pg := Tx{d: &Dialect{NativeTime: true}}
	got, ok := pg.at(tm).(time.Time)
	if !ok || !got.Equal(tm.Truncate(time.Microsecond)) || got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
		t.Fatalf("PostgreSQL: %v", pg.at(tm))
	}
	if lite.atOrNil(nil) != nil || pg.atOrNil(nil) != nil {
		t.Fatal("nil time is not NULL")
	}
}

// TestHint: index hints reach the SQL only in a dialect that takes them.
func TestHint(t *testing.T) {
	if got := (&Tx{d: &Dialect{IndexHints: true}}).hint(byMemoriesMAC); got != " INDEXED BY memories_mac" {
		t.Fatalf("with hints: %q", got)
	}
	if got := (&Tx{d: &Dialect{}}).hint(byMemoriesMAC); got != "" {
		t.Fatalf("without hints: %q", got)
	}
}

// TestStaleSQL: one part per sealed table, each tenant-filtered (and
// bound) only when a tenant is given.
func TestStaleSQL(t *testing.T) {
	all, args := staleSQL("")
	if len(args) != 1 || strings.Contains(all, "tenant_id = ?") {
		t.Fatalf("every tenant: %d args\n%s", len(args), all)
	}
	one, args := staleSQL("t1")
	if n := strings.Count(one, "?"); n != len(args) || n != len(staleTables)+2 {
		t.Fatalf("one tenant: %d markers, %d args\n%s", n, len(args), one)
	}
	if n := strings.Count(one, "UNION ALL"); n != len(staleTables)-1 {
		t.Fatalf("%d UNION ALL\n%s", n, one)
	}
}
