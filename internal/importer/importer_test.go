package importer_test

import (
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/export"
	"github.com/engram-memory/engram/internal/importer"
)

func TestOptionsDefaultsAndRefusals(t *testing.T) {
	o := importer.Options{}
	if err := o.Clean(); err != nil || o.Format != "json" || o.Mode != "skip" {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, bad := range []importer.Options{{Format: "xml"}, {Mode: "merge"}} {
		if err := bad.Clean(); engram.ErrorCode(err) != engram.CodeInvalid {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if !importer.Signed("json") || !importer.Signed("pam") || importer.Signed("mem0") {
		t.Error("signed formats")
	}
}

func TestDecide(t *testing.T) {
	for _, c := range []struct {
		mode   string
		exists bool
		want   importer.Outcome
	}{
		{"skip", false, importer.Create}, {"skip", true, importer.Skip},
		{"overwrite", false, importer.Create}, {"overwrite", true, importer.Overwrite},
		{"new_ids", false, importer.Create}, {"new_ids", true, importer.Skip},
	} {
		if got := importer.Decide(c.mode, c.exists); got != c.want {
			t.Errorf("%s exists=%v: %v, want %v", c.mode, c.exists, got, c.want)
		}
	}
}

// The mapper keeps ids in skip and overwrite modes unless another tenant
// holds them; a fresh id is the same for every reference to the same old
// id (per kind), differs between imports, keeps a UUIDv7's time, and is a
// valid id.
func TestMapper(t *testing.T) {
	v7 := uuid.Must(uuid.NewV7()).String()
	keep := importer.NewMapper("skip", []byte("tenant secret"))
	if keep.ID("memory", v7, false) != v7 {
		t.Fatal("skip mode changed a free id")
	}
	moved := keep.ID("memory", v7, true)
	if moved == v7 || moved != keep.ID("memory", v7, true) || !importer.Valid(moved) {
		t.Fatalf("an id taken elsewhere: %s", moved)
	}
	fresh := importer.NewMapper("new_ids", []byte("tenant secret"))
	a, b := fresh.ID("entity", v7, false), fresh.ID("entity", v7, false)
	if a != b || a == v7 || !importer.Valid(a) || a[:13] != v7[:13] {
		t.Fatalf("new_ids: %s %s from %s", a, b, v7)
	}
	if fresh.ID("fact", v7, false) == a {
		t.Fatal("two kinds share a fresh id")
	}
	if importer.NewMapper("new_ids", []byte("tenant secret")).ID("entity", v7, false) == a {
		t.Fatal("two imports derived the same fresh id")
	}
	if importer.NewMapper("overwrite", []byte("tenant secret")).ID("memory", v7, true) != moved {
		t.Fatal("two imports into one tenant remapped an id differently: a second import would not skip the first's records")
	}
	if importer.NewMapper("skip", []byte("another tenant")).ID("memory", v7, true) == moved {
		t.Fatal("two tenants share a remapped id")
	}
	if id := keep.ID("memory", "mem0-legacy-7", false); !importer.Valid(id) {
		t.Fatalf("a foreign id was kept: %s", id)
	}
	if u, _ := uuid.Parse(a); u.Version() != 7 {
		t.Fatalf("version %d", u.Version())
	}
}

func TestRemapUserAndCheck(t *testing.T) {
	if importer.RemapUser("ann", "bea") != "bea" || importer.RemapUser("", "bea") != "" || importer.RemapUser("ann", "") != "ann" {
		t.Fatal("RemapUser")
	}
	long := strings.Repeat("x", engram.MaxContentBytes+1)
	for name, r := range map[string]*export.Record{
		"empty memory":   {Kind: export.KindMemory, Memory: &engram.Memory{}},
		"long memory":    {Kind: export.KindMemory, Memory: &engram.Memory{Content: long}},
		"no data":        {Kind: export.KindFact},
		"no subject":     {Kind: export.KindFact, Fact: &engram.Fact{Predicate: "likes"}},
		"nameless":       {Kind: export.KindEntity, Entity: &engram.Entity{}},
		"unknown kind":   {Kind: "pattern"},
		"long history":   {Kind: export.KindMemory, Memory: &engram.Memory{Content: "x"}, History: []engram.HistoryEntry{{NewMemory: long}}},
		"many messages":  {Kind: export.KindEpisode, Episode: &engram.Episode{Messages: make([]engram.ObserveMessage, importer.MaxMessages+1)}},
		"long predicate": {Kind: export.KindFact, Fact: &engram.Fact{Subject: engram.EntityRef{ID: "x"}, Predicate: strings.Repeat("p", 65)}},
	} {
		err := importer.Check(r)
		if engram.ErrorCode(err) != engram.CodeInvalid || strings.Contains(err.Error(), "xxxx") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := importer.Check(&export.Record{Kind: export.KindMemory, Memory: &engram.Memory{Content: "likes tea"}}); err != nil {
		t.Fatal(err)
	}
}
