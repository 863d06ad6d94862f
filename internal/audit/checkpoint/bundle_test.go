package checkpoint_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/audit/checkpoint"
)

// bundleFixture: a tenant log of three sealed segments (20, 30, 14 entries),
// each with its signed checkpoint; the bundle exports the middle segment,
// proved against the latest checkpoint, with a consistency proof from the
// first.
type bundleFixture struct {
	log     *memLog
	signed  [][]byte
	segs    []checkpoint.Segment
	prover  *checkpoint.Prover
	bundle  *checkpoint.Bundle
	vkey    string
	signer  string
	tenant  string
	entries [][]byte
}

func newBundleFixture(t *testing.T) *bundleFixture {
	t.Helper()
	f := &bundleFixture{log: newMemLog(), tenant: "acme"}
	f.signer, f.vkey = testKeys("")
	signer, err := checkpoint.NewSigner(f.signer)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	for _, k := range []int{20, 30, 14} {
		es := entries(len(f.log.leaves), k)
		seg, err := checkpoint.Seal(f.log.tree, f.tenant, es, now)
		if err != nil {
			t.Fatal(err)
		}
		f.log.leaves = append(f.log.leaves, leafHashes(es)...)
		f.entries = append(f.entries, es...)
		s, err := checkpoint.Sign(seg.Checkpoint(checkpoint.Origin(f.tenant)), signer)
		if err != nil {
			t.Fatal(err)
		}
		f.segs = append(f.segs, seg)
		f.signed = append(f.signed, s)
		now = now.Add(time.Hour)
	}
	if f.prover, err = checkpoint.NewProver(f.log); err != nil {
		t.Fatal(err)
	}
	mid := f.segs[1]
	f.bundle, err = checkpoint.NewBundle(t.Context(), f.prover, f.tenant, mid.First, f.entries[mid.First:mid.Last+1], f.signed[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := f.bundle.AddConsistency(t.Context(), f.prover, f.signed[0]); err != nil {
		t.Fatal(err)
	}
	return f
}

// roundTrip exports and re-imports the bundle, as a customer would receive it.
func roundTrip(t *testing.T, b *checkpoint.Bundle) *checkpoint.Bundle {
	t.Helper()
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := checkpoint.ParseBundle(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerifyBundle(t *testing.T) {
	f := newBundleFixture(t)
	rep, err := checkpoint.VerifyBundle(roundTrip(t, f.bundle), f.vkey)
	if err != nil {
		t.Fatal(err)
	}
	if rep.FirstBad != -1 || rep.Verified != 30 || rep.TreeSize != 64 || rep.First != 20 || rep.Last != 49 {
		t.Errorf("report %+v", rep)
	}
	if rep.ConsistentFrom == nil || *rep.ConsistentFrom != 20 {
		t.Errorf("consistency not reported: %+v", rep)
	}
	if rep.Complete {
		t.Errorf("bundle proved against a later checkpoint reported complete")
	}
	// Against its own sealing checkpoint the segment is provably complete.
	mid := f.segs[1]
	own, err := checkpoint.NewBundle(t.Context(), f.prover, f.tenant, mid.First, f.entries[mid.First:mid.Last+1], f.signed[1])
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := checkpoint.VerifyBundle(roundTrip(t, own), f.vkey); err != nil || !rep.Complete {
		t.Errorf("own checkpoint: %+v, %v", rep, err)
	}
}

func TestVerifyBundleRejects(t *testing.T) {
	f := newBundleFixture(t)
	_, otherVkey := testKeys("other")
	for _, tc := range []struct {
		name     string
		mut      func(b *checkpoint.Bundle)
		vkey     string
		want     error
		firstBad int
	}{
		{"tampered entry", func(b *checkpoint.Bundle) {
			b.Entries[7] = bytes.Replace(b.Entries[7], []byte("create"), []byte("delete"), 1)
		}, "", checkpoint.ErrProof, 7},
		{"removed entry", func(b *checkpoint.Bundle) { b.Entries = append(b.Entries[:4], b.Entries[5:]...) }, "", checkpoint.ErrProof, 4},
		{"removed last entry", func(b *checkpoint.Bundle) { b.Entries = b.Entries[:len(b.Entries)-1] }, "", checkpoint.ErrProof, 29},
		{"removed entry and proof", func(b *checkpoint.Bundle) {
			b.Entries = append(b.Entries[:4], b.Entries[5:]...)
			b.Inclusion = append(b.Inclusion[:4], b.Inclusion[5:]...)
		}, "", checkpoint.ErrProof, 4},
		{"reordered entries", func(b *checkpoint.Bundle) { b.Entries[11], b.Entries[12] = b.Entries[12], b.Entries[11] }, "", checkpoint.ErrProof, 11},
		{"reordered with proofs", func(b *checkpoint.Bundle) {
			b.Entries[11], b.Entries[12] = b.Entries[12], b.Entries[11]
			b.Inclusion[11], b.Inclusion[12] = b.Inclusion[12], b.Inclusion[11]
		}, "", checkpoint.ErrProof, 11},
		{"inserted entry", func(b *checkpoint.Bundle) {
			b.Entries = append(b.Entries[:3], append([][]byte{[]byte("forged")}, b.Entries[3:]...)...)
		}, "", checkpoint.ErrProof, 3},
		{"extra entry at end", func(b *checkpoint.Bundle) { b.Entries = append(b.Entries, entry(50)) }, "", checkpoint.ErrRange, 30},
		{"tampered proof", func(b *checkpoint.Bundle) { b.Inclusion[2][0][0] ^= 1 }, "", checkpoint.ErrProof, 2},
		{"missing proofs", func(b *checkpoint.Bundle) { b.Inclusion = b.Inclusion[:10] }, "", checkpoint.ErrProof, 10},
		{"shifted range", func(b *checkpoint.Bundle) { b.First++; b.Last++ }, "", checkpoint.ErrProof, 0},
		{"range beyond checkpoint", func(b *checkpoint.Bundle) { b.Last = 64 }, "", checkpoint.ErrRange, -1},
		{"wrong key", func(*checkpoint.Bundle) {}, otherVkey, checkpoint.ErrSignature, -1},
		{"other tenant", func(b *checkpoint.Bundle) { b.Tenant = "globex" }, "", checkpoint.ErrOrigin, -1},
		{"stale checkpoint", func(b *checkpoint.Bundle) { b.Checkpoint = string(f.signed[0]) }, "", checkpoint.ErrRange, -1},
		{"consistency tampered", func(b *checkpoint.Bundle) { b.Consistency.Proof[0][5] ^= 1 }, "", checkpoint.ErrProof, -1},
		{"consistency from forged checkpoint", func(b *checkpoint.Bundle) {
			b.Consistency.Checkpoint = string(flipSig([]byte(b.Consistency.Checkpoint)))
		}, "", checkpoint.ErrSignature, -1},
		{"wrong format", func(b *checkpoint.Bundle) { b.Format = "v0" }, "", checkpoint.ErrMalformed, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := roundTrip(t, f.bundle)
			tc.mut(b)
			vkey := f.vkey
			if tc.vkey != "" {
				vkey = tc.vkey
			}
			rep, err := checkpoint.VerifyBundle(b, vkey)
			if !errors.Is(err, tc.want) {
				t.Fatalf("VerifyBundle: %v, want %v", err, tc.want)
			}
			if rep.FirstBad != tc.firstBad {
				t.Fatalf("FirstBad = %d, want %d (%v)", rep.FirstBad, tc.firstBad, err)
			}
		})
	}
}

func TestParseBundleRejects(t *testing.T) {
	f := newBundleFixture(t)
	good, err := json.Marshal(f.bundle)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"unknown field": bytes.Replace(good, []byte(`"tenant"`), []byte(`"owner":1,"tenant"`), 1),
		"trailing data": append(bytes.Clone(good), []byte(` {}`)...),
		"not json":      []byte("entries: []"),
		"bad base64":    bytes.Replace(good, []byte(`"entries":["`), []byte(`"entries":["!!`), 1),
		"wrong format":  bytes.Replace(good, []byte(checkpoint.BundleFormat), []byte("engram.audit.bundle/v9"), 1),
		"empty":         nil,
	} {
		if _, err := checkpoint.ParseBundle(bytes.NewReader(data)); !errors.Is(err, checkpoint.ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := checkpoint.NewBundle(t.Context(), f.prover, f.tenant, 60, entries(60, 5), f.signed[2]); !errors.Is(err, checkpoint.ErrRange) {
		t.Errorf("NewBundle beyond the checkpoint: %v", err)
	}
}

// Successive signed checkpoints of one log are consistent; a log rebuilt
// with one entry changed, or truncated, is not.
func TestVerifyCheckpoints(t *testing.T) {
	f := newBundleFixture(t)
	origin := checkpoint.Origin(f.tenant)
	for i := range f.signed {
		for j := i; j < len(f.signed); j++ {
			pr, err := f.prover.Consistency(t.Context(), f.segs[i].TreeSize, f.segs[j].TreeSize)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := checkpoint.VerifyCheckpoints(f.signed[i], f.signed[j], pr, origin, f.vkey); err != nil {
				t.Fatalf("checkpoints %d -> %d: %v", i, j, err)
			}
		}
	}
	// A forked log: same size, entry 3 edited, signed by the same key.
	signer, _ := checkpoint.NewSigner(f.signer)
	forked := newMemLog()
	es := entries(0, 64)
	es[3] = []byte("edited")
	forked.add(es...)
	fp, _ := checkpoint.NewProver(forked)
	cp := checkpoint.Checkpoint{Origin: origin, Size: 64, Hash: forked.tree.Root()}
	signedFork, err := checkpoint.Sign(cp, signer)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := fp.Consistency(t.Context(), 20, 64)
	if _, _, err := checkpoint.VerifyCheckpoints(f.signed[0], signedFork, pr, origin, f.vkey); !errors.Is(err, checkpoint.ErrProof) {
		t.Errorf("forked log accepted: %v", err)
	}
	// Truncation: a newer checkpoint smaller than the one kept.
	pr, _ = f.prover.Consistency(t.Context(), 20, 50)
	if _, _, err := checkpoint.VerifyCheckpoints(f.signed[2], f.signed[1], pr, origin, f.vkey); !errors.Is(err, checkpoint.ErrRange) {
		t.Errorf("truncated log accepted: %v", err)
	}
}
