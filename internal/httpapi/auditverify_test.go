package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestAuditVerifyREST: GET /v1/audit/verify reports the caller's chain
// intact, then names the first damaged entry after the store is edited
// behind the server's back (200 with intact false, not an error).
func TestAuditVerifyREST(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	nt, err := s.Engine.CreateTenant(ctx, "alpha")
	if err != nil {
		t.Fatal(err)
	}
	owner := s.Client(nt.Key.Secret)
	for i := 0; i < 3; i++ {
		if _, err := owner.Add(ctx, client.AddRequest{Content: "entry", UserID: "carol"}); err != nil {
			t.Fatal(err)
		}
	}
	verify := func() engram.AuditVerification {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/audit/verify", nil)
		req.Header.Set("Authorization", "Bearer "+nt.Key.Secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("verify: status %d", res.StatusCode)
		}
		var v engram.AuditVerification
		if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	if v := verify(); !v.Intact || v.Entries < 3 || v.Problem != nil {
		t.Fatalf("fresh chain: %+v", v)
	}

	db, err := sql.Open("sqlite", s.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE audit_entries SET outcome = 'failure' WHERE tenant_id = ? AND seq = 2`, nt.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	v := verify()
	if v.Intact || v.Problem == nil || v.Problem.Seq != 2 {
		t.Fatalf("tampered chain: %+v", v)
	}
}
