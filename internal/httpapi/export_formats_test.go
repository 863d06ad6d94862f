package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/export"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestExportEveryFormat exports one tenant through REST in each format,
// verifies each against the published key, and reads the jsonld and pam
// documents back: the memory with its history, the episodes with their
// messages, the entities, the facts (the ended ones with their
// invalid_at) and the topics are all there.
func TestExportEveryFormat(t *testing.T) {
	s := testserver.Start(t)
	key, c := tenant(t, s, "acme")
	ctx := context.Background()
	observe(t, c, "mira", lifeBefore())
	observe(t, c, "mira", lifeAfter())
	res, err := c.Add(ctx, client.AddRequest{Content: "Mira drinks genmaicha 玄米茶", UserID: "mira",
		Metadata: map[string]any{"marker": "MK-☕", "n": 2.5, "ok": true, "list": []any{"a", nil}}})
	if err != nil || len(res) != 1 {
		t.Fatalf("add: %v %v", res, err)
	}
	if _, err := c.Update(ctx, res[0].ID, "Mira drinks sencha 煎茶", nil); err != nil {
		t.Fatal(err)
	}

	get := func(path string) (int, []byte) {
		code, body := call(t, s, key, http.MethodGet, path, "")
		return code, []byte(body)
	}
	_, kb := get("/v1/export/keys")
	var k engram.ExportKey
	if err := json.Unmarshal(kb, &k); err != nil {
		t.Fatal(err)
	}
	pub, err := export.ParsePublicKey(k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	var counts map[string]int
	for _, format := range []string{engram.ExportJSON, engram.ExportJSONLD, engram.ExportPAM} {
		code, doc := get("/v1/export?format=" + format)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", format, code, doc)
		}
		rep, err := export.Verify(bytes.NewReader(doc), int64(len(doc)), pub)
		if err != nil {
			t.Fatalf("%s: verify: %v", format, err)
		}
		if rep.Tenant == "" || rep.Scope.Kind != "tenant" || !rep.Pinned {
			t.Fatalf("%s: report %+v", format, rep)
		}
		if counts == nil {
			counts = rep.Counts
			if counts[export.KindMemory] < 2 || counts[export.KindEpisode] != 2 || counts[export.KindEntity] < 3 ||
				counts[export.KindFact] != 6 || counts[export.KindTopic] < 1 {
				t.Fatalf("json counts %v", counts)
			}
		}
		for kind, n := range counts {
			if rep.Counts[kind] != n {
				t.Errorf("%s: counts %v, json's %v", format, rep.Counts, counts)
			}
		}
		if format == engram.ExportJSON {
			continue
		}
		dec, err := export.NewDecoder(format, bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if dec.Header().Tenant != rep.Tenant {
			t.Errorf("%s: header %+v", format, dec.Header())
		}
		seen := map[string]int{}
		var history, ended, messages, metadata bool
		for {
			r, err := dec.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			seen[r.Kind]++
			switch r.Kind {
			case export.KindMemory:
				if r.Memory.Content == "Mira drinks sencha 煎茶" {
					metadata = r.Memory.Metadata["marker"] == "MK-☕" && r.Memory.Metadata["n"] == 2.5
					history = len(r.History) == 2 && r.History[1].OldMemory == "Mira drinks genmaicha 玄米茶"
				}
			case export.KindFact:
				ended = ended || (r.Fact.InvalidAt != nil && strings.Contains(r.Fact.Fact, "Lyon"))
			case export.KindEpisode:
				messages = messages || (len(r.Episode.Messages) == 2 && r.Episode.Messages[1].Content == "Nice! How is Lyon?")
			}
		}
		if !history || !ended || !messages || !metadata {
			t.Errorf("%s: history %v, ended fact %v, messages %v, metadata %v", format, history, ended, messages, metadata)
		}
		for kind, n := range counts {
			if seen[kind] != n {
				t.Errorf("%s: decoded %v, want %v", format, seen, counts)
			}
		}
	}
	if code, b := get("/v1/export?format=xml"); code != http.StatusBadRequest || !strings.Contains(string(b), `"invalid"`) {
		t.Fatalf("format=xml: %d %s", code, b)
	}
}
