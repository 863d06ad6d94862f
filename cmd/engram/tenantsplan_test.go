package main_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/retention"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestTenantsPlanCLI: the real binary sets a tenant's retention plan
// offline (stored, and read back by an engine over the same data); bad
// plans and day counts fail with a clear message and change nothing.
func TestTenantsPlanCLI(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	mustEngram(t, nil, "tenants", "create", "acme", "--data", data)

	var out struct {
		Tenant string `json:"tenant"`
		Plan   string `json:"plan"`
		Days   *int   `json:"retention_days"`
	}
	if err := json.Unmarshal([]byte(mustEngram(t, nil, "tenants", "plan", "acme", "enterprise", "--retention-days", "400", "--data", data)), &out); err != nil {
		t.Fatal(err)
	}
	if out.Tenant != "acme" || out.Plan != "enterprise" || out.Days == nil || *out.Days != 400 {
		t.Fatalf("output: %+v", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"gold"}, `must be one of "free","pro","enterprise"`},
		{[]string{"enterprise"}, "needs --retention-days"},
		{[]string{"enterprise", "--retention-days", "0"}, "must be 1 to 36500"},
		{[]string{"enterprise", "--retention-days", "36501"}, "must be 1 to 36500"},
		{[]string{"pro", "--retention-days", "30"}, "enterprise only"},
		{[]string{"free", "--retention-days", "30"}, "keeps 60 days"},
	} {
		args := append([]string{"tenants", "plan", "acme"}, c.args...)
		_, errOut, err := engram(t, nil, append(args, "--data", data)...)
		if err == nil || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: err %v, stderr %q (want %q)", c.args, err, errOut, c.want)
		}
	}
	if _, errOut, err := engram(t, nil, "tenants", "plan", "nobody", "free", "--data", data); err == nil || !strings.Contains(errOut, "not found") {
		t.Errorf("unknown tenant: %v %q", err, errOut)
	}

	e := testserver.OpenEngine(t, data, time.Now)
	p, err := e.RetentionPlan(context.Background(), "acme")
	if err != nil || p != (retention.Plan{Name: retention.Enterprise, Days: 400}) {
		t.Fatalf("stored plan after the refused changes: %+v %v", p, err)
	}
}
