package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/export"
	"github.com/engram-memory/engram/internal/testserver"
)

// exported is an export document as a plain JSON decoder reads it.
type exported struct {
	Format  string       `json:"format"`
	Version int          `json:"version"`
	Scope   export.Scope `json:"scope"`
	Records []struct {
		Kind    string                `json:"kind"`
		Data    json.RawMessage       `json:"data"`
		History []engram.HistoryEntry `json:"history"`
	} `json:"records"`
	Counts map[string]int `json:"counts"`
}

func (d *exported) memories(t *testing.T) map[string]engram.Memory {
	t.Helper()
	out := map[string]engram.Memory{}
	for _, r := range d.Records {
		if r.Kind == export.KindMemory {
			var m engram.Memory
			if err := json.Unmarshal(r.Data, &m); err != nil {
				t.Fatal(err)
			}
			out[m.Content] = m
		}
	}
	return out
}

// runExport streams an export and checks it verifies against the key
// GET /v1/export/keys publishes, then decodes it.
func verifier(t *testing.T, e *engine.Engine, keyCtx context.Context) func(engram.ExportStream, error) (*exported, []byte) {
	return func(s engram.ExportStream, err error) (*exported, []byte) { return runExport(t, e, keyCtx, s, err) }
}

func runExport(t *testing.T, e *engine.Engine, keyCtx context.Context, s engram.ExportStream, err error) (*exported, []byte) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s(&buf); err != nil {
		t.Fatal(err)
	}
	k, err := e.ExportKey(keyCtx)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := export.ParsePublicKey(k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := export.Verify(bytes.NewReader(buf.Bytes()), int64(buf.Len()), pub); err != nil {
		t.Fatalf("verify: %v", err)
	}
	var d exported
	if err := json.Unmarshal(buf.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, n := range d.Counts {
		total += n
	}
	if d.Format != export.Format || d.Version != 1 || total != len(d.Records) {
		t.Fatalf("format %q v%d, counts %v for %d records", d.Format, d.Version, d.Counts, len(d.Records))
	}
	return &d, buf.Bytes()
}

func TestExportScopes(t *testing.T) {
	e, st := testserver.NewEngineStore(t)
	nt, ctx := owner(t, e)
	add := func(ctx context.Context, user, text string, vis engram.Visibility) string {
		t.Helper()
		res, err := e.Add(ctx, engram.AddRequest{Content: text, Scope: engram.Scope{UserID: user}, Visibility: vis})
		if err != nil || len(res) != 1 {
			t.Fatalf("add: %v %v", res, err)
		}
		return res[0].ID
	}
	tea := add(ctx, "alice", "Alice likes green tea", "")
	if _, err := e.Update(ctx, tea, engram.UpdateRequest{Content: "Alice likes oolong tea"}); err != nil {
		t.Fatal(err)
	}
	add(ctx, "bob", "Bob rides a red bike", "")
	observeOne(t, e, ctx, "alice", "I live in Paris and I work at Acme.", "2024-01-10")
	observeOne(t, e, ctx, "alice", "I moved to Berlin last month.", "2024-06-01")
	member := testserver.AddMember(t, e, st, nt.Tenant.ID, engram.RoleMember)
	add(member.Session, "carol", "Carol keeps a private diary", engram.VisibilityPrivate)

	run := verifier(t, e, ctx)
	// The whole tenant: every memory (the member's private one too) with
	// history, both episodes, the entities and every fact, the one the
	// move invalidated included, with its validity.
	d, _ := run(e.ExportTenant(ctx, "json"))
	ms := d.memories(t)
	if d.Counts["memory"] != 5 || len(ms) != 5 || d.Counts["episode"] != 2 || d.Counts["entity"] < 2 || d.Counts["fact"] < 3 || d.Counts["topic"] < 1 {
		t.Fatalf("tenant counts %v", d.Counts)
	}
	for _, want := range []string{"Alice likes oolong tea", "Bob rides a red bike", "Carol keeps a private diary"} {
		if _, ok := ms[want]; !ok {
			t.Errorf("tenant export lacks %q", want)
		}
	}
	var invalidated, history bool
	for _, r := range d.Records {
		switch r.Kind {
		case export.KindMemory:
			for _, h := range r.History {
				history = history || (h.OldMemory == "Alice likes green tea" && h.NewMemory == "Alice likes oolong tea")
			}
		case export.KindFact:
			var f engram.Fact
			if err := json.Unmarshal(r.Data, &f); err != nil {
				t.Fatal(err)
			}
			invalidated = invalidated || (f.InvalidAt != nil && strings.Contains(strings.ToLower(f.Fact), "paris"))
		case export.KindEpisode:
			var ep engram.Episode
			if err := json.Unmarshal(r.Data, &ep); err != nil {
				t.Fatal(err)
			}
			if len(ep.Messages) != 1 || ep.UserID != "alice" {
				t.Errorf("episode %+v", ep)
			}
		}
	}
	if !history || !invalidated {
		t.Errorf("history kept %v, invalidated Paris fact kept %v", history, invalidated)
	}

	// One end user: only bob's memory, nothing of alice's graph.
	d, raw := run(e.ExportUser(ctx, "bob", ""))
	if d.Scope.UserID != "bob" || d.Counts["memory"] != 1 || d.Counts["episode"] != 0 || d.Counts["fact"] != 0 || d.Counts["entity"] != 0 {
		t.Fatalf("bob's counts %v", d.Counts)
	}
	if _, ok := d.memories(t)["Bob rides a red bike"]; !ok || bytes.Contains(raw, []byte("Alice")) {
		t.Fatalf("bob's export: %s", raw)
	}
	d, raw = run(e.ExportUser(ctx, "alice", "json"))
	if d.Counts["memory"] != 3 || d.Counts["episode"] != 2 || bytes.Contains(raw, []byte("Bob")) || bytes.Contains(raw, []byte("Carol")) {
		t.Fatalf("alice's counts %v", d.Counts)
	}

	// A member's own export: only what it wrote, not the shared memories
	// it may read; and only through its session.
	d, raw = run(e.ExportMine(member.Session, ""))
	if d.Scope.Kind != "account" || d.Counts["memory"] != 1 || len(d.memories(t)) != 1 || bytes.Contains(raw, []byte("Alice")) {
		t.Fatalf("member's own export: counts %v", d.Counts)
	}
	if _, ok := d.memories(t)["Carol keeps a private diary"]; !ok {
		t.Fatal("member's own export lacks its memory")
	}
	if _, err := e.ExportMine(member.Context(t, e), ""); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Fatalf("own export with an API key: %v", err)
	}
	if _, err := e.ExportTenant(member.Session, ""); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Fatalf("member's tenant export: %v", err)
	}
	if _, err := e.ExportUser(member.Session, "bob", ""); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Fatalf("member's user export: %v", err)
	}
	for f, code := range map[string]string{"xml": engram.CodeInvalid, "JSON": engram.CodeInvalid} {
		if _, err := e.ExportTenant(ctx, f); engram.ErrorCode(err) != code {
			t.Errorf("format %s: %v, want %s", f, err, code)
		}
	}
	if _, err := e.ExportUser(ctx, "", ""); engram.ErrorCode(err) != engram.CodeInvalid {
		t.Errorf("user export without a user: %v", err)
	}

	// Audited: who and how many, never content.
	page, err := e.ListAudit(ctx, engram.AuditQuery{Action: engram.AuditMemoryExport, Outcome: engram.OutcomeSuccess})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 4 {
		t.Fatalf("%d export entries, want 4", len(page.Entries))
	}
	for _, r := range page.Entries {
		b, _ := json.Marshal(r)
		if r.Count == 0 || bytes.Contains(b, []byte("bike")) || bytes.Contains(b, []byte("bob")) {
			t.Errorf("audit entry %s", b)
		}
	}
}
