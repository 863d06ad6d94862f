package spool_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/audit/sink/spool"
)

func TestOrderReopenAndCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Out of order, an odd tenant id, and a retried Append.
	for _, seq := range []uint64{3, 1, 10, 2, 2} {
		if err := s.Append("a/../b", seq, []byte(fmt.Sprint(seq))); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append("other", 7, []byte("7")); err != nil {
		t.Fatal(err)
	}
	// A crash mid-Append leaves a temporary file behind.
	tenantDir, _ := filepath.Glob(filepath.Join(dir, "t-*"))
	os.WriteFile(filepath.Join(tenantDir[0], "00000000000000000099.json.123.tmp"), []byte("half"), 0o600)

	s, err = spool.Open(dir, 0) // "restart"
	if err != nil {
		t.Fatal(err)
	}
	recs, err := s.Pending("a/../b", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, r := range recs {
		if string(r.Body) != fmt.Sprint(r.Seq) {
			t.Fatalf("body %q for seq %d", r.Body, r.Seq)
		}
		got = append(got, r.Seq)
	}
	if fmt.Sprint(got) != "[1 2 3 10]" {
		t.Fatalf("pending %v, want [1 2 3 10]", got)
	}
	if n, _ := s.Len(); n != 5 {
		t.Fatalf("len %d, want 5 (temporary file must be gone)", n)
	}
	if err := s.Remove("a/../b", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("a/../b", 1); err != nil {
		t.Fatal("removing twice must be harmless:", err)
	}
	if recs, _ := s.Pending("a/../b", 1); len(recs) != 1 || recs[0].Seq != 2 {
		t.Fatalf("after remove: %+v", recs)
	}
	if st, _ := os.Stat(tenantDir[0]); st.Mode().Perm() != 0o700 {
		t.Fatalf("tenant dir mode %v", st.Mode().Perm())
	}
}

func TestCap(t *testing.T) {
	dir := t.TempDir()
	s, err := spool.Open(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		if err := s.Append("acme", seq, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append("acme", 4, []byte("x")); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("over the cap: got %v, want ErrFull", err)
	}
	if err := s.Append("acme", 3, []byte("x")); err != nil {
		t.Fatalf("re-appending a held event must not count against the cap: %v", err)
	}
	if err := s.Remove("acme", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Append("globex", 1, []byte("x")); err != nil {
		t.Fatalf("room after a removal: %v", err)
	}
	// The count survives a restart.
	s, err = spool.Open(dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append("acme", 5, []byte("x")); !errors.Is(err, spool.ErrFull) {
		t.Fatalf("after reopen: got %v, want ErrFull", err)
	}
}

// TestOpenRefusesLooseDirectory: a spool directory group or others may
// enter is refused, with the fix named.
func TestOpenRefusesLooseDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := spool.Open(dir, 0); err == nil || !strings.Contains(err.Error(), "chmod 700 "+dir) {
		t.Fatalf("Open(0777 dir): %v", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := spool.Open(dir, 0); err != nil {
		t.Fatal(err)
	}
}
