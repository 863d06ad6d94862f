package file_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/sink"
	"github.com/engram-memory/engram/internal/audit/sink/file"
	"github.com/engram-memory/engram/internal/audit/sink/sinktest"
)

func event(tenant string, seq uint64) sink.Event {
	return sink.Event{
		TenantID: tenant, Seq: seq, Time: time.Date(2026, 11, 30, 20, 0, 0, 123456789, time.UTC),
		JSON: []byte(fmt.Sprintf(`{"seq":%d,"action":"memory.read","outcome":"ok"}`, seq)),
	}
}

// readLines decodes every line of path strictly: one envelope per line.
func readLines(t *testing.T, path string) []sink.Envelope {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sink.Envelope
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e sink.Envelope
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%s: line %q: %v", path, sc.Text(), err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLineFormatAndMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := file.Open(file.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(context.Background(), event("acme", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"acme:1","tenant":"acme","seq":1,"time":"2026-11-30T20:00:00.123456789Z","entry":{"seq":1,"action":"memory.read","outcome":"ok"}}` + "\n"
	if string(b) != want {
		t.Fatalf("line\n got %q\nwant %q", b, want)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	if err := s.Send(context.Background(), event("acme", 2)); err == nil {
		t.Fatal("Send after Close must fail")
	}
}

func TestRotationKeepsKFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	line, _ := event("acme", 10).Envelope()
	// Three lines per file.
	s, err := file.Open(file.Config{Path: path, MaxBytes: int64(3 * (len(line) + 1)), Keep: 2, Sync: file.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(10); seq < 22; seq++ { // 12 lines: 4 files' worth
		if err := s.Send(context.Background(), event("acme", seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 3 {
		t.Fatalf("want live file + 2 rotations, got %d files", len(ents))
	}
	// Oldest kept rotation first: .2 holds 13-15, .1 holds 16-18, live 19-21.
	want := uint64(13)
	for _, p := range []string{path + ".2", path + ".1", path} {
		lines := readLines(t, p)
		if len(lines) != 3 {
			t.Fatalf("%s: %d lines, want 3", p, len(lines))
		}
		for _, e := range lines {
			if e.Seq != want || e.Tenant != "acme" || e.ID != fmt.Sprintf("acme:%d", want) {
				t.Fatalf("%s: got seq %d (%s), want %d", p, e.Seq, e.ID, want)
			}
			want++
		}
		if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
			t.Fatalf("%s mode %v", p, st.Mode().Perm())
		}
	}
}

func TestConcurrentSendKeepsLinesWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := file.Open(file.Config{Path: path, MaxBytes: 4096, Keep: 100, Sync: file.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				if err := s.Send(context.Background(), event(fmt.Sprint("t", g), uint64(i))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	s.Close()
	seen := map[string]bool{}
	matches, _ := filepath.Glob(path + "*")
	for _, p := range matches {
		for _, e := range readLines(t, p) {
			if seen[e.ID] {
				t.Fatalf("duplicate %s", e.ID)
			}
			seen[e.ID] = true
		}
	}
	if len(seen) != 400 {
		t.Fatalf("want 400 distinct lines, got %d", len(seen))
	}
}

func BenchmarkSend(b *testing.B) {
	for _, p := range []struct {
		name string
		sync file.SyncPolicy
	}{{"fsync-always", file.SyncAlways}, {"fsync-never", file.SyncNever}} {
		b.Run(p.name, func(b *testing.B) {
			s, err := file.Open(file.Config{Path: filepath.Join(b.TempDir(), "a.jsonl"), Sync: p.sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ev := event("acme", 1)
			for b.Loop() {
				if err := s.Send(context.Background(), ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// An entry that arrives pretty-printed still becomes exactly one line.
func TestMultiLineEntryBecomesOneLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := file.Open(file.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	ev := event("acme", 1)
	ev.JSON = []byte("{\n  \"action\": \"memory.create\",\n  \"note\": \"a\\nb\"\n}")
	if err := s.Send(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if lines := readLines(t, path); len(lines) != 1 || string(lines[0].Entry) != `{"action":"memory.create","note":"a\nb"}` {
		t.Fatalf("lines %+v", lines)
	}
}

func TestConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := file.Open(file.Config{Path: path, MaxBytes: 1024, Keep: 50})
	if err != nil {
		t.Fatal(err)
	}
	sinktest.Run(t, s, func(t *testing.T) []sink.Envelope {
		var out []sink.Envelope
		for i := 50; i >= 1; i-- { // oldest rotation first
			if _, err := os.Stat(fmt.Sprintf("%s.%d", path, i)); err == nil {
				out = append(out, readLines(t, fmt.Sprintf("%s.%d", path, i))...)
			}
		}
		return append(out, readLines(t, path)...)
	}, true)
}
