// Package browsertest drives a headless Chromium (Debian's binary) from Go
// tests through chromedp, for the tests of the web console.
//
// A test starts a browser with Start, opens a tab with NewPage, and drives it
// with the helpers of Page (Navigate, Click, Type, WaitText, Text,
// Screenshot). Every page collects the Content-Security-Policy violations of
// its documents and the errors written to its console; when the test ends,
// each one fails the test. Screenshot writes a full-page PNG under
// $ENGRAM_TEST_ARTIFACTS (by default a directory under os.TempDir(), named in
// the test log).
//
// The browser binary is $ENGRAM_TEST_CHROMIUM, else "chromium" on PATH
// (scripts/test installs Debian's package and sets the variable). Without it
// a test skips, except when CI=true, where it fails: a CI run must not pass
// by skipping the browser tests.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// ActionTimeout bounds one helper action (a navigation, a wait for an
// element or a text). It is a deadline against a hung test, not a timing
// assertion: on a loaded machine the actions take far less.
var ActionTimeout = 60 * time.Second

// bindingName is the page binding that the injected script calls with each
// securitypolicyviolation event, as JSON.
const bindingName = "__engramCSPViolation"

// cspScript runs in every document before the page's own scripts (through
// Page.addScriptToEvaluateOnNewDocument, which the page's CSP does not
// govern) and reports every securitypolicyviolation event to the binding.
const cspScript = `(() => {
  const report = window.` + bindingName + `;
  if (typeof report !== "function") return;
  document.addEventListener("securitypolicyviolation", (e) => {
    try {
      report(JSON.stringify({
        directive: e.effectiveDirective || e.violatedDirective,
        blocked: e.blockedURI, source: e.sourceFile, line: e.lineNumber,
        sample: e.sample, document: e.documentURI,
      }));
    } catch (_) {}
  }, true);
})();`

// ChromiumPath returns the browser binary to use, or "" when there is none.
func ChromiumPath() string {
	if p := os.Getenv("ENGRAM_TEST_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// RequireChromium returns the browser binary, or ends the test: it fails when
// CI=true (so that CI never passes by skipping) and skips otherwise.
func RequireChromium(t testing.TB) string {
	t.Helper()
	p := ChromiumPath()
	if p == "" {
		msg := "no Chromium: set ENGRAM_TEST_CHROMIUM or install Debian's chromium (scripts/test does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// Browser is one headless Chromium process.
type Browser struct {
	ctx context.Context // the browser's chromedp context
}

// Start starts a headless Chromium for the test and stops it when the test
// ends.
func Start(t testing.TB) *Browser {
	t.Helper()
	path := RequireChromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		// Containers give /dev/shm 64 MB, too little for Chromium's
		// shared memory; use /tmp instead.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to start as root with its sandbox (it needs
		// an unprivileged user for its namespaces), and tests in
		// containers and CI often run as root. The pages are the
		// test's own, served from the loopback, so running them
		// without the sandbox is acceptable here; as any other user
		// the sandbox stays on.
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium %s: %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return &Browser{ctx: ctx}
}

// Page is one tab of the browser, with its collectors.
type Page struct {
	t   testing.TB
	ctx context.Context

	mu          sync.Mutex
	violations  []string
	consoleErrs []string
	allowed     []string
	dialogs     []string
}

// NewPage opens a new tab for the test. When the test ends, the page fails it
// for every CSP violation and every console error it collected (see
// AllowConsoleError), and closes the tab.
func (b *Browser) NewPage(t testing.TB) *Page {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, p.onEvent); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	actx, acancel := context.WithTimeout(ctx, ActionTimeout)
	defer acancel()
	if _, err := chromedp.Call(actx, runtime.AddBinding, runtime.AddBindingParams{Name: bindingName}); err != nil {
		cancel()
		t.Fatalf("adding the CSP binding: %v", err)
	}
	if _, err := chromedp.Call(actx, page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: cspScript}); err != nil {
		cancel()
		t.Fatalf("injecting the CSP collector: %v", err)
	}
	t.Cleanup(func() {
		p.Check()
		cancel()
	})
	return p
}

// onEvent runs on chromedp's reading goroutine: it must only record.
func (p *Page) onEvent(ev any) {
	switch e := ev.(type) {
	case *runtime.EventBindingCalled:
		if e.Name == bindingName {
			p.record(&p.violations, "CSP violation: "+e.Payload)
		}
	case *runtime.EventExceptionThrown:
		msg := "uncaught exception"
		if d := e.ExceptionDetails; d != nil {
			msg = d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			msg += fmt.Sprintf(" (%s:%d)", d.URL, d.LineNumber)
		}
		p.record(&p.consoleErrs, "console exception: "+msg)
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
			var parts []string
			for _, a := range e.Args {
				switch {
				case a.Description != "":
					parts = append(parts, a.Description)
				case len(a.Value) > 0:
					parts = append(parts, string(a.Value))
				}
			}
			p.record(&p.consoleErrs, "console."+string(e.Type)+": "+strings.Join(parts, " "))
		}
	case *page.EventJavascriptDialogOpening:
		// A confirm() before a destructive action (revoking a key,
		// deleting a memory) would block the tab: accept it, as a user
		// who clicked on purpose would, and record its message.
		p.record(&p.dialogs, string(e.Type)+": "+e.Message)
		go func() {
			ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
			defer cancel()
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}()
	case *log.EventEntryAdded:
		if e.Entry == nil {
			return
		}
		// Chromium logs each CSP refusal as a "security" entry as
		// well; count it as a violation even if the page-level
		// listener missed it.
		if e.Entry.Source == log.EntrySourceSecurity && strings.Contains(e.Entry.Text, "Content Security Policy") {
			p.record(&p.violations, "CSP violation (log): "+e.Entry.Text)
			return
		}
		// The browser asks for /favicon.ico by itself when a page
		// declares no icon; its 404 is not the page's error.
		if e.Entry.Source == log.EntrySourceNetwork && strings.HasSuffix(e.Entry.URL, "/favicon.ico") {
			return
		}
		if e.Entry.Level == log.EntryLevelError {
			p.record(&p.consoleErrs, "console error ("+string(e.Entry.Source)+"): "+e.Entry.Text+" "+e.Entry.URL)
		}
	}
}

func (p *Page) record(list *[]string, msg string) {
	p.mu.Lock()
	*list = append(*list, msg)
	p.mu.Unlock()
}

// Context is the tab's chromedp context, for actions the helpers lack.
func (p *Page) Context() context.Context { return p.ctx }

// AllowConsoleError makes console errors that contain substr acceptable (for
// example an expected 401 of a request the page makes on purpose). CSP
// violations are never acceptable.
func (p *Page) AllowConsoleError(substr string) {
	p.mu.Lock()
	p.allowed = append(p.allowed, substr)
	p.mu.Unlock()
}

// settle lets the page run the tasks it has queued (the dispatch of
// securitypolicyviolation events is one) and makes sure their reports have
// reached the collectors: events that the browser sends before the reply to
// a command are seen before that command returns.
func (p *Page) settle() {
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	_, _ = chromedp.Run(ctx, chromedp.Evaluate[bool](
		`new Promise((r) => setTimeout(() => requestAnimationFrame(() => setTimeout(() => r(true), 0)), 0))`,
		chromedp.EvalAwaitPromise))
}

// Violations returns the CSP violations collected so far.
func (p *Page) Violations() []string {
	p.settle()
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.violations...)
}

// ConsoleErrors returns the console errors collected so far that are not
// allowed by AllowConsoleError.
func (p *Page) ConsoleErrors() []string {
	p.settle()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, e := range p.consoleErrs {
		ok := false
		for _, a := range p.allowed {
			if strings.Contains(e, a) {
				ok = true
				break
			}
		}
		if !ok {
			out = append(out, e)
		}
	}
	return out
}

// Dialogs returns the JavaScript dialogs (alert, confirm, prompt) the page
// opened, each accepted, as "type: message".
func (p *Page) Dialogs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.dialogs...)
}

// Check fails the test for each CSP violation and each console error
// collected so far. It runs when the test ends; a test may call it earlier.
func (p *Page) Check() {
	p.t.Helper()
	for _, v := range p.Violations() {
		p.t.Errorf("%s", v)
	}
	for _, e := range p.ConsoleErrors() {
		p.t.Errorf("%s", e)
	}
}

func (p *Page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// Navigate loads url in the tab and waits for its load event.
func (p *Page) Navigate(url string) {
	p.t.Helper()
	p.do("navigate to "+url, chromedp.Navigate(url))
}

// Click waits for the element of the CSS selector to be visible and clicks it.
func (p *Page) Click(sel string) {
	p.t.Helper()
	p.do("click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// Type waits for the element of the CSS selector to be visible, clears it,
// and types text into it as key events.
func (p *Page) Type(sel, text string) {
	p.t.Helper()
	selJSON, _ := json.Marshal(sel)
	clear := func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Evaluate[bool](`((e) => { e.value = ""; return true; })(document.querySelector(`+string(selJSON)+`))`)(ctx, t)
		return chromedp.Void{}, err
	}
	p.do("type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), clear, chromedp.SendKeys(chromedp.CSS(sel), text))
}

// ClickXPath waits for the first element of the XPath query to be visible and
// clicks it (for an element found by its text, such as the button in the row
// of a named item).
func (p *Page) ClickXPath(xpath string) {
	p.t.Helper()
	p.do("click "+xpath, chromedp.WaitVisible(chromedp.Search(xpath)), chromedp.Click(chromedp.Search(xpath)))
}

// Eval evaluates a JavaScript expression in the page and returns its value
// decoded into T (a promise is awaited).
func Eval[T any](p *Page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// WaitTrue waits until the JavaScript expression is true in the page; what
// names the condition in the failure.
func (p *Page) WaitTrue(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	poll := `new Promise((resolve) => {
  const check = () => { let ok = false; try { ok = !!(` + expr + `); } catch (_) {} if (ok) resolve(true); else setTimeout(check, 50); };
  check();
})`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](poll, chromedp.EvalAwaitPromise)); err != nil {
		p.t.Fatalf("waiting until %s: %v", what, err)
	}
}

// Keys sends key events to whatever has the focus, as a keyboard would: text,
// and the keys of chromedp/kb such as kb.Tab and kb.Enter.
func (p *Page) Keys(keys string) {
	p.t.Helper()
	p.do("press keys", chromedp.KeyEvent(keys))
}

// Focused returns the id of the element that has the focus ("" for none or
// one without an id).
func (p *Page) Focused() string {
	p.t.Helper()
	return Eval[string](p, `(document.activeElement && document.activeElement.id) || ""`)
}

// TabTo presses Tab until the element with the id has the focus, at most max
// times, and fails the test if it never gets it: the element is reachable by
// keyboard.
func (p *Page) TabTo(id string, max int) {
	p.t.Helper()
	for i := 0; i < max; i++ {
		if p.Focused() == id {
			return
		}
		p.Keys(kb.Tab)
	}
	if p.Focused() != id {
		p.t.Fatalf("#%s not reached in %d presses of Tab (focus on %q)", id, max, p.Focused())
	}
}

// Viewport sets the size of the tab's viewport in CSS pixels, for example a
// phone's 375×812; mobile also emulates a touch screen.
func (p *Page) Viewport(width, height int64, mobile bool) {
	p.t.Helper()
	if mobile {
		p.do("set the viewport", chromedp.EmulateViewport(width, height, chromedp.EmulateMobile, chromedp.EmulateTouch))
		return
	}
	p.do("set the viewport", chromedp.EmulateViewport(width, height))
}

// WaitVisible waits for the element of the CSS selector to be visible.
func (p *Page) WaitVisible(sel string) {
	p.t.Helper()
	p.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Text returns the visible text of the first element of the CSS selector.
func (p *Page) Text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		p.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// WaitText waits until the text of the first element of the CSS selector
// contains substr, and returns that text.
func (p *Page) WaitText(sel, substr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	selJSON, _ := json.Marshal(sel)
	subJSON, _ := json.Marshal(substr)
	// Poll in the page: a MutationObserver would miss nothing either, but
	// a poll needs no cleanup when the element is replaced.
	expr := `new Promise((resolve) => {
  const sel = ` + string(selJSON) + `, sub = ` + string(subJSON) + `;
  const check = () => {
    const el = document.querySelector(sel);
    if (el && el.textContent.includes(sub)) { resolve(el.textContent); return; }
    setTimeout(check, 50);
  };
  check();
})`
	// A navigation while the promise waits (a click that leaves the page,
	// a redirect) destroys the context it runs in: wait again in the new
	// document rather than fail, until the action's deadline.
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	for err != nil && ctx.Err() == nil && navigatedAway(err) {
		time.Sleep(50 * time.Millisecond)
		s, err = chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	}
	if err != nil {
		last := ""
		lctx, lcancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer lcancel()
		if v, lerr := chromedp.Run(lctx, chromedp.Evaluate[string](
			`(document.querySelector(`+string(selJSON)+`) || {textContent: "<absent>"}).textContent`)); lerr == nil {
			last = v
		}
		p.t.Fatalf("waiting for %q in %s: %v (text now %q)", substr, sel, err, last)
	}
	return s
}

// navigatedAway reports whether err is the browser's answer to an
// evaluation whose document went away under it.
func navigatedAway(err error) bool {
	m := err.Error()
	return strings.Contains(m, "navigated or closed") || strings.Contains(m, "context was destroyed") ||
		strings.Contains(m, "Cannot find context")
}

// Count returns the number of elements that match the CSS selector now.
func (p *Page) Count(sel string) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	selJSON, _ := json.Marshal(sel)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+string(selJSON)+`).length`))
	if err != nil {
		p.t.Fatalf("counting %s: %v", sel, err)
	}
	return n
}

// ArtifactsDir returns the directory for screenshots: $ENGRAM_TEST_ARTIFACTS,
// or engram-browsertest under os.TempDir().
func ArtifactsDir() string {
	if d := os.Getenv("ENGRAM_TEST_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "engram-browsertest")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves a full-page PNG of the tab as <test>-<name>.png in
// ArtifactsDir, logs its path, and returns it.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, ActionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := ArtifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(p.t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	p.t.Logf("screenshot %s", path)
	return path
}
