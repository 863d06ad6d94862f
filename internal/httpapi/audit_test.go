package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/auth/apikey"
	"github.com/engram-memory/engram/internal/testserver"
)

// flip changes the last character of a base62 string.
func flip(s string) string {
	last := byte('a')
	if s[len(s)-1] == 'a' {
		last = 'b'
	}
	return s[:len(s)-1] + string(last)
}

// allAudit reads the whole trail through the API, page by page (small
// pages, so the cursor is exercised).
func allAudit(t *testing.T, c *client.Client, q engram.AuditQuery) []engram.AuditRecord {
	t.Helper()
	var out []engram.AuditRecord
	q.Limit = 3
	for {
		p, err := c.Audit(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Entries...)
		if p.NextCursor == "" {
			return out
		}
		q.Cursor = p.NextCursor
	}
}

// TestAuditTrail runs a session of API calls and checks the owner's view
// of the trail: every action is there with its outcome, a read-only key is
// refused (and the refusal recorded), pages are newest first without
// duplicates, another tenant sees none of it, no entry holds content, a
// query or a user_id, and the chains verify.
func TestAuditTrail(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner, beta := s.Tenant(t, "alpha"), s.Tenant(t, "beta")
	const content, query, user, meta = "zebra-quokka-7781 lives in the attic", "quokka-query-5521", "alice-user-3319", "meta-value-6607"

	added, err := owner.Add(ctx, client.AddRequest{Content: content, UserID: user, Metadata: map[string]any{"k": meta}})
	if err != nil {
		t.Fatal(err)
	}
	id := added[0].ID
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = owner.Get(ctx, id)
	must(err)
	_, err = owner.List(ctx, client.ListRequest{})
	must(err)
	_, err = owner.Search(ctx, client.SearchRequest{Query: query})
	must(err)
	_, err = owner.Update(ctx, id, content+" and the garden", nil)
	must(err)
	_, err = owner.History(ctx, id)
	must(err)
	ro, err := owner.CreateKey(ctx, client.CreateKeyRequest{Name: "reader", Scopes: []engram.Permission{engram.PermMemoriesRead}})
	must(err)
	reader := s.Client(ro.Secret)
	_, err = reader.Get(ctx, id)
	must(err)
	if _, err := reader.Audit(ctx, engram.AuditQuery{}); client.Code(err) != engram.CodeForbidden {
		t.Fatalf("read-only key reading the trail: %v, want 403", err)
	}
	if _, err := reader.Add(ctx, client.AddRequest{Content: "denied " + content}); client.Code(err) != engram.CodeForbidden {
		t.Fatalf("read-only key writing: %v, want 403", err)
	}
	// A wrong secret for a real key id: the key's tenant records it.
	tok, err := apikey.Parse(ro.Secret)
	must(err)
	tok.Secret = flip(tok.Secret)
	wrong := tok.String()
	if _, err := s.Client(wrong).Get(ctx, id); client.Code(err) != engram.CodeUnauthenticated {
		t.Fatalf("wrong secret: %v", err)
	}
	// Refusals are counted and recorded when the window ends.
	must(s.Engine.FlushAuthFailures(ctx))
	if _, err := beta.Get(ctx, id); client.Code(err) != engram.CodeNotFound {
		t.Fatalf("beta reading alpha's memory: %v", err)
	}
	must(owner.Delete(ctx, id))
	must(owner.RevokeKey(ctx, ro.ID))
	_, err = owner.ForgetUser(ctx, user)
	must(err)

	trail := allAudit(t, owner, engram.AuditQuery{})
	type key struct {
		action  engram.AuditAction
		outcome engram.AuditOutcome
	}
	got := map[key]int{}
	for i, e := range trail {
		got[key{e.Action, e.Outcome}]++
		if e.TenantID == "" || e.Transport != "rest" || e.RequestID == "" || e.IP == "" {
			t.Errorf("entry %d lacks origin: %+v", e.Seq, e)
		}
		if i > 0 && trail[i-1].Seq != e.Seq+1 {
			t.Errorf("page order: seq %d after %d", e.Seq, trail[i-1].Seq)
		}
	}
	if trail[len(trail)-1].Seq != 1 {
		t.Errorf("the trail does not reach seq 1")
	}
	for _, want := range []key{
		{engram.AuditMemoryCreate, engram.OutcomeSuccess}, {engram.AuditMemoryRead, engram.OutcomeSuccess},
		{engram.AuditMemoryList, engram.OutcomeSuccess}, {engram.AuditMemorySearch, engram.OutcomeSuccess},
		{engram.AuditMemoryUpdate, engram.OutcomeSuccess}, {engram.AuditMemoryHist, engram.OutcomeSuccess},
		{engram.AuditMemoryDelete, engram.OutcomeSuccess}, {engram.AuditKeyCreate, engram.OutcomeSuccess},
		{engram.AuditKeyRevoke, engram.OutcomeSuccess}, {engram.AuditUserForget, engram.OutcomeSuccess},
		{engram.AuditRead, engram.OutcomeDenied}, {engram.AuditMemoryCreate, engram.OutcomeDenied},
		{engram.AuditAuthFailure, engram.OutcomeFailure},
	} {
		if got[want] == 0 {
			t.Errorf("no %s/%s entry in %v", want.action, want.outcome, got)
		}
	}
	if got[key{engram.AuditMemoryRead, engram.OutcomeSuccess}] != 2 {
		t.Errorf("memory reads: %d, want 2 (owner and reader)", got[key{engram.AuditMemoryRead, engram.OutcomeSuccess}])
	}
	for _, e := range trail {
		switch e.Action {
		case engram.AuditMemoryCreate:
			if e.Outcome == engram.OutcomeSuccess && e.TargetID != id {
				t.Errorf("create entry names %q, want %s", e.TargetID, id)
			}
		case engram.AuditUserForget:
			if !strings.HasPrefix(e.TargetID, "ps_") || e.TargetType != engram.TargetUser {
				t.Errorf("user.forget target %s:%s, want a pseudonym", e.TargetType, e.TargetID)
			}
		case engram.AuditAuthFailure:
			if e.Reason != "wrong_secret" || e.KeyID != ro.ID || e.Actor != "" || e.Count != 1 {
				t.Errorf("auth failure entry %+v", e)
			}
		case engram.AuditRead:
			if e.KeyID != ro.ID || e.Reason != engram.CodeForbidden {
				t.Errorf("denied audit read %+v", e)
			}
		}
	}

	// Filters: the pseudonymised user finds the forget entry; outcome,
	// action and actor narrow; reading is itself recorded.
	if es := allAudit(t, owner, engram.AuditQuery{TargetType: engram.TargetUser, TargetID: user}); len(es) != 1 || es[0].Action != engram.AuditUserForget {
		t.Errorf("by user: %+v", es)
	}
	if es := allAudit(t, owner, engram.AuditQuery{Outcome: engram.OutcomeDenied}); len(es) != 2 {
		t.Errorf("denied: %d entries, want 2", len(es))
	}
	var readerActor string
	for _, e := range trail {
		if e.KeyID == ro.ID && e.Actor != "" {
			readerActor = e.Actor
		}
	}
	for _, e := range allAudit(t, owner, engram.AuditQuery{Actor: readerActor}) {
		if e.Actor != readerActor {
			t.Errorf("actor filter let through %+v", e)
		}
	}
	reads := allAudit(t, owner, engram.AuditQuery{Action: engram.AuditRead, Outcome: engram.OutcomeSuccess})
	if len(reads) < 5 {
		t.Errorf("successful audit reads recorded: %d", len(reads))
	}
	first, last := trail[len(trail)-1].Time, trail[0].Time
	after := last.Add(time.Microsecond)
	if es := allAudit(t, owner, engram.AuditQuery{Since: &after}); len(es) != 0 {
		t.Errorf("since after the last entry: %d entries", len(es))
	}
	if es := allAudit(t, owner, engram.AuditQuery{Until: &first}); len(es) != 0 {
		t.Errorf("until the first entry: %d entries", len(es))
	}
	if es := allAudit(t, owner, engram.AuditQuery{Since: &first, Until: &after, Action: engram.AuditMemoryCreate}); len(es) != 2 {
		t.Errorf("creates in the session's time range: %d, want 2 (one denied)", len(es))
	}
	if _, err := owner.Audit(ctx, engram.AuditQuery{Limit: 101}); client.Code(err) != engram.CodeInvalid {
		t.Errorf("limit 101: %v", err)
	}
	if _, err := owner.Audit(ctx, engram.AuditQuery{Cursor: "nonsense!"}); client.Code(err) != engram.CodeInvalid {
		t.Errorf("bad cursor: %v", err)
	}

	// Tenant beta sees only its own trail.
	betaTrail := allAudit(t, beta, engram.AuditQuery{})
	for _, e := range betaTrail {
		// beta's own failed read of alpha's id is beta's to see; nothing
		// alpha did is.
		if e.TenantID != betaTrail[0].TenantID || e.TenantID == trail[0].TenantID || (e.TargetID == id && e.Outcome == engram.OutcomeSuccess) {
			t.Errorf("beta sees %+v", e)
		}
	}
	if len(betaTrail) == 0 || betaTrail[len(betaTrail)-1].Action != engram.AuditMemoryRead || betaTrail[len(betaTrail)-1].Outcome != engram.OutcomeFailure {
		t.Errorf("beta's trail should start with its failed read: %+v", betaTrail)
	}

	// Nothing sensitive in the API's answers or in the audit rows.
	api, _ := json.Marshal(append(trail, betaTrail...))
	var rows bytes.Buffer
	r, err := rawDB(t, s).Query(`SELECT * FROM audit_entries`)
	must(err)
	cols, _ := r.Columns()
	for r.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		must(r.Scan(ptrs...))
		for _, v := range vals {
			switch v := v.(type) {
			case string:
				rows.WriteString(v)
			case []byte:
				rows.Write(v)
			}
			rows.WriteByte('|')
		}
	}
	must(r.Err())
	r.Close()
	for _, secret := range []string{"zebra-quokka", query, user, meta, ro.Secret, wrong} {
		if bytes.Contains(api, []byte(secret)) {
			t.Errorf("the API's trail holds %q", secret)
		}
		if bytes.Contains(rows.Bytes(), []byte(secret)) {
			t.Errorf("an audit row holds %q", secret)
		}
	}
	// The whole data directory: content and queries never reach disk.
	for _, f := range []string{s.DBPath, s.DBPath + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, secret := range []string{"zebra-quokka", query, meta} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %q", f, secret)
			}
		}
	}

	reports, err := s.Engine.VerifyAudit(ctx, "", true)
	must(err)
	if len(reports) != 3 { // system, alpha, beta
		t.Errorf("%d chains, want 3", len(reports))
	}
	for _, r := range reports {
		if r.Problem != nil {
			t.Errorf("chain %q: %v", r.TenantID, r.Problem)
		}
	}
}

// TestAuditUnauthenticated: without a key the trail answers 401, and an
// unknown key id is recorded in the system chain.
func TestAuditUnauthenticated(t *testing.T) {
	s := testserver.Start(t)
	resp, err := http.Get(s.URL + "/v1/audit")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
	nt, err := s.Engine.CreateTenant(context.Background(), "gamma")
	if err != nil {
		t.Fatal(err)
	}
	// A well-formed key whose id names no key.
	tok, err := apikey.Parse(nt.Key.Secret)
	if err != nil {
		t.Fatal(err)
	}
	tok.ID = flip(tok.ID)
	fake := tok.String()
	if _, err := s.Client(fake).Audit(context.Background(), engram.AuditQuery{}); client.Code(err) != engram.CodeUnauthenticated {
		t.Fatalf("unknown key: %v", err)
	}
	if err := s.Engine.FlushAuthFailures(context.Background()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rawDB(t, s).QueryRow(`SELECT count(*) FROM audit_entries WHERE tenant_id = '' AND action = 'auth.failure' AND count = 1`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("system chain auth failures: %d, want 1", n)
	}
}
