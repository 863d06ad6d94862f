package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/testserver"
)

// An export taken over REST imports into another tenant over REST; a
// tampered document, an oversized one and a bad mode are refused and
// write nothing.
func TestImportREST(t *testing.T) {
	s := testserver.StartWith(t, testserver.Options{ImportMaxBytes: 256 << 10})
	src, err := s.Engine.CreateTenant(context.Background(), "source")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := s.Engine.CreateTenant(context.Background(), "target")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"Ann likes green tea", "Ann cycles to work"} {
		if st, b := call(t, s, src.Key.Secret, "POST", "/v1/memories", `{"content":"`+c+`","user_id":"ann"}`); st != http.StatusOK && st != http.StatusCreated {
			t.Fatalf("add: %d %s", st, b)
		}
	}
	st, doc := call(t, s, src.Key.Secret, "GET", "/v1/export", "")
	if st != http.StatusOK {
		t.Fatalf("export: %d %s", st, doc)
	}
	count := func() int {
		st, b := call(t, s, dst.Key.Secret, "GET", "/v1/memories?user_id=bea", "")
		if st != http.StatusOK {
			t.Fatalf("list: %d %s", st, b)
		}
		return strings.Count(b, `"memory":`)
	}

	problem := func(st int, b string) string {
		var p struct{ Code string }
		_ = json.Unmarshal([]byte(b), &p)
		return p.Code
	}
	if st, b := call(t, s, dst.Key.Secret, "POST", "/v1/import", strings.Replace(doc, "green", "black", 1)); st != http.StatusBadRequest ||
		problem(st, b) != engram.CodeImportTampered {
		t.Fatalf("tampered: %d %s", st, b)
	}
	if st, b := call(t, s, dst.Key.Secret, "POST", "/v1/import?mode=merge", doc); st != http.StatusBadRequest {
		t.Fatalf("bad mode: %d %s", st, b)
	}
	big := `[` + strings.Repeat(`{"memory":"x"},`, 20000) + `{"memory":"x"}]`
	if st, b := call(t, s, dst.Key.Secret, "POST", "/v1/import?format=mem0", big); st != http.StatusRequestEntityTooLarge ||
		problem(st, b) != engram.CodeTooLarge {
		t.Fatalf("oversized: %d %s", st, b)
	}
	if n := count(); n != 0 {
		t.Fatalf("refused imports wrote %d memories", n)
	}

	st, b := call(t, s, dst.Key.Secret, "POST", "/v1/import?dry_run=true&to_user_id=bea", doc)
	var rep engram.ImportReport
	if err := json.Unmarshal([]byte(b), &rep); st != http.StatusOK || err != nil || !rep.DryRun || rep.Kinds["memory"].Created != 2 {
		t.Fatalf("dry run: %d %s", st, b)
	}
	if n := count(); n != 0 {
		t.Fatalf("a dry run wrote %d memories", n)
	}
	st, b = call(t, s, dst.Key.Secret, "POST", "/v1/import?format=json&mode=new_ids&to_user_id=bea", doc)
	if err := json.Unmarshal([]byte(b), &rep); st != http.StatusOK || err != nil || !rep.Verified || rep.Kinds["memory"].Created != 2 {
		t.Fatalf("import: %d %s", st, b)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d memories imported for bea, want 2", n)
	}
	st, b = call(t, s, dst.Key.Secret, "POST", "/v1/search", `{"query":"green tea","user_id":"bea"}`)
	if st != http.StatusOK || !strings.Contains(b, "Ann likes green tea") {
		t.Fatalf("search after import: %d %s", st, b)
	}
}

// The answer of mem0's getAll (as the mem0-compatible surface gives it,
// the shape a mem0 client saves) imports as a mem0 export.
func TestImportMem0GetAll(t *testing.T) {
	s := testserver.Start(t)
	src, err := s.Engine.CreateTenant(context.Background(), "source")
	if err != nil {
		t.Fatal(err)
	}
	dst, err := s.Engine.CreateTenant(context.Background(), "target")
	if err != nil {
		t.Fatal(err)
	}
	if st, b := call(t, s, src.Key.Secret, "POST", "/v3/memories/add/", `{"messages":[{"role":"user","content":"Cara plays the cello"}],"user_id":"cara","infer":false,"metadata":{"source":"mem0"}}`); st >= 300 {
		t.Fatalf("mem0 add: %d %s", st, b)
	}
	st, all := call(t, s, src.Key.Secret, "POST", "/v3/memories/", `{"filters":{"user_id":"cara"}}`)
	if st != http.StatusOK || !strings.Contains(all, `"results"`) {
		t.Fatalf("getAll: %d %s", st, all)
	}
	st, b := call(t, s, dst.Key.Secret, "POST", "/v1/import?format=mem0&mode=new_ids", all)
	var rep engram.ImportReport
	if err := json.Unmarshal([]byte(b), &rep); st != http.StatusOK || err != nil || rep.Kinds["memory"].Created != 1 || rep.Verified {
		t.Fatalf("import: %d %s", st, b)
	}
	st, b = call(t, s, dst.Key.Secret, "POST", "/v1/search", `{"query":"cello","user_id":"cara"}`)
	if st != http.StatusOK || !strings.Contains(b, "Cara plays the cello") || !strings.Contains(b, `"source":"mem0"`) {
		t.Fatalf("search after the mem0 import: %d %s", st, b)
	}
}
