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

// TestConsoleData: the owner adds a memory, then downloads the organisation's
// signed export from the Data page (a fetch saved as a Blob: no inline code,
// no CSP violation); the downloaded file parses as JSON and holds the memory.
// The owner schedules an end user's erasure, sees it pending with its date,
// and cancels it.
func TestConsoleData(t *testing.T) {
	s, _ := consoleServer(t)
	b := browsertest.Start(t)
	p := b.NewPage(t)
	allowSignedOut(p, s)
	dir := allowDownloads(t, p)
	p.Navigate(s.url + "/console/")
	signInOwner(p)
	p.Click("#nav-memories")
	p.Type("#memory-user", "alice")
	p.Type("#memory-content", "The kingfisher perches on the willow by the weir")
	p.Click("#memory-add")
	p.WaitText("#memory-results", "kingfisher")

	p.Click("#nav-data")
	p.WaitText("#export-key", "Signing key")
	p.Click("#export-download")
	status := p.WaitText("#export-status", "Downloaded")
	p.Screenshot("data-exported")
	name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(status), "Downloaded "), " (")
	path := filepath.Join(dir, name)
	// The browser writes the file after the page has handed it over.
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
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("the export does not parse: %v", err)
	}
	if !strings.Contains(string(data), "kingfisher") {
		t.Error("the export lacks the memory")
	}

	// An end user's erasure, scheduled then cancelled.
	p.Type("#deletion-user", "bob")
	p.Click("#deletion-schedule")
	p.WaitText("#deletion-list", "end user bob")
	p.Screenshot("data-deletion-pending")
	p.ClickXPath(`//*[@id="deletion-list"]/li[@data-subject="bob"]//button[contains(@class, "cancel")]`)
	p.WaitTrue("the deletion is cancelled", `!document.querySelector('#deletion-list li[data-subject="bob"]')`)
	p.Screenshot("data")
}
