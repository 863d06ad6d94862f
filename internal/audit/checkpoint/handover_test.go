package checkpoint_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

func newKey(t *testing.T) (signer, verifier string) {
	t.Helper()
	sk, vk, err := checkpoint.GenerateKey(rand.Reader, "")
	if err != nil {
		t.Fatal(err)
	}
	return sk, vk
}

// TestHandover: the hand-over note opens under the old key and the new one,
// names the same tree as the checkpoint it hands over, and names exactly
// the next key; a note co-signed by a key it does not name is refused.
func TestHandover(t *testing.T) {
	oldSK, oldVK := newKey(t)
	nextSK, nextVK := newKey(t)
	old, err := checkpoint.NewSigner(oldSK)
	if err != nil {
		t.Fatal(err)
	}
	next, err := checkpoint.NewSigner(nextSK)
	if err != nil {
		t.Fatal(err)
	}
	origin := checkpoint.Origin("t1")
	cp := checkpoint.Checkpoint{Origin: origin, Size: 7, Hash: bytes.Repeat([]byte{1}, 32), Extra: []string{"engram-chain AQ=="}}
	signed, err := checkpoint.Sign(cp, old)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := checkpoint.ParseSigned(signed)
	if err != nil {
		t.Fatal(err)
	}
	h, err := checkpoint.Handover(parsed, nextVK, old, next)
	if err != nil {
		t.Fatal(err)
	}
	for _, vk := range []string{oldVK, nextVK} {
		got, err := checkpoint.Open(h, origin, vk)
		if err != nil {
			t.Fatalf("hand-over under %s: %v", vk[:20], err)
		}
		if got.Size != cp.Size || !bytes.Equal(got.Hash, cp.Hash) {
			t.Fatalf("hand-over names tree %d, want %d", got.Size, cp.Size)
		}
	}
	got, named, err := checkpoint.OpenHandover(h, origin, oldVK)
	if err != nil || named != nextVK || got.Size != 7 {
		t.Fatalf("OpenHandover: %v %q", err, named)
	}
	// Rotating again before the next seal names only the newest successor.
	thirdSK, thirdVK := newKey(t)
	third, _ := checkpoint.NewSigner(thirdSK)
	again, err := checkpoint.Handover(got, thirdVK, next, third)
	if err != nil {
		t.Fatal(err)
	}
	if _, named, err := checkpoint.OpenHandover(again, origin, nextVK); err != nil || named != thirdVK || strings.Count(string(again), "engram-next-key") != 1 {
		t.Fatalf("second hand-over: %v %q", err, named)
	}

	// An attacker co-signs the plain checkpoint (or a hand-over naming the
	// real successor) with a key of their own: it does not hand over.
	if _, _, err := checkpoint.OpenHandover(signed, origin, oldVK); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Fatalf("plain checkpoint as hand-over: %v", err)
	}
	evilSK, evilVK := newKey(t)
	evil, _ := checkpoint.NewSigner(evilSK)
	forged, err := checkpoint.Handover(parsed, evilVK, evil, evil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := checkpoint.OpenHandover(forged, origin, oldVK); !errors.Is(err, checkpoint.ErrSignature) {
		t.Fatalf("hand-over not signed by the pinned key: %v", err)
	}
	if _, err := checkpoint.Open(h, origin, oldVK, oldVK); err != nil {
		t.Fatalf("a key listed twice: %v", err)
	}
	if _, err := checkpoint.Open(h, origin); !errors.Is(err, checkpoint.ErrMalformed) {
		t.Fatalf("no verifier key: %v", err)
	}
}
