package checkpoint_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

// FuzzParseCheckpoint: the parser never panics, and whatever it accepts
// marshals back to exactly the same bytes (one checkpoint, one encoding) and
// reparses to the same value.
func FuzzParseCheckpoint(f *testing.F) {
	if golden, err := os.ReadFile(filepath.Join("testdata", "checkpoint.golden")); err == nil {
		_, text, _ := bytes.Cut(golden, []byte("\n"))
		body, _, _ := bytes.Cut(text, []byte("\n\n"))
		f.Add(append(body, '\n'))
		f.Add(text)
	}
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("o\n9\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nengram-segment 0 1 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\nx y\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		cp, err := checkpoint.ParseCheckpoint(body)
		if err != nil {
			return
		}
		out, err := cp.Marshal()
		if err != nil {
			t.Fatalf("parsed checkpoint does not marshal: %v\n%q", err, body)
		}
		if !bytes.Equal(out, body) {
			t.Fatalf("not canonical:\n in %q\nout %q", body, out)
		}
		again, err := checkpoint.ParseCheckpoint(out)
		if err != nil || !reflect.DeepEqual(again, cp) {
			t.Fatalf("reparse: %v", err)
		}
	})
}

// FuzzOpen: signed-note parsing of hostile input never panics and never
// accepts a checkpoint the key did not sign.
func FuzzOpen(f *testing.F) {
	skey, vkey := testKeys("")
	signer, _ := checkpoint.NewSigner(skey)
	signed, err := checkpoint.Sign(sampleCheckpoint(), signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Fuzz(func(t *testing.T, text []byte) {
		cp, err := checkpoint.Open(text, checkpoint.Origin("tenant-42"), vkey)
		if err == nil && !bytes.Equal(text, signed) {
			// Only the one text signed here can verify; any other would be a
			// forgery (or a second valid encoding, which Open must not allow).
			if body, _ := cp.Marshal(); !bytes.HasPrefix(text, body) {
				t.Fatalf("accepted %q", text)
			}
		}
	})
}

// FuzzParseBundle: the bundle parser and verifier never panic on hostile
// input, and the report never names an entry that does not exist.
func FuzzParseBundle(f *testing.F) {
	skey, vkey := testKeys("")
	signer, _ := checkpoint.NewSigner(skey)
	log := newMemLog()
	es := entries(0, 6)
	seg, err := checkpoint.Seal(log.tree, "acme", es, time.Unix(0, 0))
	if err != nil {
		f.Fatal(err)
	}
	log.leaves = leafHashes(es)
	signed, _ := checkpoint.Sign(seg.Checkpoint(checkpoint.Origin("acme")), signer)
	p, _ := checkpoint.NewProver(log)
	b, err := checkpoint.NewBundle(f.Context(), p, "acme", 0, es, signed)
	if err != nil {
		f.Fatal(err)
	}
	data, _ := json.Marshal(b)
	f.Add(data)
	f.Add([]byte(`{"format":"engram.audit.bundle/v1","tenant":"acme","first":0,"last":0,"entries":["AA=="],"checkpoint":"","inclusion":[[]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := checkpoint.ParseBundle(bytes.NewReader(data))
		if err != nil {
			return
		}
		rep, _ := checkpoint.VerifyBundle(b, vkey)
		if rep.FirstBad < -1 || rep.FirstBad > len(b.Entries) {
			t.Fatalf("FirstBad %d with %d entries", rep.FirstBad, len(b.Entries))
		}
	})
}
