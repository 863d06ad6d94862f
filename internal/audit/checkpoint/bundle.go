package checkpoint

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// BundleFormat names version 1 of the exported segment bundle.
const BundleFormat = "engram.audit.bundle/v1"

// MaxBundleSize bounds what ParseBundle reads, so a hostile file cannot
// exhaust memory. A 10,000-entry segment with proofs is a few megabytes.
const MaxBundleSize = 256 << 20

// Bundle is an exported run of a tenant's audit entries with everything
// needed to check, offline and with nothing but the verifier key, that every
// entry is in the tenant's signed log. Its JSON form is the export format;
// []byte fields are standard base64.
type Bundle struct {
	Format string `json:"format"`
	Tenant string `json:"tenant"`
	// First and Last are the leaf indices of Entries[0] and the last entry.
	First uint64 `json:"first"`
	Last  uint64 `json:"last"`
	// Entries are the canonical entry bytes, in leaf order.
	Entries [][]byte `json:"entries"`
	// Checkpoint is the signed checkpoint (note text) the proofs lead to.
	Checkpoint string `json:"checkpoint"`
	// Inclusion[i] is the inclusion proof of Entries[i] in Checkpoint's tree.
	// One proof per entry, rather than one range proof, so a verifier can
	// name exactly which entry fails.
	Inclusion [][][]byte `json:"inclusion"`
	// Consistency optionally links an older checkpoint the customer already
	// holds to Checkpoint, proving the log only grew in between.
	Consistency *Consistency `json:"consistency,omitempty"`
}

// Consistency is a consistency proof from an older signed checkpoint.
type Consistency struct {
	Checkpoint string   `json:"checkpoint"`
	Proof      [][]byte `json:"proof"`
}

// Report is the outcome of VerifyBundle.
type Report struct {
	Origin   string
	TreeSize uint64 // size of the signed checkpoint
	Root     []byte // root of the signed checkpoint
	First    uint64
	Last     uint64
	Entries  int // entries in the bundle
	Verified int // entries proved included before the first failure
	// FirstBad is the index in Entries (position in the claimed range) of
	// the first entry that is missing or fails its proof, -1 if none.
	FirstBad int
	// Complete is true when the checkpoint seals exactly [First, Last] and
	// the entries hash to its segment root: nothing was left out.
	Complete bool
	// ConsistentFrom is the size of the older checkpoint proved to be a
	// prefix of this one, when the bundle carries a consistency proof.
	ConsistentFrom *uint64
}

// NewBundle builds the bundle of entries (leaves first, first+1, ...) proved
// against signedCheckpoint, which must cover them. The checkpoint is parsed
// but not verified: the exporter is trusted to pass its own.
func NewBundle(ctx context.Context, p *Prover, tenant string, first uint64, entries [][]byte, signedCheckpoint []byte) (*Bundle, error) {
	if len(entries) == 0 {
		return nil, fmt.Errorf("bundle: no entries: %w", ErrRange)
	}
	cp, err := parseSigned(signedCheckpoint)
	if err != nil {
		return nil, err
	}
	last := first + uint64(len(entries)) - 1
	if last < first || last >= cp.Size {
		return nil, fmt.Errorf("bundle [%d, %d] not covered by size %d: %w", first, last, cp.Size, ErrRange)
	}
	b := &Bundle{
		Format:     BundleFormat,
		Tenant:     tenant,
		First:      first,
		Last:       last,
		Entries:    entries,
		Checkpoint: string(signedCheckpoint),
		Inclusion:  make([][][]byte, len(entries)),
	}
	for i := range entries {
		if b.Inclusion[i], err = p.Inclusion(ctx, first+uint64(i), cp.Size); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
	}
	return b, nil
}

// AddConsistency attaches a consistency proof from the older signed
// checkpoint to the bundle's checkpoint.
func (b *Bundle) AddConsistency(ctx context.Context, p *Prover, older []byte) error {
	oc, err := parseSigned(older)
	if err != nil {
		return err
	}
	cp, err := parseSigned([]byte(b.Checkpoint))
	if err != nil {
		return err
	}
	pr, err := p.Consistency(ctx, oc.Size, cp.Size)
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	b.Consistency = &Consistency{Checkpoint: string(older), Proof: pr}
	return nil
}

// ParseBundle decodes a bundle strictly: known fields only, one JSON value,
// at most MaxBundleSize bytes, the expected format. It fails with
// ErrMalformed; it does not verify anything (see VerifyBundle).
func ParseBundle(r io.Reader) (*Bundle, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBundleSize+1))
	if err != nil {
		return nil, fmt.Errorf("read bundle: %w", err)
	}
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("bundle too large: %w", ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var b Bundle
	if err := dec.Decode(&b); err != nil {
		return nil, fmt.Errorf("bundle: %w: %v", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bundle: trailing data: %w", ErrMalformed)
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("bundle format %q: %w", b.Format, ErrMalformed)
	}
	return &b, nil
}

// VerifyBundle checks b offline against verifierKeys (every version of the
// deployment's key the verifier trusts; one is enough): the checkpoint's
// signature and origin (the bundle's tenant), each entry's inclusion at its
// claimed leaf in the signed tree, that no entry of [First, Last] is missing,
// the segment root when the checkpoint sealed exactly this range, and the
// optional consistency proof. It stops at the first failure and returns it
// with the report filled so far; Report.FirstBad names the entry when one is
// to blame. Errors wrap ErrSignature, ErrOrigin, ErrProof, ErrRange or
// ErrMalformed.
func VerifyBundle(b *Bundle, verifierKeys ...string) (Report, error) {
	if b == nil {
		return Report{FirstBad: -1}, fmt.Errorf("bundle: none: %w", ErrMalformed)
	}
	rep := Report{Origin: Origin(b.Tenant), First: b.First, Last: b.Last, Entries: len(b.Entries), FirstBad: -1}
	if b.Format != BundleFormat {
		return rep, fmt.Errorf("bundle format %q: %w", b.Format, ErrMalformed)
	}
	cp, err := Open([]byte(b.Checkpoint), rep.Origin, verifierKeys...)
	if err != nil {
		return rep, err
	}
	rep.TreeSize, rep.Root = cp.Size, cp.Hash
	if b.First > b.Last || b.Last >= cp.Size {
		return rep, fmt.Errorf("bundle [%d, %d] not covered by size %d: %w", b.First, b.Last, cp.Size, ErrRange)
	}
	want := b.Last - b.First + 1
	for i, e := range b.Entries {
		leaf := b.First + uint64(i)
		if uint64(i) >= want {
			rep.FirstBad = i
			return rep, fmt.Errorf("entry %d (leaf %d) beyond the claimed range: %w", i, leaf, ErrRange)
		}
		var pr [][]byte
		if i < len(b.Inclusion) {
			pr = b.Inclusion[i]
		}
		if err := VerifyInclusion(LeafHash(e), leaf, cp.Size, pr, cp.Hash); err != nil {
			rep.FirstBad = i
			return rep, fmt.Errorf("entry %d (leaf %d): %w", i, leaf, err)
		}
		rep.Verified++
	}
	if uint64(len(b.Entries)) < want {
		rep.FirstBad = len(b.Entries)
		return rep, fmt.Errorf("entry %d (leaf %d) missing: %w", len(b.Entries), b.First+uint64(len(b.Entries)), ErrProof)
	}
	if s := cp.Segment; s != nil && s.First == b.First && s.Last == b.Last {
		// Every entry is already proved in place; this catches a segment root
		// that disagrees with the log, which only a faulty sealer produces.
		if !bytes.Equal(Root(b.Entries), s.Root) {
			return rep, fmt.Errorf("segment [%d, %d] root: %w", s.First, s.Last, ErrProof)
		}
		rep.Complete = true
	}
	if c := b.Consistency; c != nil {
		old, err := Open([]byte(c.Checkpoint), rep.Origin, verifierKeys...)
		if err != nil {
			return rep, fmt.Errorf("older checkpoint: %w", err)
		}
		if err := VerifyConsistency(old.Size, cp.Size, c.Proof, old.Hash, cp.Hash); err != nil {
			return rep, err
		}
		rep.ConsistentFrom = &old.Size
	}
	return rep, nil
}

// parseSigned parses the body of a signed note without checking signatures,
// for the exporter's own checkpoints.
func parseSigned(signed []byte) (Checkpoint, error) {
	i := bytes.Index(signed, []byte("\n\n"))
	if i < 0 {
		return Checkpoint{}, fmt.Errorf("signed checkpoint: %w", ErrMalformed)
	}
	return ParseCheckpoint(signed[:i+1])
}
