package export_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/export"
)

func TestJSONDecoderGivesBackWhatWasWritten(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	later := at.Add(time.Hour)
	obj := &engram.EntityRef{ID: "ent_2", Name: "Acme", Type: "organization"}
	recs := []*export.Record{
		{Kind: export.KindMemory, Memory: &engram.Memory{ID: "m1", Content: "likes tea", UserID: "ann", AgentID: "a", RunID: "r",
			Metadata: map[string]any{"n": 1.5, "checksum": "x"}, CreatedAt: at, UpdatedAt: later, AuthorID: "acc_1",
			Visibility: engram.Visibility("private"), ExpirationDate: &later},
			History: []engram.HistoryEntry{{MemoryID: "m1", NewMemory: "likes coffee", Event: engram.EventAdd, CreatedAt: at},
				{MemoryID: "m1", OldMemory: "likes coffee", NewMemory: "likes tea", Event: engram.EventUpdate, CreatedAt: later}}},
		{Kind: export.KindMemory, Memory: &engram.Memory{ID: "m2", Content: "never changed", CreatedAt: at, UpdatedAt: at}, History: []engram.HistoryEntry{}},
		{Kind: export.KindEpisode, Episode: &engram.Episode{ID: "ep_1", Status: "done", UserID: "ann", Extractor: "rules",
			Memories: []engram.AddResult{}, Entities: []engram.EntityRef{*obj}, Facts: []engram.FactRef{}, CreatedAt: at, UpdatedAt: at,
			Messages: []engram.ObserveMessage{{Role: "user", Content: "I work at Acme"}}}},
		{Kind: export.KindEntity, Entity: &engram.Entity{ID: "ent_2", Name: "Acme", Type: "organization", Aliases: []string{"ACME"}, Mentions: 2, CreatedAt: at, UpdatedAt: at}},
		{Kind: export.KindFact, Fact: &engram.Fact{ID: "f1", Fact: "Ann works at Acme", Subject: engram.EntityRef{ID: "ent_1", Name: "Ann", Type: "person"},
			Predicate: "works_at", Object: obj, ValidAt: at, InvalidAt: &later, CreatedAt: at, ExpiredAt: &later, Episodes: []string{"ep_1"}, UserID: "ann"}},
		{Kind: export.KindTopic, Topic: &engram.TopicCount{Topic: "work", Memories: 3}},
	}
	var buf bytes.Buffer
	w := export.NewWriter(&buf)
	h := export.Header{Tenant: "acme", Scope: export.Scope{Kind: "user", UserID: "ann"}, CreatedAt: at}
	must(t, w.Begin(h))
	for _, r := range recs {
		must(t, w.Write(r))
	}
	must(t, w.Finish(key))

	d, err := export.NewDecoder(engram.ExportJSON, bytes.NewReader(buf.Bytes()))
	must(t, err)
	if got := d.Header(); !reflect.DeepEqual(got, h) {
		t.Fatalf("header %+v, want %+v", got, h)
	}
	for i, want := range recs {
		got, err := d.Next()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
	if _, err := d.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last record: %v, want io.EOF", err)
	}
	if _, err := export.NewDecoder(engram.ExportJSON, bytes.NewReader([]byte(`{"format":"other","version":1,"records":[]}`))); err == nil {
		t.Fatal("another format was read")
	}
	if _, err := export.NewDecoder("xml", bytes.NewReader(buf.Bytes())); !errors.Is(err, export.ErrUnsupported) {
		t.Fatalf("xml: %v", err)
	}
}

func TestMem0Decoder(t *testing.T) {
	for name, doc := range map[string]string{
		"list": `[{"id":"3c90c3cc-0d44-4b50-8888-8dd25736052a","memory":"Likes hiking","user_id":"alex","categories":["hobbies"],
			"created_at":"2024-07-26T10:29:36.630547-07:00","updated_at":"2024-07-26T10:29:36.630547","expiration_date":"2025-01-01","hash":"x"}]`,
		"results": `{"total":1,"results":[{"id":"3c90c3cc-0d44-4b50-8888-8dd25736052a","memory":"Likes hiking","user_id":"alex","categories":["hobbies"],
			"metadata":null,"created_at":"2024-07-26T10:29:36.630547-07:00","updated_at":"2024-07-26T10:29:36.630547","expiration_date":"2025-01-01"}]}`,
	} {
		d, err := export.NewDecoder(engram.ImportMem0, bytes.NewReader([]byte(doc)))
		must(t, err)
		r, err := d.Next()
		must(t, err)
		m := r.Memory
		created := time.Date(2024, 7, 26, 17, 29, 36, 630547000, time.UTC)
		if r.Kind != export.KindMemory || m.Content != "Likes hiking" || m.UserID != "alex" || !m.CreatedAt.Equal(created) ||
			!m.UpdatedAt.Equal(created.Add(-7*time.Hour)) || m.ExpirationDate == nil || m.ExpirationDate.Year() != 2025 ||
			!reflect.DeepEqual(m.Metadata["categories"], []any{"hobbies"}) {
			t.Fatalf("%s: %+v", name, m)
		}
		if _, err := d.Next(); !errors.Is(err, io.EOF) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
