package checkpoint_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
	"golang.org/x/mod/sumdb/note"
)

var update = flag.Bool("update", false, "rewrite golden files")

func sampleCheckpoint() checkpoint.Checkpoint {
	tree := checkpoint.NewTree(nil)
	seg, err := checkpoint.Seal(tree, "tenant-42", entries(0, 10), time.Date(2026, 11, 30, 20, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	return seg.Checkpoint(checkpoint.Origin("tenant-42"))
}

func TestCheckpointRoundTrip(t *testing.T) {
	skey, vkey := testKeys("")
	if !strings.HasPrefix(vkey, checkpoint.KeyName+"+") {
		t.Fatalf("verifier key %q does not carry the default name", vkey)
	}
	signer, err := checkpoint.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	cp := sampleCheckpoint()
	cp.Extra = []string{"vendor-ext some value"}
	signed, err := checkpoint.Sign(cp, signer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := checkpoint.Open(signed, "engram.audit/tenant-42", vkey)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, cp) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, cp)
	}
	// A checkpoint with no extension at all is the bare C2SP form.
	bare := checkpoint.Checkpoint{Origin: "o", Size: 0, Hash: checkpoint.EmptyRoot()}
	body, err := bare.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"; string(body) != want {
		t.Errorf("bare body %q, want %q", body, want)
	}
}

// The golden file fixes the wire format: a change to it is a change every
// customer's verifier sees. Regenerate with: go test -run Golden -update.
func TestCheckpointGolden(t *testing.T) {
	skey, vkey := testKeys("")
	signer, err := checkpoint.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := checkpoint.Sign(sampleCheckpoint(), signer)
	if err != nil {
		t.Fatal(err)
	}
	golden := append([]byte("# verifier key: "+vkey+"\n"), signed...)
	path := filepath.Join("testdata", "checkpoint.golden")
	if *update {
		if err := os.WriteFile(path, golden, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(golden, want) {
		t.Fatalf("checkpoint text changed:\n%s\nwant:\n%s", golden, want)
	}
	// The stored text must also open on its own.
	_, text, _ := bytes.Cut(want, []byte("\n"))
	if _, err := checkpoint.Open(text, checkpoint.Origin("tenant-42"), vkey); err != nil {
		t.Fatalf("golden checkpoint does not open: %v", err)
	}
}

func TestOpenRejects(t *testing.T) {
	skey, vkey := testKeys("")
	otherSkey, otherVkey := testKeys("other")
	_, sameNameOtherVkey, err := checkpoint.GenerateKey(fixedRand(99), "")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := checkpoint.NewSigner(skey)
	otherSigner, _ := checkpoint.NewSigner(otherSkey)
	origin := checkpoint.Origin("tenant-42")
	signed, err := checkpoint.Sign(sampleCheckpoint(), signer)
	if err != nil {
		t.Fatal(err)
	}
	byOther, _ := checkpoint.Sign(sampleCheckpoint(), otherSigner)
	signedBody := func(body string) []byte {
		b, err := note.Sign(&note.Note{Text: body}, signer)
		if err != nil {
			t.Fatalf("sign %q: %v", body, err)
		}
		return b
	}
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	for _, tc := range []struct {
		name   string
		text   []byte
		origin string
		vkey   string
		want   error
	}{
		{"wrong origin", signed, checkpoint.Origin("tenant-43"), vkey, checkpoint.ErrOrigin},
		{"signed by another key", byOther, origin, vkey, checkpoint.ErrSignature},
		{"same key name, other key", signed, origin, sameNameOtherVkey, checkpoint.ErrSignature},
		{"other verifier", signed, origin, otherVkey, checkpoint.ErrSignature},
		{"body edited", bytes.Replace(signed, []byte("\n10\n"), []byte("\n11\n"), 1), origin, vkey, checkpoint.ErrSignature},
		{"signature edited", flipSig(signed), origin, vkey, checkpoint.ErrSignature},
		{"unsigned", signed[:bytes.Index(signed, []byte("\n\n"))+1], origin, vkey, checkpoint.ErrMalformed},
		{"bad verifier key", signed, origin, "not-a-key", checkpoint.ErrMalformed},
		{"too large", append(bytes.Repeat([]byte("x"), checkpoint.MaxCheckpointSize), signed...), origin, vkey, checkpoint.ErrMalformed},
		{"two lines", signedBody("o\n1\n"), "o", vkey, checkpoint.ErrMalformed},
		{"size not decimal", signedBody("o\n0x1\n" + root + "\n"), "o", vkey, checkpoint.ErrMalformed},
		{"size leading zero", signedBody("o\n01\n" + root + "\n"), "o", vkey, checkpoint.ErrMalformed},
		{"size negative", signedBody("o\n-1\n" + root + "\n"), "o", vkey, checkpoint.ErrMalformed},
		{"size overflow", signedBody("o\n18446744073709551616\n" + root + "\n"), "o", vkey, checkpoint.ErrMalformed},
		{"hash short", signedBody("o\n1\nAAAA\n"), "o", vkey, checkpoint.ErrMalformed},
		{"hash url base64", signedBody("o\n1\n47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=\n"), "o", vkey, checkpoint.ErrMalformed},
		{"hash unpadded", signedBody("o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU\n"), "o", vkey, checkpoint.ErrMalformed},
		{"empty extension", signedBody("o\n1\n" + root + "\n\n"), "o", vkey, checkpoint.ErrMalformed},
		{"segment beyond size", signedBody("o\n1\n" + root + "\nengram-segment 0 1 " + root + "\n"), "o", vkey, checkpoint.ErrMalformed},
		{"segment reversed", signedBody("o\n9\n" + root + "\nengram-segment 3 2 " + root + "\n"), "o", vkey, checkpoint.ErrMalformed},
		{"segment twice", signedBody("o\n9\n" + root + "\nengram-segment 0 1 " + root + "\nengram-segment 0 1 " + root + "\n"), "o", vkey, checkpoint.ErrMalformed},
		{"segment fields", signedBody("o\n9\n" + root + "\nengram-segment 0 1\n"), "o", vkey, checkpoint.ErrMalformed},
		{"time not UTC", signedBody("o\n1\n" + root + "\nengram-time 2026-11-30T20:00:00+01:00\n"), "o", vkey, checkpoint.ErrMalformed},
		{"time garbage", signedBody("o\n1\n" + root + "\nengram-time yesterday\n"), "o", vkey, checkpoint.ErrMalformed},
		{"origin padded", signedBody(" o\n1\n" + root + "\n"), " o", vkey, checkpoint.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkpoint.Open(tc.text, tc.origin, tc.vkey)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open: %v, want %v", err, tc.want)
			}
		})
	}
}

func flipSig(signed []byte) []byte {
	out := bytes.Clone(signed)
	i := bytes.LastIndex(out, []byte(" "))
	// Change one base64 character of the signature, keeping it base64.
	if out[i+10] == 'A' {
		out[i+10] = 'B'
	} else {
		out[i+10] = 'A'
	}
	return out
}

func TestMarshalRejects(t *testing.T) {
	good := sampleCheckpoint()
	for _, tc := range []struct {
		name string
		mut  func(*checkpoint.Checkpoint)
	}{
		{"empty origin", func(c *checkpoint.Checkpoint) { c.Origin = "" }},
		{"origin newline", func(c *checkpoint.Checkpoint) { c.Origin = "a\nb" }},
		{"short hash", func(c *checkpoint.Checkpoint) { c.Hash = c.Hash[:31] }},
		{"segment beyond size", func(c *checkpoint.Checkpoint) { c.Segment.Last = c.Size }},
		{"extra newline", func(c *checkpoint.Checkpoint) { c.Extra = []string{"a\nb"} }},
		{"extra empty", func(c *checkpoint.Checkpoint) { c.Extra = []string{""} }},
		{"extra shadows segment", func(c *checkpoint.Checkpoint) { c.Extra = []string{"engram-segment 0 0 x"} }},
	} {
		c := good
		seg := *good.Segment
		c.Segment = &seg
		tc.mut(&c)
		if _, err := c.Marshal(); !errors.Is(err, checkpoint.ErrMalformed) {
			t.Errorf("%s: Marshal: %v", tc.name, err)
		}
	}
	if _, err := checkpoint.NewSigner("PRIVATE+KEY+nonsense"); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("NewSigner: %v", err)
	}
}

// A raw Ed25519 key from the key hierarchy signs checkpoints that open with
// the verifier key derived for it, and that note.NewSigner's encoding of the
// same key would have produced byte for byte.
func TestEd25519Signer(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	signer, vkey, err := checkpoint.NewEd25519Signer(checkpoint.KeyName, priv)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := checkpoint.Sign(sampleCheckpoint(), signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.Open(signed, checkpoint.Origin("tenant-42"), vkey); err != nil {
		t.Fatalf("open: %v", err)
	}
	if _, err := checkpoint.Open(signed, checkpoint.Origin("tenant-42"), sameNameVkey(t)); !errors.Is(err, checkpoint.ErrSignature) {
		t.Fatalf("open with another key: %v", err)
	}
	if _, _, err := checkpoint.NewEd25519Signer("bad name", priv); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("bad name: %v", err)
	}
	if _, _, err := checkpoint.NewEd25519Signer("k", priv[:10]); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Errorf("short key: %v", err)
	}
}

func sameNameVkey(t *testing.T) string {
	t.Helper()
	_, vkey := testKeys("")
	return vkey
}

// TestEd25519SignerPlusInKey: a public key whose base64 holds '+' (the
// zero seed's does not; this seed's does) still yields a signer.
func TestEd25519SignerPlusInKey(t *testing.T) {
	for i := 0; i < 64; i++ {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i)
		priv := ed25519.NewKeyFromSeed(seed)
		signer, vkey, err := checkpoint.NewEd25519Signer(checkpoint.KeyName, priv)
		if err != nil {
			t.Fatalf("seed %d (verifier %q): %v", i, vkey, err)
		}
		if _, err := note.NewVerifier(vkey); err != nil || signer == nil {
			t.Fatalf("seed %d: %v", i, err)
		}
	}
}
