package backup_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/backup"
)

func write(t *testing.T, payload []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	h := backup.Header{CreatedAt: time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC), EngramVersion: "test"}
	if err := backup.Write(&buf, h, bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func read(file []byte) ([]byte, error) {
	r, err := backup.Open(bytes.NewReader(file))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

func TestRoundTrip(t *testing.T) {
	payload := bytes.Repeat([]byte("sealed page "), 10000)
	got, err := read(write(t, payload))
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("round trip: %v (%d bytes of %d)", err, len(got), len(payload))
	}
}

// TestRefused: every way a file can be cut or changed is refused with
// ErrInvalid, never read as a shorter or different database.
func TestRefused(t *testing.T) {
	payload := bytes.Repeat([]byte("sealed page "), 1000)
	good := write(t, payload)
	flip := bytes.Clone(good)
	flip[len(flip)-100] ^= 1
	header := bytes.Clone(good)
	header = bytes.Replace(header, []byte(`"kek_included":false`), []byte(`"kek_included":true `), 1)
	cases := map[string][]byte{
		"truncated payload": good[:len(good)-1],
		"truncated header":  good[:20],
		"flipped byte":      flip,
		"trailing bytes":    append(bytes.Clone(good), 'x'),
		"no magic":          good[1:],
		"kek claimed":       header,
		"empty":             nil,
		"long header":       append([]byte(backup.Magic+"\n"), bytes.Repeat([]byte("a"), 10000)...),
	}
	for name, file := range cases {
		if _, err := read(file); !errors.Is(err, backup.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
