package diskspace_test

import (
	"errors"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/diskspace"
)

func TestParseFloor(t *testing.T) {
	for _, c := range []struct {
		in   string
		want diskspace.Floor
	}{
		{"0", diskspace.Floor{}},
		{"1048576", diskspace.Floor{Bytes: 1 << 20}},
		{"256MiB", diskspace.Floor{Bytes: 256 << 20}},
		{"256mib", diskspace.Floor{Bytes: 256 << 20}},
		{"2GB", diskspace.Floor{Bytes: 2e9}},
		{"1.5G", diskspace.Floor{Bytes: 3 << 29}},
		{"512 KiB", diskspace.Floor{Bytes: 512 << 10}},
		{"1EiB", diskspace.Floor{Bytes: 1 << 60}},
		{"5%", diskspace.Floor{Percent: 5}},
		{"0.5 %", diskspace.Floor{Percent: 0.5}},
	} {
		got, err := diskspace.ParseFloor(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseFloor(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "12XB", "101%", "-5%", "NaN", "1e30EiB", "%"} {
		if f, err := diskspace.ParseFloor(in); err == nil {
			t.Errorf("ParseFloor(%q) = %+v, want an error", in, f)
		}
	}
}

// TestGuard: below the floor Room refuses with insufficient_storage; a
// reading is reused for the interval (one statfs however many requests);
// OnChange hears each crossing once; a failed reading allows growth.
func TestGuard(t *testing.T) {
	var (
		avail, reads int
		failing      bool
		changes      []bool
	)
	avail = 100
	g := &diskspace.Guard{Floor: diskspace.Floor{Percent: 10}, Interval: time.Hour,
		Free: func(string) (diskspace.Space, error) {
			reads++
			if failing {
				return diskspace.Space{}, errors.New("statfs failed")
			}
			return diskspace.Space{Avail: uint64(avail), Total: 1000}, nil
		},
		OnChange: func(low bool, _ diskspace.Space, _ error) { changes = append(changes, low) }}
	for range 100 {
		if err := g.Room(); err != nil {
			t.Fatalf("at the floor: %v", err)
		}
	}
	if reads != 1 {
		t.Fatalf("%d readings within one interval, want 1", reads)
	}
	g.Interval = -1 // read every time from here on
	avail = 99
	if err := g.Room(); engram.ErrorCode(err) != engram.CodeInsufficientStorage {
		t.Fatalf("below the floor: %v", err)
	}
	if g.Health() != "low" {
		t.Fatalf("health %q below the floor", g.Health())
	}
	avail = 500
	if err := g.Room(); err != nil || g.Health() != "ok" {
		t.Fatalf("above the floor again: %v, %s", err, g.Health())
	}
	failing = true
	if err := g.Room(); err != nil || g.Health() != "unknown" {
		t.Fatalf("failed reading: %v, %s", err, g.Health())
	}
	if len(changes) != 3 || !changes[0] || changes[1] || changes[2] {
		t.Fatalf("OnChange saw %v, want [true false false] (low, ok, reading failed)", changes)
	}
	var nilGuard *diskspace.Guard
	if err := nilGuard.Room(); err != nil {
		t.Fatalf("nil guard: %v", err)
	}
}
