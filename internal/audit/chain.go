package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/store"
)

// Keys supplies the keys of a chain (tenant "" is the system chain).
// *keys.Ring implements it.
type Keys interface {
	AuditKeys(ctx context.Context, tenantID string, version int) (mac, pseudonym []byte, err error)
}

// Append chains e onto its tenant's chain inside tx: it numbers e (Seq),
// MACs it under macKey (of KeyVersion) and stores it with the new head. The
// caller fetches macKey before the transaction, since fetching a key may
// itself write. The store serialises the writes of a tenant (the system
// chain counts as one), so reading the head and appending in one write
// transaction can neither skip nor fork a seq.
func Append(ctx context.Context, tx store.Tx, macKey []byte, e *engram.AuditEntry) (*store.AuditRecord, error) {
	var prev []byte
	h, err := tx.AuditHead(ctx, e.TenantID)
	switch {
	case err == nil:
		e.Seq, prev = h.Seq+1, h.MAC
	case errors.Is(err, store.ErrNotFound):
		e.Seq = 1
	default:
		return nil, fmt.Errorf("audit head: %w", err)
	}
	r := &store.AuditRecord{Entry: *e, KeyVersion: KeyVersion, MAC: Link(macKey, prev, e)}
	head := &store.AuditHead{TenantID: e.TenantID, Seq: e.Seq, MAC: r.MAC, KeyVersion: KeyVersion,
		HeadMAC: HeadMAC(macKey, e.TenantID, e.Seq, r.MAC)}
	if err := tx.AppendAudit(ctx, r, head); err != nil {
		return nil, fmt.Errorf("append audit entry: %w", err)
	}
	return r, nil
}

// Kinds of chain damage a Problem reports.
const (
	// KindMismatch: the entry does not match its MAC given its
	// predecessor: edited, forged, or moved to another seq.
	KindMismatch = "mismatch"
	// KindMissing: the seq is absent while later entries exist.
	KindMissing = "missing"
	// KindTruncated: a checkpoint vouches for entries the chain no
	// longer holds.
	KindTruncated = "truncated"
	// KindCheckpoint: a checkpoint is itself invalid, or disagrees with
	// the chain's MAC at its seq.
	KindCheckpoint = "checkpoint"
)

// ErrBadCheckpoint is what Checkpoint.Latest wraps when the checkpoint
// itself is invalid (a forged head, a bad signature): Verify reports it as
// damage. Any other error stops verification as a failure to run.
var ErrBadCheckpoint = errors.New("audit: invalid checkpoint")

// Problem is the first damage found in a chain. Seq is the first bad
// sequence number (0 when the damage is a checkpoint's own).
type Problem struct {
	TenantID string
	Seq      uint64
	Kind     string
	Detail   string
}

func (p *Problem) Error() string {
	return fmt.Sprintf("audit chain %q: entry %d: %s: %s", p.TenantID, p.Seq, p.Kind, p.Detail)
}

// Report is the outcome of verifying one chain.
type Report struct {
	TenantID string
	// Entries counts the entries walked; LastSeq is the highest seq seen.
	Entries uint64
	LastSeq uint64
	// Problem is nil when the chain is intact.
	Problem *Problem
}

// Verifier checks chains in a store.
type Verifier struct {
	Store store.Store
	Keys  Keys
	// Checkpoints are consulted besides the store's own head record
	// (StoredHead), which Verify always checks.
	Checkpoints []Checkpoint
	// Floor, when set, says where the chain starts after retention dropped
	// its oldest entries; nil walks from seq 1.
	Floor Floor
}

// Floor is where a chain resumes after retention: entries up to Seq were
// dropped, and MAC is the chain value after entry Seq (0 and nil when
// nothing was dropped). It must be vouched for independently of the rows
// it replaces (a signed tombstone); a bad one wraps ErrBadCheckpoint.
type Floor interface {
	Floor(ctx context.Context, tenantID string) (seq uint64, mac []byte, err error)
}

// walkPage bounds one read transaction of a verification walk.
const walkPage = 1000

// Verify walks the tenant's chain ("" the system chain) from seq 1 and
// returns the first damage: a MAC mismatch (edit, forged insertion,
// reordering), a gap (removal), or a chain shorter than a checkpoint
// (truncation). An error means verification could not run (no key, the
// store failed), not that the chain is bad.
func (v *Verifier) Verify(ctx context.Context, tenantID string) (*Report, error) {
	// Heads are read before the walk: entries appended meanwhile extend the
	// chain past them, which is not truncation.
	cps := append([]Checkpoint{StoredHead{Store: v.Store, Keys: v.Keys}}, v.Checkpoints...)
	rep := &Report{TenantID: tenantID}
	heads := make([]*Head, len(cps))
	for i, c := range cps {
		h, err := c.Latest(ctx, tenantID)
		if err != nil && !errors.Is(err, ErrBadCheckpoint) {
			return nil, fmt.Errorf("%s checkpoint: %w", c.Name(), err)
		}
		if err != nil {
			rep.Problem = &Problem{TenantID: tenantID, Kind: KindCheckpoint, Detail: fmt.Sprintf("%s checkpoint: %v", c.Name(), err)}
			return rep, nil
		}
		heads[i] = h
	}
	macs := map[uint64][]byte{} // the MACs at checkpointed seqs
	for _, h := range heads {
		if h != nil {
			macs[h.Seq] = nil
		}
	}
	keysByVersion := map[int][]byte{}
	var prev []byte
	var after uint64
	if v.Floor != nil {
		seq, mac, err := v.Floor.Floor(ctx, tenantID)
		if err != nil && !errors.Is(err, ErrBadCheckpoint) {
			return nil, fmt.Errorf("chain floor: %w", err)
		}
		if err != nil {
			rep.Problem = &Problem{TenantID: tenantID, Kind: KindCheckpoint, Detail: fmt.Sprintf("retention tombstone: %v", err)}
			return rep, nil
		}
		after, prev = seq, mac
		if _, ok := macs[after]; ok {
			macs[after] = mac
		}
	}
	floor := after
	for {
		var page []store.AuditRecord
		if err := v.Store.Read(ctx, func(tx store.Tx) (err error) {
			page, err = tx.AuditRange(ctx, tenantID, after, walkPage)
			return err
		}); err != nil {
			return nil, fmt.Errorf("read audit chain: %w", err)
		}
		for i := range page {
			r := &page[i]
			want := after + 1
			bad := func(kind, format string, args ...any) (*Report, error) {
				rep.Problem = &Problem{TenantID: tenantID, Seq: want, Kind: kind, Detail: fmt.Sprintf(format, args...)}
				return rep, nil
			}
			if r.Entry.Seq != want {
				return bad(KindMissing, "entry %d is missing (the next stored entry is %d)", want, r.Entry.Seq)
			}
			key, ok := keysByVersion[r.KeyVersion]
			if !ok {
				k, _, err := v.Keys.AuditKeys(ctx, tenantID, r.KeyVersion)
				if err != nil {
					return bad(KindMismatch, "no audit key of version %d: %v", r.KeyVersion, err)
				}
				key, keysByVersion[r.KeyVersion] = k, k
			}
			if r.Entry.TenantID != tenantID {
				return bad(KindMismatch, "entry names another tenant")
			}
			mac := Link(key, prev, &r.Entry)
			if !hmac.Equal(mac, r.MAC) {
				return bad(KindMismatch, "entry does not match its MAC: edited, forged or moved")
			}
			if _, ok := macs[want]; ok {
				macs[want] = mac
			}
			prev, after = mac, want
			rep.Entries++
		}
		if len(page) < walkPage {
			break
		}
	}
	rep.LastSeq = after
	for i, h := range heads {
		if h == nil || (h.Seq < floor && floor > 0) {
			// Vouches only for entries retention dropped.
			continue
		}
		if h.Seq > after {
			rep.Problem = &Problem{TenantID: tenantID, Seq: after + 1, Kind: KindTruncated,
				Detail: fmt.Sprintf("the %s checkpoint vouches for %d entries; the chain ends at %d", cps[i].Name(), h.Seq, after)}
			return rep, nil
		}
		if !bytes.Equal(macs[h.Seq], h.MAC) {
			rep.Problem = &Problem{TenantID: tenantID, Seq: h.Seq, Kind: KindCheckpoint,
				Detail: fmt.Sprintf("the %s checkpoint's MAC for this entry differs: the chain was rewritten", cps[i].Name())}
			return rep, nil
		}
	}
	if after > 0 && heads[0] == nil {
		rep.Problem = &Problem{TenantID: tenantID, Seq: 0, Kind: KindCheckpoint, Detail: "the chain has entries but no head record"}
	}
	return rep, nil
}

// StoredHead is the checkpoint kept in the store itself: the head record
// written with every entry, authenticated by its own MAC. It catches a
// deleted tail; an attacker who can also restore an older head record
// (from a backup of the same database) is caught only by checkpoints kept
// elsewhere (signed checkpoints, a sink's copy of the MACs).
type StoredHead struct {
	Store store.Store
	Keys  Keys
}

// Name implements Checkpoint.
func (StoredHead) Name() string { return "head" }

// Latest implements Checkpoint: nil when the chain has no head.
func (s StoredHead) Latest(ctx context.Context, tenantID string) (*Head, error) {
	var h *store.AuditHead
	err := s.Store.Read(ctx, func(tx store.Tx) (err error) {
		h, err = tx.AuditHead(ctx, tenantID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	key, _, err := s.Keys.AuditKeys(ctx, tenantID, h.KeyVersion)
	if err != nil {
		return nil, err
	}
	if h.TenantID != tenantID || !hmac.Equal(HeadMAC(key, tenantID, h.Seq, h.MAC), h.HeadMAC) {
		return nil, fmt.Errorf("%w: the head record does not match its MAC", ErrBadCheckpoint)
	}
	return &Head{TenantID: tenantID, Seq: h.Seq, MAC: h.MAC}, nil
}
