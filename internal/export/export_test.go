package export_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/export"
)

func document(t *testing.T, key ed25519.PrivateKey) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := export.NewWriter(&buf)
	if err := w.Begin(export.Header{Tenant: "acme", Scope: export.Scope{Kind: "tenant"}, CreatedAt: time.Unix(1e9, 0)}); err != nil {
		t.Fatal(err)
	}
	// Metadata holding the trailer's own key must not confuse the reader.
	must(t, w.Write(&export.Record{Kind: export.KindMemory, Memory: &engram.Memory{Content: "likes tea", Metadata: map[string]any{"checksum": "x"}},
		History: []engram.HistoryEntry{{Event: engram.EventAdd, NewMemory: "likes tea"}}}))
	must(t, w.Write(&export.Record{Kind: export.KindFact, Fact: &engram.Fact{Fact: "Ann works at Acme"}}))
	must(t, w.Finish(key))
	return buf.Bytes()
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestRoundTripAndTampering(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	doc := document(t, key)
	var parsed struct {
		Format  string         `json:"format"`
		Records []any          `json:"records"`
		Counts  map[string]int `json:"counts"`
	}
	must(t, json.Unmarshal(doc, &parsed))
	if parsed.Format != export.Format || len(parsed.Records) != 2 || parsed.Counts["memory"] != 1 || parsed.Counts["episode"] != 0 {
		t.Fatalf("parsed %+v", parsed)
	}
	rep, err := export.Verify(bytes.NewReader(doc), int64(len(doc)), pub)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Pinned || rep.Counts["fact"] != 1 || rep.Tenant != "acme" || rep.KeyID != export.KeyID(pub) {
		t.Fatalf("report %+v", rep)
	}

	flipped := bytes.Replace(doc, []byte("likes tea"), []byte("likes tee"), 1)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	for name, c := range map[string]struct {
		doc []byte
		pin ed25519.PublicKey
	}{
		"flipped byte":  {flipped, nil},
		"truncated":     {doc[:len(doc)/2], nil},
		"wrong pin":     {doc, otherPub},
		"re-signed":     {document(t, otherKey), pub},
		"extra record":  {bytes.Replace(doc, []byte(`"records":[`), []byte(`"records":[{"kind":"memory","data":{}},`), 1), nil},
		"trailing junk": {append(bytes.Clone(doc), "x"...), nil},
	} {
		if _, err := export.Verify(bytes.NewReader(c.doc), int64(len(c.doc)), c.pin); !errors.Is(err, export.ErrTampered) {
			t.Errorf("%s: err = %v, want ErrTampered", name, err)
		}
	}
	// A document re-signed after editing (checksum recomputed) still fails
	// against the pinned key: pinning is what proves who signed.
	if _, err := export.Verify(bytes.NewReader(doc), int64(len(doc)), nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), `"signature":{"alg":"Ed25519"`) {
		t.Fatalf("no signature object: %s", doc)
	}
}
