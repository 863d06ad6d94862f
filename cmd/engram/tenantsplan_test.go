package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/client"
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

// TestRetentionSweepInServe: serve runs the retention sweep on its
// maintenance beat: after a tenant moves to free, a memory that happened
// 61 days ago is deleted at the next start and the metric counts it,
// while one of 59 days stays.
func TestRetentionSweepInServe(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	raw, err := os.ReadFile(filepath.Join(data, "admin.key"))
	if err != nil {
		t.Fatal(err)
	}
	c := client.New(s.url, strings.TrimSpace(string(raw)))
	ctx := context.Background()
	add := func(days int) string {
		at := time.Now().AddDate(0, 0, -days)
		res, err := c.Add(ctx, client.AddRequest{Content: fmt.Sprintf("note from %d days ago", days), Timestamp: &at})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].ID
	}
	old, young := add(61), add(59)
	s.stop(t)

	mustEngram(t, nil, "tenants", "plan", "default", "free", "--data", data)
	s = startServer(t, data)
	defer s.stop(t)
	c = client.New(s.url, strings.TrimSpace(string(raw)))
	metric := regexp.MustCompile(`(?m)^engram_retention_swept_total ([0-9.e+]+)$`)
	waitFor(t, "the retention sweep at start", func() bool {
		m := metric.FindStringSubmatch(scrape(t, s.url+"/metrics"))
		return m != nil && m[1] == "1"
	})
	if _, err := c.Get(ctx, old); client.Code(err) != "not_found" {
		t.Fatalf("61-day-old memory under free: %v", err)
	}
	if _, err := c.Get(ctx, young); err != nil {
		t.Fatalf("59-day-old memory under free: %v", err)
	}
}
