// Package spool is the durable local queue behind spooling audit sinks:
// events wait here, per tenant and in sequence order, until their
// destination acknowledges them, across outages and restarts.
//
// Layout: one directory per tenant (t-<hex tenant id>, so any tenant id is
// a safe file name) holding one write-once file per event, named by its
// zero-padded sequence number so that directory order is delivery order:
//
//	<dir>/t-61636d65/00000000000000000017.json
//
// Append writes a temporary file, fsyncs it, renames it into place and
// fsyncs the directory: once Append returns nil the event survives a crash
// or power loss, and a crash mid-Append leaves at most a stray temporary
// file, removed by the next Open. Write-once files trade a little space for
// having no log offsets or compaction to get wrong. Remove deletes an
// event once delivered; a crash between delivery and Remove means the
// event is delivered again (at-least-once).
//
// A spool holds at most a configured number of events, so a receiver that
// stays down cannot fill the disk: Append then fails with ErrFull, and the
// Dispatcher counts (or, fail-closed, refuses) the event.
//
// One process owns a spool directory at a time; two sinks over the same
// directory would deliver events twice.
package spool

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/engram-memory/engram/internal/filemode"
)

const tmpSuffix = ".tmp"

// ErrFull is returned by Append when the spool holds its maximum number of
// events.
var ErrFull = errors.New("spool: full")

// Record is one spooled event.
type Record struct {
	Tenant string
	Seq    uint64
	Body   []byte
}

// Spool is a spool directory. Safe for concurrent use.
type Spool struct {
	dir string
	max int        // events held at most; 0 = unlimited
	mu  sync.Mutex // orders directory creation against listing; guards n
	n   int        // events held
}

// Open opens dir (creating it 0700; refusing it when group or others may
// write to it), removes temporary files a crash left
// behind and counts the events waiting. maxEvents caps how many events the
// spool holds (0 = no cap); a spool already past the cap opens, and Append
// fails until deliveries bring it under.
func Open(dir string, maxEvents int) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("spool: empty directory")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create: %w", err)
	}
	// Spooled events name tenants, actors and targets: a directory others
	// can write to is refused, like the data directory (docs/SECURITY.md).
	if err := filemode.CheckDir(dir); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if maxEvents < 0 {
		return nil, errors.New("spool: negative event cap")
	}
	s := &Spool{dir: dir, max: maxEvents}
	tenants, err := s.Tenants()
	if err != nil {
		return nil, err
	}
	for _, t := range tenants {
		ents, err := os.ReadDir(s.tenantDir(t))
		if err != nil {
			return nil, fmt.Errorf("spool: list: %w", err)
		}
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), tmpSuffix) {
				_ = os.Remove(filepath.Join(s.tenantDir(t), e.Name()))
			}
		}
	}
	n, err := s.Len()
	if err != nil {
		return nil, err
	}
	s.n = n
	return s, nil
}

func (s *Spool) tenantDir(tenant string) string {
	return filepath.Join(s.dir, "t-"+hex.EncodeToString([]byte(tenant)))
}

func fileName(seq uint64) string { return fmt.Sprintf("%020d.json", seq) }

// Append stores body as event (tenant, seq) durably. Appending the same
// event again replaces it, so a retried Append is harmless. It fails with
// ErrFull when the spool is at its cap.
func (s *Spool) Append(tenant string, seq uint64, body []byte) error {
	td := s.tenantDir(tenant)
	final := filepath.Join(td, fileName(seq))
	s.mu.Lock()
	_, existsErr := os.Lstat(final)
	isNew := existsErr != nil
	if isNew && s.max > 0 && s.n >= s.max {
		s.mu.Unlock()
		return fmt.Errorf("%w (%d events waiting)", ErrFull, s.n)
	}
	if isNew {
		// Counted now so concurrent Appends cannot overshoot the cap;
		// given back below when the write fails.
		s.n++
	}
	_, statErr := os.Stat(td)
	if errors.Is(statErr, os.ErrNotExist) {
		if err := os.Mkdir(td, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			if isNew {
				s.n--
			}
			s.mu.Unlock()
			return fmt.Errorf("spool: create tenant directory: %w", err)
		}
		syncDir(s.dir)
	}
	s.mu.Unlock()
	if err := s.write(td, final, seq, body); err != nil {
		if isNew {
			s.mu.Lock()
			s.n--
			s.mu.Unlock()
		}
		return err
	}
	return nil
}

func (s *Spool) write(td, final string, seq uint64, body []byte) error {
	f, err := os.CreateTemp(td, fileName(seq)+".*"+tmpSuffix)
	if err != nil {
		return fmt.Errorf("spool: create: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(body)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("spool: write: %w", err)
	}
	if err := syncDir(td); err != nil {
		return fmt.Errorf("spool: fsync directory: %w", err)
	}
	return nil
}

// Tenants lists the tenants with a directory in the spool (possibly empty).
func (s *Spool) Tenants() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: list: %w", err)
	}
	var out []string
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), "t-")
		if !ok || !e.IsDir() {
			continue
		}
		t, err := hex.DecodeString(name)
		if err != nil {
			continue
		}
		out = append(out, string(t))
	}
	return out, nil
}

// Pending returns up to max of tenant's events, lowest sequence first.
func (s *Spool) Pending(tenant string, max int) ([]Record, error) {
	td := s.tenantDir(tenant)
	ents, err := os.ReadDir(td) // sorted by name = by sequence
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: list: %w", err)
	}
	var out []Record
	for _, e := range ents {
		if len(out) >= max {
			break
		}
		seqStr, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		seq, err := strconv.ParseUint(seqStr, 10, 64)
		if err != nil {
			continue
		}
		body, err := os.ReadFile(filepath.Join(td, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("spool: read: %w", err)
		}
		out = append(out, Record{Tenant: tenant, Seq: seq, Body: body})
	}
	return out, nil
}

// Remove deletes a delivered event. Removing a missing event is not an
// error. The directory is not fsynced: an event whose removal is lost in a
// crash is delivered again, which receivers deduplicate.
func (s *Spool) Remove(tenant string, seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := os.Remove(filepath.Join(s.tenantDir(tenant), fileName(seq)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("spool: remove: %w", err)
	}
	s.n--
	return nil
}

// Len counts spooled events over all tenants, on disk.
func (s *Spool) Len() (int, error) {
	tenants, err := s.Tenants()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range tenants {
		recs, err := os.ReadDir(s.tenantDir(t))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("spool: list: %w", err)
		}
		for _, r := range recs {
			if strings.HasSuffix(r.Name(), ".json") {
				n++
			}
		}
	}
	return n, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
