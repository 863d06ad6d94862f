package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/embed/embedtest"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/export"
	"github.com/engram-memory/engram/internal/testserver"
)

// importTenant creates a tenant and returns its owner's context.
func importTenant(t *testing.T, e *engine.Engine, name string) (*engram.NewTenant, context.Context) {
	t.Helper()
	nt, err := e.CreateTenant(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Authenticate(context.Background(), nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	return nt, engram.WithPrincipal(context.Background(), p)
}

func exportDoc(t *testing.T, e *engine.Engine, ctx context.Context) []byte {
	t.Helper()
	return exportAs(t, e, ctx, "json")
}

func exportAs(t *testing.T, e *engine.Engine, ctx context.Context, format string) []byte {
	t.Helper()
	s, err := e.ExportTenant(ctx, format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func importDoc(ctx context.Context, e *engine.Engine, doc []byte, format, mode string, dry bool) (*engram.ImportReport, error) {
	return e.Import(ctx, engram.ImportRequest{Format: format, Mode: mode, DryRun: dry, Body: bytes.NewReader(doc), Size: int64(len(doc))})
}

// canonical is an export's content with every id replaced by what the
// record says (a memory's text, an entity's name, an episode's first
// message, a fact's sentence) and authors left out: two exports of the
// same data, ids and authors mapped, give the same canonical lines.
func canonical(t *testing.T, doc []byte) (lines []string, authors []string) {
	t.Helper()
	read := func(fn func(*export.Record)) {
		d, err := export.NewDecoder("json", bytes.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		for {
			r, err := d.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fn(r)
		}
	}
	label := map[string]string{}
	read(func(r *export.Record) {
		switch r.Kind {
		case export.KindMemory:
			label[r.Memory.ID] = "memory:" + r.Memory.Content
		case export.KindEpisode:
			label[r.Episode.ID] = "episode:" + r.Episode.Messages[0].Content
		case export.KindEntity:
			label[r.Entity.ID] = "entity:" + r.Entity.Name
		case export.KindFact:
			label[r.Fact.ID] = "fact:" + r.Fact.Fact
		}
	})
	of := func(id string) string {
		if l, ok := label[id]; ok {
			return l
		}
		return "unknown"
	}
	line := func(v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	read(func(r *export.Record) {
		switch r.Kind {
		case export.KindMemory:
			m := *r.Memory
			authors = append(authors, m.AuthorID)
			m.ID, m.AuthorID = "", ""
			hs := slices.Clone(r.History)
			for i := range hs {
				hs[i].MemoryID = ""
			}
			line(struct {
				M engram.Memory
				H []engram.HistoryEntry
			}{m, hs})
		case export.KindEpisode:
			ep := *r.Episode
			ep.ID = ""
			ep.Memories = slices.Clone(ep.Memories)
			for i := range ep.Memories {
				ep.Memories[i].ID = of(ep.Memories[i].ID)
			}
			line(ep)
		case export.KindEntity:
			en := *r.Entity
			en.ID = ""
			line(en)
		case export.KindFact:
			f := *r.Fact
			f.ID, f.Subject.ID = "", of(f.Subject.ID)
			if f.Object != nil {
				o := *f.Object
				o.ID = of(o.ID)
				f.Object = &o
			}
			f.Episodes = slices.Clone(f.Episodes)
			for i := range f.Episodes {
				f.Episodes[i] = of(f.Episodes[i])
			}
			line(f)
		}
	})
	slices.Sort(lines)
	return lines, authors
}

// fill gives a tenant memories (one updated: history; one deleted), two
// observed conversations (episodes, entities, facts, the second
// invalidating a fact of the first) and a member's private memory.
func fill(t *testing.T, e *engine.Engine, ctx context.Context) {
	t.Helper()
	add := func(ctx context.Context, user, text string, vis engram.Visibility) string {
		t.Helper()
		res, err := e.Add(ctx, engram.AddRequest{Content: text, Scope: engram.Scope{UserID: user}, Visibility: vis,
			Metadata: map[string]any{"source": "test", "n": 2.5}, ExpirationDate: "2999-01-01"})
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
	gone := add(ctx, "bob", "Bob had a cat", "")
	if err := e.Delete(ctx, gone); err != nil {
		t.Fatal(err)
	}
	observeOne(t, e, ctx, "alice", "I live in Paris and I work at Acme.", "2024-01-10")
	observeOne(t, e, ctx, "alice", "I moved to Berlin last month.", "2024-06-01")
}

func TestImportRoundTrip(t *testing.T) {
	e, st := testserver.NewEngineStore(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	src, ctx := importTenant(t, e, "source")
	fill(t, e, ctx)
	member := testserver.AddMember(t, e, st, src.Tenant.ID, engram.RoleMember)
	if _, err := e.Add(member.Session, engram.AddRequest{Content: "Carol keeps a private diary", Scope: engram.Scope{UserID: "carol"},
		Visibility: engram.VisibilityPrivate}); err != nil {
		t.Fatal(err)
	}
	doc := exportDoc(t, e, ctx)
	want, _ := canonical(t, doc)
	var invalidated bool
	for _, l := range want {
		invalidated = invalidated || (strings.Contains(l, "Paris") && strings.Contains(l, `"invalid_at":"20`))
	}
	if len(want) < 10 || !invalidated {
		t.Fatalf("the source export holds %d records (invalidated fact: %v)", len(want), invalidated)
	}

	for _, mode := range []string{engram.ImportSkip, engram.ImportNewIDs} {
		t.Run(mode, func(t *testing.T) {
			dst, dctx := importTenant(t, e, "target-"+strings.ReplaceAll(mode, "_", "-"))
			rep, err := importDoc(dctx, e, doc, "json", mode, false)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Verified || rep.Kinds["memory"].Created != 5 || rep.Kinds["episode"].Created != 2 || rep.Kinds["fact"].Created < 3 ||
				rep.Committed != rep.Records || rep.Notes["topic_not_imported"] == 0 {
				t.Fatalf("report %+v", rep)
			}
			if mode == engram.ImportSkip && rep.Notes["id_remapped"] != 5 {
				// The ids belong to the source tenant on this node.
				t.Errorf("skip mode remapped %d memory ids, want 5", rep.Notes["id_remapped"])
			}
			got, authors := canonical(t, exportDoc(t, e, dctx))
			if !slices.Equal(got, want) {
				t.Fatalf("the re-export differs:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			owner, err := e.Authenticate(context.Background(), dst.Key.Secret)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range authors {
				if a != owner.AccountID {
					t.Fatalf("author %q, want the importing owner (the source's accounts are not this tenant's)", a)
				}
			}
			// Searchable: re-embedded and indexed.
			hits, err := e.Search(dctx, engram.SearchRequest{Query: "oolong tea", Scope: engram.Scope{UserID: "alice"}})
			if err != nil || len(hits) == 0 || hits[0].Memory.Content != "Alice likes oolong tea" {
				t.Fatalf("search after import: %v %v", hits, err)
			}

			// The source document again: its ids (the source tenant's)
			// map to the same ids as the first time, so everything is
			// skipped in skip mode (a resumed import), and doubled in
			// new_ids mode (below).
			if mode == engram.ImportSkip {
				rep, err = importDoc(dctx, e, doc, "json", engram.ImportSkip, false)
				if err != nil || rep.Kinds["memory"].Skipped != 5 || rep.Kinds["fact"].Created != 0 || rep.Kinds["episode"].Skipped != 2 {
					t.Fatalf("the source document again: %+v %v", rep, err)
				}
			}
			// Again: skip keeps everything, overwrite replaces it, and
			// nothing changes in content.
			rep, err = importDoc(dctx, e, exportDoc(t, e, dctx), "json", engram.ImportSkip, false)
			if err != nil || rep.Kinds["memory"].Skipped != 5 || rep.Kinds["memory"].Created != 0 || rep.Kinds["fact"].Skipped < 3 {
				t.Fatalf("skip again: %+v %v", rep, err)
			}
			rep, err = importDoc(dctx, e, exportDoc(t, e, dctx), "json", engram.ImportOverwrite, false)
			if err != nil || rep.Kinds["memory"].Overwritten != 5 || rep.Kinds["entity"].Overwritten < 2 || rep.Kinds["fact"].Overwritten < 3 {
				t.Fatalf("overwrite: %+v %v", rep, err)
			}
			if got, _ := canonical(t, exportDoc(t, e, dctx)); !slices.Equal(got, want) {
				t.Fatalf("after overwrite the export differs:\n got %s", strings.Join(got, "\n"))
			}
			// new_ids again doubles every record, fresh ids.
			if mode == engram.ImportNewIDs {
				rep, err = importDoc(dctx, e, doc, "json", engram.ImportNewIDs, false)
				if err != nil || rep.Kinds["memory"].Created != 5 {
					t.Fatalf("new_ids again: %+v %v", rep, err)
				}
				if got, _ := canonical(t, exportDoc(t, e, dctx)); len(got) != 2*len(want) {
					t.Fatalf("new_ids twice: %d records, want %d", len(got), 2*len(want))
				}
			}
		})
	}
}

// TestImportRoundTripEveryFormat: a tenant exported as json, jsonld and
// pam imports from each into an empty tenant whose json export has the
// same content, validity and history as the source's (ids and authors
// mapped); a tampered jsonld or pam document writes nothing.
func TestImportRoundTripEveryFormat(t *testing.T) {
	e, _ := testserver.NewEngineStore(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	_, ctx := importTenant(t, e, "source")
	fill(t, e, ctx)
	want, _ := canonical(t, exportDoc(t, e, ctx))
	for _, format := range []string{"json", "jsonld", "pam"} {
		t.Run(format, func(t *testing.T) {
			doc := exportAs(t, e, ctx, format)
			_, dctx := importTenant(t, e, "target-"+format)
			tampered := bytes.Replace(doc, []byte("oolong"), []byte("Oolong"), 1)
			if bytes.Equal(tampered, doc) {
				t.Fatal("control: the marker is not in the document")
			}
			if _, err := importDoc(dctx, e, tampered, format, engram.ImportNewIDs, false); engram.ErrorCode(err) != engram.CodeImportTampered {
				t.Fatalf("tampered %s: %v", format, err)
			}
			rep, err := importDoc(dctx, e, doc, format, engram.ImportNewIDs, false)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Verified || rep.Committed != rep.Records || rep.Kinds["memory"].Created != 4 {
				t.Fatalf("report %+v", rep)
			}
			if got, _ := canonical(t, exportDoc(t, e, dctx)); !slices.Equal(got, want) {
				t.Fatalf("the re-export differs:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestImportDryRunTamperedMem0(t *testing.T) {
	e, st := testserver.NewEngineStore(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	src, ctx := importTenant(t, e, "source")
	fill(t, e, ctx)
	doc := exportDoc(t, e, ctx)
	_, dctx := importTenant(t, e, "target")
	empty := exportDoc(t, e, dctx)
	emptyLines, _ := canonical(t, empty)

	rep, err := importDoc(dctx, e, doc, "", "", true)
	if err != nil || !rep.DryRun || rep.Kinds["memory"].Created != 4 || rep.Kinds["episode"].Created != 2 || rep.Committed != 0 {
		t.Fatalf("dry run: %+v %v", rep, err)
	}
	if got, _ := canonical(t, exportDoc(t, e, dctx)); len(got) != len(emptyLines) {
		t.Fatalf("a dry run wrote %d records", len(got))
	}

	tampered := bytes.Replace(doc, []byte("oolong"), []byte("Oolong"), 1)
	if _, err := importDoc(dctx, e, tampered, "json", "", false); engram.ErrorCode(err) != engram.CodeImportTampered {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := importDoc(dctx, e, doc[:len(doc)-40], "json", "", false); engram.ErrorCode(err) != engram.CodeImportTampered {
		t.Fatalf("truncated: %v", err)
	}
	if got, _ := canonical(t, exportDoc(t, e, dctx)); len(got) != len(emptyLines) {
		t.Fatalf("a refused import wrote %d records", len(got))
	}
	for _, c := range []struct{ format, mode, code string }{{"xml", "", engram.CodeInvalid}, {"", "merge", engram.CodeInvalid},
		{"pam", "", engram.CodeInvalid}, {"jsonld", "", engram.CodeInvalid}} {
		if _, err := importDoc(dctx, e, doc, c.format, c.mode, false); engram.ErrorCode(err) != c.code {
			t.Errorf("format %q mode %q: %v", c.format, c.mode, err)
		}
	}
	member := testserver.AddMember(t, e, st, src.Tenant.ID, engram.RoleMember)
	if _, err := importDoc(member.Session, e, doc, "", "", false); engram.ErrorCode(err) != engram.CodeForbidden {
		t.Fatalf("a member imports: %v", err)
	}

	// A mem0 export, into another user: searchable, times and expiry kept.
	mem0 := `{"results":[{"id":"3c90c3cc-0d44-4b50-8888-8dd25736052a","memory":"Likes hiking in the Alps","user_id":"alex",
		"categories":["hobbies"],"created_at":"2024-07-26T10:29:36.630547-07:00","updated_at":"2024-07-27T10:29:36.630547-07:00",
		"expiration_date":"2999-01-01"},{"memory":"Allergic to peanuts","user_id":"alex","metadata":{"k":"v"}}]}`
	rep, err = e.Import(dctx, engram.ImportRequest{Format: "mem0", ToUserID: "alexandra", Body: strings.NewReader(mem0), Size: int64(len(mem0))})
	if err != nil || rep.Verified || rep.Kinds["memory"].Created != 2 {
		t.Fatalf("mem0: %+v %v", rep, err)
	}
	hits, err := e.Search(dctx, engram.SearchRequest{Query: "hiking", Scope: engram.Scope{UserID: "alexandra"}})
	if err != nil || len(hits) == 0 || hits[0].Memory.Content != "Likes hiking in the Alps" {
		t.Fatalf("search the mem0 import: %v %v", hits, err)
	}
	m := hits[0].Memory
	if m.CreatedAt.Year() != 2024 || m.ExpirationDate == nil || fmt.Sprint(m.Metadata["categories"]) != "[hobbies]" {
		t.Fatalf("mem0 memory %+v", m)
	}
	h, err := e.History(dctx, m.ID)
	if err != nil || len(h) != 1 || h[0].Event != engram.EventAdd {
		t.Fatalf("mem0 history %+v %v", h, err)
	}

	// Audited: who and how many, never content.
	page, err := e.ListAudit(dctx, engram.AuditQuery{Action: engram.AuditMemoryImport})
	if err != nil {
		t.Fatal(err)
	}
	var counts []uint64
	failed := 0
	for _, r := range page.Entries {
		b, _ := json.Marshal(r)
		if bytes.Contains(b, []byte("hiking")) || bytes.Contains(b, []byte("oolong")) {
			t.Errorf("audit entry holds content: %s", b)
		}
		if r.Outcome == engram.OutcomeSuccess {
			counts = append(counts, r.Count)
		} else {
			failed++
		}
	}
	// The dry run wrote nothing; the mem0 import wrote 2 records.
	slices.Sort(counts)
	if !slices.Equal(counts, []uint64{0, 2}) || failed < 2 {
		t.Fatalf("successful import entries count %v; %d failed ones", counts, failed)
	}
}

// flaky is an embedding model that goes down when told to: the outage of
// an external service, mid-import.
type flaky struct {
	*embedtest.Embedder
	calls, failFrom atomic.Int32
}

func (f *flaky) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if n := f.calls.Add(1); f.failFrom.Load() > 0 && n >= f.failFrom.Load() {
		return nil, errors.New("model down")
	}
	return f.Embedder.Embed(ctx, texts)
}

// An import of several pages that fails on its third keeps the two pages
// before it, says so, and resumes with mode=skip.
func TestImportPagesFailureResume(t *testing.T) {
	emb := &flaky{Embedder: embedtest.New(16)}
	e, _ := testserver.NewEngineStore(t, engine.WithEmbedder(emb, 1<<20))
	_, ctx := importTenant(t, e, "target")
	var doc strings.Builder
	doc.WriteString(`[`)
	const n = 450
	for i := range n {
		if i > 0 {
			doc.WriteString(",")
		}
		fmt.Fprintf(&doc, `{"id":%q,"memory":"note number %d about tea","user_id":"u%d"}`, uuid.NewString(), i, i%3)
	}
	doc.WriteString(`]`)
	emb.calls.Store(0)
	emb.failFrom.Store(3)
	_, err := importDoc(ctx, e, []byte(doc.String()), "mem0", "", false)
	if engram.ErrorCode(err) != engram.CodeUnavailable || !strings.Contains(engram.ErrorMessage(err), "after 400 of 450 records") {
		t.Fatalf("failing import: %v", err)
	}
	count := func() int {
		doc := exportDoc(t, e, ctx)
		rep, err := export.Verify(bytes.NewReader(doc), int64(len(doc)), nil)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Counts[export.KindMemory]
	}
	if got := count(); got != 400 {
		t.Fatalf("%d memories after the failure, want the 400 of the two committed pages", got)
	}
	emb.failFrom.Store(0)
	rep, err := importDoc(ctx, e, []byte(doc.String()), "mem0", engram.ImportSkip, false)
	if err != nil || rep.Kinds["memory"].Skipped != 400 || rep.Kinds["memory"].Created != 50 || rep.Committed != n {
		t.Fatalf("resume: %+v %v", rep, err)
	}
	if got := count(); got != n {
		t.Fatalf("%d memories after resuming, want %d", got, n)
	}
}

// TestImportRefusesPendingDeletion: a document holding records of an end
// user whose deletion is pending is refused whole (that user's data is
// read-only until erased); cancelled, it imports.
func TestImportRefusesPendingDeletion(t *testing.T) {
	e, _ := testserver.NewEngineStore(t, engine.WithEmbedder(embedtest.New(16), 1<<20))
	_, ctx := importTenant(t, e, "source")
	fill(t, e, ctx)
	doc := exportDoc(t, e, ctx)
	_, dctx := importTenant(t, e, "target")
	empty, _ := canonical(t, exportDoc(t, e, dctx))
	if _, err := e.ScheduleUserDeletion(dctx, "bob", 168*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := importDoc(dctx, e, doc, "json", engram.ImportNewIDs, false); engram.ErrorCode(err) != engram.CodeDeletionPending {
		t.Fatalf("import for a user pending deletion: %v", err)
	}
	if got, _ := canonical(t, exportDoc(t, e, dctx)); len(got) != len(empty) {
		t.Fatalf("a refused import wrote %d records", len(got)-len(empty))
	}
	// Remapped to another user, the same document imports.
	rep, err := e.Import(dctx, engram.ImportRequest{Format: "json", Mode: engram.ImportNewIDs, ToUserID: "carol",
		Body: bytes.NewReader(doc), Size: int64(len(doc))})
	if err != nil || rep.Committed == 0 {
		t.Fatalf("remapped import: %+v %v", rep, err)
	}
}
