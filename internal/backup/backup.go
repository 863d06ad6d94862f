// Package backup is the file format of a node backup (`engram backup`,
// `engram restore`): one line of magic, one line of JSON header, then the
// payload — a consistent copy of the SQLite database exactly as stored, so
// every content field in it is still sealed under the key hierarchy.
//
// The header's SHA-256 of the payload catches a truncated or damaged file
// before anything is written over a data directory. It is not a signature:
// someone who can write the file can recompute it. What stops a forged
// backup is what stops a forged database: every sealed field is
// authenticated under keys only the KEK opens, and restore verifies the
// HMAC audit chains (and any checkpoint kept outside) before it reports
// success.
package backup

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
)

// Magic is the first line of every backup file.
const Magic = "engram-backup"

// Format and Version name the layout below; restore refuses others.
const (
	Format  = "engram-backup"
	Version = 1
	// PayloadSQLite is the only payload kind: a SQLite database file.
	PayloadSQLite = "sqlite"
)

// maxHeader bounds the header line a reader accepts, so a damaged file
// cannot make restore buffer without limit.
const maxHeader = 4096

// Header describes the payload that follows it.
type Header struct {
	Format        string    `json:"format"`
	Version       int       `json:"version"`
	CreatedAt     time.Time `json:"created_at"`
	EngramVersion string    `json:"engram_version"`
	Payload       string    `json:"payload"`
	PayloadSize   int64     `json:"payload_size"`
	PayloadSHA256 string    `json:"payload_sha256"`
	// KEKIncluded is always false: the key-encryption key is backed up
	// separately (docs/LIFECYCLE.md), so that one stolen file is never
	// enough to read the data.
	KEKIncluded bool `json:"kek_included"`
}

// ErrInvalid wraps every reason a file is refused.
var ErrInvalid = errors.New("not a valid engram backup")

// Write writes the header for payload (size bytes) and then the payload,
// hashing it on the way. The payload is read twice — once to hash, once to
// copy — so it must be a file that does not change meanwhile.
func Write(w io.Writer, h Header, payload io.ReadSeeker) error {
	sum := sha256.New()
	n, err := io.Copy(sum, payload)
	if err != nil {
		return fmt.Errorf("hash payload: %w", err)
	}
	if _, err := payload.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h.Format, h.Version, h.Payload = Format, Version, PayloadSQLite
	h.PayloadSize, h.PayloadSHA256, h.KEKIncluded = n, hex.EncodeToString(sum.Sum(nil)), false
	line, err := json.Marshal(h)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "%s\n%s\n", Magic, line); err != nil {
		return err
	}
	m, err := io.Copy(w, payload)
	if err != nil {
		return fmt.Errorf("write payload: %w", err)
	}
	if m != n {
		return fmt.Errorf("payload changed while it was written (%d bytes, then %d)", n, m)
	}
	return nil
}

// Reader yields a backup's payload and checks it as it is read: its last
// Read reports ErrInvalid if the payload is short, long or not the one the
// header hashed. Nothing read from it may be trusted before that last Read
// returned io.EOF.
type Reader struct {
	Header Header
	r      *bufio.Reader
	left   int64
	sum    hash.Hash
	err    error
}

// Open reads and checks the header.
func Open(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, maxHeader+len(Magic)+2)
	magic, err := readLine(br)
	if err != nil || magic != Magic {
		return nil, fmt.Errorf("%w: no %q line", ErrInvalid, Magic)
	}
	line, err := readLine(br)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrInvalid, err)
	}
	var h Header
	dec := json.NewDecoder(bytes.NewReader([]byte(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrInvalid, err)
	}
	switch {
	case h.Format != Format || h.Version != Version:
		return nil, fmt.Errorf("%w: format %q version %d (this engram reads %q version %d)", ErrInvalid, h.Format, h.Version, Format, Version)
	case h.Payload != PayloadSQLite:
		return nil, fmt.Errorf("%w: payload kind %q", ErrInvalid, h.Payload)
	case h.PayloadSize <= 0:
		return nil, fmt.Errorf("%w: payload size %d", ErrInvalid, h.PayloadSize)
	case len(h.PayloadSHA256) != 64:
		return nil, fmt.Errorf("%w: payload hash %q", ErrInvalid, h.PayloadSHA256)
	case h.KEKIncluded:
		return nil, fmt.Errorf("%w: it claims to include a KEK, which engram backups never do", ErrInvalid)
	}
	return &Reader{Header: h, r: br, left: h.PayloadSize, sum: sha256.New()}, nil
}

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", fmt.Errorf("longer than %d bytes", maxHeader)
	}
	if err != nil {
		return "", err
	}
	return string(line[:len(line)-1]), nil
}

// Read implements io.Reader over the payload.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.left == 0 {
		r.err = r.finish()
		return 0, r.err
	}
	if int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.sum.Write(p[:n])
	r.left -= int64(n)
	if errors.Is(err, io.EOF) && r.left > 0 {
		r.err = fmt.Errorf("%w: truncated: %d bytes of the payload are missing", ErrInvalid, r.left)
		return n, r.err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
		return n, err
	}
	return n, nil
}

// finish checks that nothing follows the payload and that it hashes to
// the header's value.
func (r *Reader) finish() error {
	if n, _ := r.r.Read(make([]byte, 1)); n > 0 {
		return fmt.Errorf("%w: bytes follow the payload", ErrInvalid)
	}
	if got := hex.EncodeToString(r.sum.Sum(nil)); got != r.Header.PayloadSHA256 {
		return fmt.Errorf("%w: the payload's SHA-256 is %s, the header says %s: the file was altered or damaged", ErrInvalid, got, r.Header.PayloadSHA256)
	}
	return io.EOF
}
