package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store"
)

// RepairReport is what Repair found in one tenant and, unless DryRun,
// removed: ids and counts, never content.
type RepairReport struct {
	Tenant string `json:"tenant"`
	DryRun bool   `json:"dry_run"`
	// Memories lists the memories that no longer open (content, metadata
	// or vector), removed with their postings and vector.
	Memories []string `json:"memories"`
	// History counts the history entries that no longer open, removed.
	History int `json:"history"`
	// Changed counts records that changed between the scan and their
	// removal: left alone (run repair again to look at them anew).
	Changed int `json:"changed,omitempty"`
}

// repairPage is how many records a repair scan reads per transaction.
const repairPage = 500

// Repair finds the records of a tenant ("" for every tenant) that can no
// longer be opened — their subject key version is gone, or their envelope
// fails to authenticate — and, unless dryRun, deletes them: a memory with
// its postings and vector, a history entry alone. (History of a removed
// memory that still opens stays, as after a delete.) Each memory touched
// gets an entry `memory.repair` in the tenant's audit chain, written in
// the transaction that removes it, naming the memory by id only.
//
// It refuses a tenant whose key hierarchy does not open (wrong KEK, a
// tenant KMS that is down): every record would look unreadable then, and
// none is. A record is removed only if it is still byte for byte what the
// scan found unreadable.
func (e *Engine) Repair(ctx context.Context, tenantName string, dryRun bool) ([]RepairReport, error) {
	var tenants []store.Tenant
	if tenantName != "" {
		t, err := e.TenantByName(ctx, tenantName)
		if err != nil {
			return nil, err
		}
		tenants = []store.Tenant{{ID: t.ID, Name: t.Name}}
	} else if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
		tenants, err = tx.ListTenants(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	out := []RepairReport{}
	for _, t := range tenants {
		r, err := e.repairTenant(ctx, t, dryRun)
		if err != nil {
			return out, fmt.Errorf("repair tenant %s: %w", t.Name, err)
		}
		out = append(out, *r)
	}
	return out, nil
}

// brokenMemory is a memory that does not open, as the scan read it.
type brokenMemory struct {
	row     store.Memory
	history []store.History // its entries that do not open
}

func (e *Engine) repairTenant(ctx context.Context, t store.Tenant, dryRun bool) (*RepairReport, error) {
	defer e.vecWrite(t.ID)() // its index drop counts as a write (snapshots.go)
	// The hierarchy above the subject keys must open, or nothing is judged.
	if _, err := e.ring.TenantKey(ctx, t.ID); err != nil {
		return nil, fmt.Errorf("the tenant's key does not open, nothing judged: %w", err)
	}
	if _, err := e.ring.Derived(ctx, t.ID, keys.PurposeMAC); err != nil {
		return nil, fmt.Errorf("the tenant's index key does not open, nothing judged: %w", err)
	}
	o := e.opener(ctx, t.ID)
	broken := map[string]*brokenMemory{}
	var order []string // memory ids in the order found
	get := func(id string) *brokenMemory {
		b := broken[id]
		if b == nil {
			b = &brokenMemory{}
			broken[id] = b
			order = append(order, id)
		}
		return b
	}
	before := ""
	for {
		var page []store.Memory
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			page, err = tx.ListMemories(ctx, t.ID, engram.Scope{}, before, repairPage)
			return err
		}); err != nil {
			return nil, err
		}
		for i := range page {
			m := &page[i]
			_, err := o.memory(m)
			if err == nil && m.Vector != nil {
				_, err = o.vector(m)
			}
			if isUnreadable(err) {
				get(m.ID).row = *m
			} else if err != nil {
				return nil, err
			}
		}
		if len(page) < repairPage {
			break
		}
		before = page[len(page)-1].ID
	}
	after := ""
	for {
		var page []store.History
		if err := e.st.Read(ctx, func(tx store.Tx) (err error) {
			page, err = tx.HistoryAfter(ctx, t.ID, after, repairPage)
			return err
		}); err != nil {
			return nil, err
		}
		for _, h := range page {
			_, err := o.open(h.Subject, historyContext(t.ID, h.Subject, h.MemoryID, h.ID, "old"), h.Old)
			if err == nil {
				_, err = o.open(h.Subject, historyContext(t.ID, h.Subject, h.MemoryID, h.ID, "new"), h.New)
			}
			if isUnreadable(err) {
				b := get(h.MemoryID)
				b.history = append(b.history, h)
			} else if err != nil {
				return nil, err
			}
		}
		if len(page) < repairPage {
			break
		}
		after = page[len(page)-1].ID
	}

	rep := &RepairReport{Tenant: t.Name, DryRun: dryRun, Memories: []string{}}
	for _, id := range order {
		b := broken[id]
		if b.row.ID != "" {
			rep.Memories = append(rep.Memories, id)
		}
		rep.History += len(b.history)
	}
	if dryRun || len(order) == 0 {
		return rep, nil
	}
	rep.Memories, rep.History = rep.Memories[:0], 0
	for _, id := range order {
		b := broken[id]
		var mem, hist, changed int
		err := e.st.Write(ctx, func(tx store.Tx) error {
			mem, hist, changed = 0, 0, 0
			if b.row.ID != "" {
				cur, err := tx.Memory(ctx, t.ID, id)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					return err
				case !sameSealed(cur, &b.row):
					changed++
				default:
					if err := tx.DeleteMemory(ctx, t.ID, id); err != nil {
						return err
					}
					mem++
				}
			}
			for _, h := range b.history {
				cur, err := tx.HistoryEntry(ctx, t.ID, h.ID)
				switch {
				case errors.Is(err, store.ErrNotFound):
				case err != nil:
					return err
				case cur.KeyVersion != h.KeyVersion || !bytes.Equal(cur.Old, h.Old) || !bytes.Equal(cur.New, h.New):
					changed++
				default:
					if err := tx.DeleteHistoryEntry(ctx, t.ID, h.ID); err != nil {
						return err
					}
					hist++
				}
			}
			if mem+hist == 0 {
				return nil
			}
			return e.repaired(ctx, tx, t.ID, id)
		})
		if err != nil {
			return rep, err
		}
		if mem > 0 {
			rep.Memories = append(rep.Memories, id)
		}
		rep.History += hist
		rep.Changed += changed
	}
	// A live engine (tests; the command runs offline) reloads its indexes.
	e.indexDrop(t.ID)
	e.kwDrop(t.ID)
	return rep, nil
}

// sameSealed reports whether a memory row still holds what was judged.
func sameSealed(a, b *store.Memory) bool {
	return a.KeyVersion == b.KeyVersion && a.Subject == b.Subject && bytes.Equal(a.Content, b.Content) &&
		bytes.Equal(a.Metadata, b.Metadata) && bytes.Equal(a.Vector, b.Vector)
}

// repaired records, in tx, that repair removed records of memory id.
func (e *Engine) repaired(ctx context.Context, tx store.Tx, tenantID, id string) error {
	if e.noAudit {
		return nil
	}
	mac, _, err := e.ring.AuditKeys(ctx, tenantID, audit.KeyVersion)
	if err != nil {
		return fmt.Errorf("audit keys: %w", keyFailure(err))
	}
	o := engram.OriginFrom(ctx)
	transport := o.Transport
	if transport == "" {
		transport = "cli"
	}
	entry := &engram.AuditEntry{TenantID: tenantID, Time: e.clock(), Action: engram.AuditMemoryRepair,
		TargetType: engram.TargetMemory, TargetID: id, Outcome: engram.OutcomeSuccess, Transport: transport}
	_, err = audit.Append(ctx, tx, mac, entry)
	return err
}
