package deletion

import (
	"errors"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/rbac"
)

func TestGraceBounds(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{{"168h", true}, {"1m", true}, {"8760h", true}, {"59s", false}, {"8761h", false}, {"0", false}, {"-1h", false}, {"7d", false}, {"", false}} {
		d, err := ParseGrace(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseGrace(%q) = %v, %v; want ok=%v", c.in, d, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrGrace) {
			t.Errorf("ParseGrace(%q): %v is not ErrGrace", c.in, err)
		}
	}
	if err := CheckGrace(DefaultGrace); err != nil {
		t.Fatal(err)
	}
}

func TestScheduleAndDue(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 1500, time.FixedZone("x", 3600))
	at := Schedule(now, time.Hour)
	if at.Location() != time.UTC || at.Nanosecond()%1000 != 0 || !at.Equal(now.Add(time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("Schedule = %v", at)
	}
	if Due(at, at.Add(-time.Microsecond)) || !Due(at, at) || !Due(at, at.Add(time.Hour)) {
		t.Fatal("Due is wrong at the boundary")
	}
}

func TestTransitions(t *testing.T) {
	states := []string{engram.DeletionPending, engram.DeletionCancelled, engram.DeletionDone}
	for _, from := range states {
		for _, to := range states {
			want := from == engram.DeletionPending && to != engram.DeletionPending
			if got := Transition(from, to) == nil; got != want {
				t.Errorf("Transition(%s, %s) allowed=%v, want %v", from, to, got, want)
			}
		}
	}
}

func TestReadOnly(t *testing.T) {
	for _, op := range []rbac.Op{rbac.MemoryCreate, rbac.MemoryUpdate, rbac.MemoryDelete, rbac.Observe, rbac.KeyCreate, rbac.MemberInvite, rbac.MemberLeave} {
		if !ReadOnly(op) {
			t.Errorf("%s should be refused while a deletion is pending", op)
		}
	}
	for _, op := range []rbac.Op{rbac.MemoryRead, rbac.GraphRead, rbac.UserExport, rbac.Profile, rbac.KeyList, rbac.KeyRevoke, rbac.SessionRevoke, rbac.OwnershipTransfer, rbac.AuditRead} {
		if ReadOnly(op) {
			t.Errorf("%s should stay allowed while a deletion is pending", op)
		}
	}
}

// TestReadOnlyCoversMatrix: every operation of the permission matrix is
// classified for a pending deletion, so a new one is a decision, not a
// default.
func TestReadOnlyCoversMatrix(t *testing.T) {
	for _, r := range rbac.Matrix {
		if _, ok := whilePending[r.Op]; !ok && !allowedWhilePending[r.Op] {
			t.Errorf("%s is not classified in whilePending (refused or not while a deletion is pending?)", r.Op)
		}
	}
	if !ReadOnly(rbac.TenantImport) {
		t.Error("an import writes: refused while a deletion is pending")
	}
	if !ReadOnly(rbac.Op("some.future_op")) {
		t.Error("an unclassified op must be refused")
	}
}
