// Package file is the audit sink that appends one JSON line per event to a
// local file and rotates it by size.
//
// Each line is the event's envelope (sink.Event.Envelope): id, tenant, seq,
// time and the entry. The file and its rotations are created 0600: audit
// metadata is still personal data (pseudonymised actors, IPs).
//
// Fsync policy: with SyncAlways (the default) Send returns only after the
// line is on stable storage, so an accepted event survives a crash; this
// costs one fsync per event. SyncNever leaves flushing to the OS (a crash
// can lose the last seconds of lines; the database chain still has them)
// and fsyncs only at rotation and Close.
package file

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/engram-memory/engram/internal/audit/sink"
)

// SyncPolicy says when the sink fsyncs.
type SyncPolicy int

const (
	SyncAlways SyncPolicy = iota // fsync after every line (default)
	SyncNever                    // fsync at rotation and Close only
)

// Defaults for zero Config fields.
const (
	DefaultMaxBytes = 100 << 20
	DefaultKeep     = 5
)

// Config configures a file sink.
type Config struct {
	Path     string     // the live file; rotations are Path.1 (newest) … Path.Keep
	MaxBytes int64      // rotate before a line would take the file past this; 0 = DefaultMaxBytes
	Keep     int        // rotated files kept; 0 = DefaultKeep
	Sync     SyncPolicy // SyncAlways unless set
}

// Sink appends events to a file. Safe for concurrent Send: one mutex
// orders lines, so a line is never interleaved with another.
type Sink struct {
	cfg  Config
	mu   sync.Mutex
	f    *os.File
	size int64
}

var _ sink.Sink = (*Sink)(nil)

// Open opens (creating, mode 0600) the file for appending. Its directory
// must exist.
func Open(cfg Config) (*Sink, error) {
	if cfg.Path == "" {
		return nil, errors.New("file sink: empty path")
	}
	if cfg.MaxBytes < 0 || cfg.Keep < 0 {
		return nil, errors.New("file sink: negative max size or keep count")
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Keep == 0 {
		cfg.Keep = DefaultKeep
	}
	if cfg.Sync != SyncAlways && cfg.Sync != SyncNever {
		return nil, fmt.Errorf("file sink: unknown sync policy %d", cfg.Sync)
	}
	s := &Sink{cfg: cfg}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sink) open() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("file sink: open: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("file sink: stat: %w", err)
	}
	s.f, s.size = f, st.Size()
	return nil
}

// Name is "file:<path>".
func (s *Sink) Name() string { return "file:" + s.cfg.Path }

// Send appends ev as one line, rotating first when the line would take the
// file past MaxBytes (a single line larger than MaxBytes gets a file of its
// own). With SyncAlways, nil means the line is fsynced.
func (s *Sink) Send(_ context.Context, ev sink.Event) error {
	line, err := ev.Envelope()
	if err != nil {
		return err
	}
	line = append(line, '\n')
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return errors.New("file sink: closed")
	}
	if s.size > 0 && s.size+int64(len(line)) > s.cfg.MaxBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(line)
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("file sink: write: %w", err)
	}
	if s.cfg.Sync == SyncAlways {
		if err := s.f.Sync(); err != nil {
			return fmt.Errorf("file sink: fsync: %w", err)
		}
	}
	return nil
}

// rotate shifts Path.i to Path.i+1 (dropping Path.Keep), Path to Path.1,
// and opens a fresh Path. Called with mu held.
func (s *Sink) rotate() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("file sink: fsync before rotation: %w", err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("file sink: close before rotation: %w", err)
	}
	s.f = nil
	name := func(i int) string { return s.cfg.Path + "." + strconv.Itoa(i) }
	if err := os.Remove(name(s.cfg.Keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("file sink: drop oldest rotation: %w", err)
	}
	for i := s.cfg.Keep - 1; i >= 1; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("file sink: rotate: %w", err)
		}
	}
	if err := os.Rename(s.cfg.Path, name(1)); err != nil {
		return fmt.Errorf("file sink: rotate: %w", err)
	}
	syncDir(filepath.Dir(s.cfg.Path))
	return s.open()
}

// syncDir makes renames in dir durable. Best effort: some filesystems
// refuse to fsync a directory, and the data itself is already synced.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// Close fsyncs and closes the file. Later Sends fail.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := errors.Join(s.f.Sync(), s.f.Close())
	s.f = nil
	if err != nil {
		return fmt.Errorf("file sink: close: %w", err)
	}
	return nil
}
