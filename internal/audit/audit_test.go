package audit_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
)

func TestCanonicalSeparatesFields(t *testing.T) {
	// Without length prefixes these two would encode alike.
	a := &engram.AuditEntry{Seq: 1, TenantID: "t", Actor: "ab", KeyID: "c"}
	b := &engram.AuditEntry{Seq: 1, TenantID: "t", Actor: "a", KeyID: "bc"}
	if bytes.Equal(audit.Canonical(a), audit.Canonical(b)) {
		t.Fatal("different entries share a canonical encoding")
	}
	k := bytes.Repeat([]byte{1}, 32)
	if bytes.Equal(audit.Link(k, nil, a), audit.Link(k, nil, b)) {
		t.Fatal("different entries share a MAC")
	}
	c := *a
	c.Seq = 2
	if bytes.Equal(audit.Link(k, nil, a), audit.Link(k, nil, &c)) {
		t.Fatal("the MAC does not cover the seq")
	}
	if bytes.Equal(audit.Link(k, nil, a), audit.Link(k, []byte("prev"), a)) {
		t.Fatal("the MAC does not cover the previous MAC")
	}
}

// TestCanonicalCount: an aggregated entry's count is covered by its MAC,
// and an entry without one encodes exactly as before counts existed, so
// chains written by earlier versions still verify.
func TestCanonicalCount(t *testing.T) {
	a := &engram.AuditEntry{Seq: 1, TenantID: "", Action: engram.AuditAuthFailure, Reason: "unknown_key", IP: "192.0.2.1"}
	b := *a
	b.Count = 12
	ca, cb := audit.Canonical(a), audit.Canonical(&b)
	if len(cb) != len(ca)+8 || !bytes.Equal(cb[:len(ca)], ca) {
		t.Fatalf("the count is not a trailing 8 bytes: %x vs %x", ca, cb)
	}
	c := b
	c.Count = 13
	k := bytes.Repeat([]byte{1}, 32)
	if bytes.Equal(audit.Link(k, nil, &b), audit.Link(k, nil, &c)) || bytes.Equal(audit.Link(k, nil, a), audit.Link(k, nil, &b)) {
		t.Fatal("the MAC does not cover the count")
	}
}

func TestPseudonym(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	p := audit.Pseudonym(k1, "user", "alice@example.com")
	if !audit.IsPseudonym(p) || strings.Contains(p, "alice") {
		t.Fatalf("pseudonym %q", p)
	}
	if p != audit.Pseudonym(k1, "user", "alice@example.com") {
		t.Fatal("pseudonyms are not stable")
	}
	if p == audit.Pseudonym(k2, "user", "alice@example.com") || p == audit.Pseudonym(k1, "account", "alice@example.com") {
		t.Fatal("pseudonyms do not depend on the key and the kind")
	}
	if audit.Pseudonym(k1, "user", "") != "" || audit.IsPseudonym("ps_xyz") {
		t.Fatal("empty ids and malformed pseudonyms")
	}
}

// TestJSON pins the bytes sinks receive.
func TestJSON(t *testing.T) {
	e := &engram.AuditEntry{Seq: 7, Time: time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.FixedZone("X", 3600)), TenantID: "t1",
		Actor: "ps_00", KeyID: "k", Action: engram.AuditMemoryCreate, TargetType: "memory", TargetID: "m", Outcome: engram.OutcomeSuccess,
		IP: "192.0.2.1", RequestID: "r", Transport: "rest"}
	got := string(audit.JSON(e, 1, []byte{0xab, 0xcd}))
	want := `{"seq":7,"time":"2026-01-02T02:04:05.678901Z","tenant_id":"t1","actor":"ps_00","key_id":"k","action":"memory.create","target_type":"memory","target_id":"m","outcome":"success","ip":"192.0.2.1","request_id":"r","transport":"rest","key_version":1,"mac":"abcd"}`
	if got != want {
		t.Fatalf("JSON:\n got %s\nwant %s", got, want)
	}
	var back audit.Record
	if err := json.Unmarshal([]byte(got), &back); err != nil || back.Seq != 7 || back.MAC != "abcd" {
		t.Fatalf("round trip: %+v %v", back, err)
	}
}

// TestCanonicalDetailKeepsOldMACs: the MACs of entries without a Detail
// are exactly those the code before Detail existed computed (pinned from
// it), so old chains still verify; a Detail is covered by the MAC, follows
// the count, and does not depend on the order counts were set in.
func TestCanonicalDetailKeepsOldMACs(t *testing.T) {
	k := bytes.Repeat([]byte{7}, 32)
	a := &engram.AuditEntry{Seq: 3, Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), TenantID: "t1", Actor: "ps_00", KeyID: "k",
		Action: engram.AuditMemoryCreate, TargetType: "memory", TargetID: "m", Outcome: engram.OutcomeSuccess, IP: "192.0.2.1", RequestID: "r", Transport: "rest"}
	b := *a
	b.Action, b.Count = engram.AuditAuthFailure, 12
	for _, c := range []struct {
		e    *engram.AuditEntry
		want string
	}{
		{a, "d7e1689745f26e5eca27d30f1c281dbcd970ebedabbb4aa4bcbecd83a2dd836c"},
		{&b, "1cde18c5c4ffa7c1dab2f1fc6e8fe128b200be84258cec08818fab8ac68419ec"},
	} {
		if got := hex.EncodeToString(audit.Link(k, []byte("prev"), c.e)); got != c.want {
			t.Errorf("MAC of an entry without detail changed: %s, want %s", got, c.want)
		}
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := *a
	d.Action = engram.AuditUserDeletionComplete
	d.Detail = &engram.AuditDetail{Counts: map[string]uint64{"memories": 3, "keys": 1}, RequestedAt: at, ScheduledFor: at.Add(time.Hour)}
	plain := d
	plain.Detail = nil
	cd, cp := audit.Canonical(&d), audit.Canonical(&plain)
	if !bytes.Equal(cd[:len(cp)+8], append(cp, make([]byte, 8)...)) || len(cd) <= len(cp)+8 {
		t.Fatal("a detail does not follow a (zero) count after the old encoding")
	}
	mac := audit.Link(k, nil, &d)
	for name, change := range map[string]func(*engram.AuditDetail){
		"count":     func(x *engram.AuditDetail) { x.Counts["memories"] = 4 },
		"kind":      func(x *engram.AuditDetail) { x.Counts["facts"] = 0 },
		"requested": func(x *engram.AuditDetail) { x.RequestedAt = x.RequestedAt.Add(time.Microsecond) },
		"scheduled": func(x *engram.AuditDetail) { x.ScheduledFor = x.ScheduledFor.Add(time.Microsecond) },
	} {
		x := d
		det := *d.Detail
		det.Counts = map[string]uint64{"memories": 3, "keys": 1}
		change(&det)
		x.Detail = &det
		if bytes.Equal(audit.Link(k, nil, &x), mac) {
			t.Errorf("the MAC does not cover the detail's %s", name)
		}
	}
	same := d
	same.Detail = &engram.AuditDetail{Counts: map[string]uint64{"keys": 1, "memories": 3}, RequestedAt: at, ScheduledFor: at.Add(time.Hour)}
	if !bytes.Equal(audit.Link(k, nil, &same), mac) {
		t.Error("the MAC depends on the order of the counts")
	}
}
