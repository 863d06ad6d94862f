package main_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/engram-memory/engram/internal/browsertest"
)

// TestConsoleImport: the owner picks a mem0 document on the Data page, runs
// a dry run (the per-kind report says one memory would be created, and
// committed 0: nothing written, the memory is not found), then imports it for
// real and finds the memory on the Memories page. A reader sees no import
// form.
func TestConsoleImport(t *testing.T) {
	s, _ := consoleServer(t)
	doc := filepath.Join(t.TempDir(), "mem0.json")
	if err := os.WriteFile(doc, []byte(`{"results":[{"id":"6f1c2a9e-3b7d-4c1e-9a2f-0d8e5b4c3a21","memory":"The heron fishes below the old mill","user_id":"ivy","created_at":"2026-11-01T10:00:00Z"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	b := browsertest.Start(t)
	p := b.NewPage(t)
	allowSignedOut(p, s)
	p.Navigate(s.url + "/console/")
	signInOwner(p)

	p.Click("#nav-data")
	p.WaitVisible("#import-file")
	if err := chromedp.Do(p.Context(), chromedp.SetUploadFiles("#import-file", []string{doc}),
		chromedp.SetValue("#import-format", "mem0")); err != nil {
		t.Fatalf("choosing the file and its format: %v", err)
	}
	p.Click("#import-dry-run")
	p.WaitText("#import-status", "Dry run: 1 records read, committed 0")
	if got := p.Text(`#import-kinds tr[data-kind="memory"] td`); got != "1" {
		t.Errorf("dry run: created %q memories, want 1", got)
	}
	p.Screenshot("data-import-dry-run")

	p.Click("#nav-memories")
	p.Type("#memory-user", "ivy")
	p.Type("#memory-query", "heron")
	p.Click("#memory-search")
	p.WaitText("#notice", "0 results.")

	p.Click("#nav-data")
	p.Click("#import-commit")
	p.WaitText("#import-status", "Import: 1 records read, committed 1")
	p.Screenshot("data-imported")

	p.Click("#nav-memories")
	p.Click("#memory-search")
	p.WaitText("#notice", "1 result.")
	p.WaitText("#memory-results", "The heron fishes below the old mill")
	p.Screenshot("data-import-memories")

	// A reader has no tenant:admin: no import form (the server refuses the
	// import anyway).
	p.Click("#signout")
	p.WaitVisible("#login-email")
	p.Type("#login-email", consoleReaderEmail)
	p.Type("#login-password", consoleReaderPass)
	p.Click("#login-submit")
	p.WaitText("#whoami", consoleReaderEmail)
	p.Click("#nav-data")
	p.WaitVisible("#export-download")
	if !browsertest.Eval[bool](p, `document.getElementById('import-form').hidden`) {
		t.Error("a reader sees the import form")
	}
}
