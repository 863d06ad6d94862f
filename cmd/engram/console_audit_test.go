package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/browsertest"
)

// TestConsoleAuditHoldsAndBundle: the owner places a legal hold from the
// Audit page, sees it listed, releases it; pages back through older entries;
// waits for a sealed segment (serve seals every second here) and downloads its
// proof bundle (a fetch saved as a Blob), which parses as an
// engram.audit.bundle/v1.
func TestConsoleAuditHoldsAndBundle(t *testing.T) {
	s, _ := consoleServer(t, "--audit-seal-age", "1s", "--audit-seal-interval", "200ms")
	b := browsertest.Start(t)
	p := b.NewPage(t)
	allowSignedOut(p, s)
	dir := allowDownloads(t, p)
	p.Navigate(s.url + "/console/")
	signInOwner(p)

	p.Click("#nav-audit")
	p.WaitText("#hold-list", "No legal hold")
	p.Type("#hold-reason", "litigation")
	p.Type("#hold-user", "bob")
	p.Click("#hold-place")
	p.WaitText("#hold-list", "litigation")
	p.WaitText("#hold-list", "end user")
	p.Screenshot("audit-hold-placed")
	p.ClickXPath(`//*[@id="hold-list"]/li[@data-reason="litigation"]//button[contains(@class, "release")]`)
	p.WaitText("#hold-list", "No legal hold")

	// Every audit read is itself recorded (after the page is read): filter
	// again until the trail holds more than one page of 20.
	for i := 0; p.Count("#audit-more[hidden]") == 1; i++ {
		if i == 30 {
			t.Fatalf("no next page after %d reads: %d entries shown", i, p.Count("#audit-list li"))
		}
		p.Click("#audit-filter-submit")
		p.WaitTrue("the filtered page shown", `document.querySelector('#audit-list').getAttribute('aria-busy') === 'false'`)
	}
	if n := p.Count("#audit-list li"); n != 20 {
		t.Fatalf("the first page shows %d entries, want 20", n)
	}
	p.Click("#audit-more")
	p.WaitTrue("the older page read", `document.querySelector('#audit-list').getAttribute('aria-busy') === 'false'`)
	p.WaitTrue("the older entries appended", `document.querySelectorAll('#audit-list li').length > 20`)
	p.WaitTrue("the older page continues the newer one", `(() => {
  const seqs = [...document.querySelectorAll('#audit-list li')].map((li) => Number(li.dataset.seq));
  return seqs.every((v, i) => i === 0 || v < seqs[i - 1]);
})()`)

	// A sealed segment appears once the sealer ran.
	for deadline := time.Now().Add(browsertest.ActionTimeout); p.Count("#segment-list li[data-first] button.bundle") == 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no sealed segment listed: %q", p.Text("#segment-list"))
		}
		p.Click("#segments-refresh")
	}
	p.Click("#segment-list li[data-first] button.bundle")
	status := p.WaitText("#bundle-status", "Downloaded")
	p.Screenshot("audit-bundle")
	name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(status), "Downloaded "), " (")
	path := filepath.Join(dir, name)
	var data []byte
	for deadline := time.Now().Add(browsertest.ActionTimeout); ; time.Sleep(100 * time.Millisecond) {
		d, err := os.ReadFile(path)
		if err == nil && json.Valid(d) {
			data = d
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no complete download %s (err %v); the directory holds %v", path, err, entries)
		}
	}
	var bundle struct {
		Format     string   `json:"format"`
		Entries    [][]byte `json:"entries"`
		Checkpoint string   `json:"checkpoint"`
	}
	if err := json.Unmarshal(data, &bundle); err != nil {
		t.Fatalf("the bundle does not parse: %v", err)
	}
	if bundle.Format != "engram.audit.bundle/v1" || len(bundle.Entries) == 0 || bundle.Checkpoint == "" {
		t.Errorf("bundle: format %q, %d entries, checkpoint %q", bundle.Format, len(bundle.Entries), bundle.Checkpoint)
	}
	p.Click("#signout")
	p.WaitVisible("#login-email")
	p.Check()
}
