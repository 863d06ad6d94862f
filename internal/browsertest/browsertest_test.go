package browsertest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp/kb"
)

// strictCSP is the policy the console serves.
const strictCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// site serves a clean page (external script and style), a page with an
// inline script, and a page whose script logs a console error.
func site(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Security-Policy", strictCSP)
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>t</title>`+
				`<link rel="icon" href="data:,"><link rel="stylesheet" href="/app.css"></head><body>`+body+`</body></html>`)
		}
	}
	mux.HandleFunc("/clean", page(`<p id="out">waiting</p><label for="in">In</label><input id="in"><label for="ta">Ta</label><textarea id="ta"></textarea>`+
		`<button id="go" type="button">Go</button>`+
		`<ul id="items"><li>alpha <button class="del" type="button">Delete</button></li>`+
		`<li>beta <button class="del" type="button">Delete</button></li></ul><script type="module" src="/app.js"></script>`))
	mux.HandleFunc("/inline", page(`<p id="out">inline</p><script>document.title = "ran";</script>`))
	mux.HandleFunc("/inline-style", page(`<p id="out" style="color: red">styled</p>`))
	mux.HandleFunc("/connect", page(`<p id="out">connect</p><script type="module" src="/connect.js"></script>`))
	mux.HandleFunc("/connect.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		// A request to another origin, after the load, from a script
		// the page is allowed to run: connect-src refuses it.
		fmt.Fprint(w, `setTimeout(() => {
  fetch("http://localhost:9/elsewhere").catch(() => {}).finally(() => {
    document.getElementById("out").textContent = "fetched";
  });
}, 0);`)
	})
	mux.HandleFunc("/error", page(`<p id="out">error</p><script type="module" src="/error.js"></script>`))
	mux.HandleFunc("/app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `const out = document.getElementById("out");
out.textContent = "ready";
document.getElementById("go").addEventListener("click", () => {
  out.textContent = "typed: " + document.getElementById("in").value;
});
for (const b of document.querySelectorAll("button.del")) {
  b.addEventListener("click", () => {
    if (confirm("Delete it?")) b.parentElement.remove();
  });
}`)
	})
	mux.HandleFunc("/error.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, `console.error("something broke");`)
	})
	mux.HandleFunc("/app.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, `body { font-family: sans-serif; min-height: 1500px; }`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// recorder is a testing.TB whose failures and cleanups the test inspects
// instead of failing itself.
type recorder struct {
	*testing.T
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

// finish runs the recorded cleanups, last first, as testing does.
func (r *recorder) finish() []string {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errors...)
}

func TestCleanPagePassesAndDrives(t *testing.T) {
	srv := site(t)
	b := Start(t)
	rec := &recorder{T: t}
	p := b.NewPage(rec)
	p.Navigate(srv.URL + "/clean")
	p.WaitText("#out", "ready")
	p.Type("#ta", "a textarea")
	p.Type("#in", "first")
	p.Type("#in", "hello")
	p.Click("#go")
	if got := p.WaitText("#out", "typed: hello"); got != "typed: hello" {
		t.Errorf("text = %q", got)
	}
	if n := p.Count("#items li"); n != 2 {
		t.Errorf("Count(#items li) = %d, want 2", n)
	}
	p.ClickXPath(`//ul[@id="items"]/li[contains(., "beta")]//button[contains(@class, "del")]`)
	p.WaitTrue("beta is deleted", `![...document.querySelectorAll("#items li")].some((li) => li.textContent.includes("beta"))`)
	if got := Eval[string](p, `document.querySelector("#items").textContent`); !strings.Contains(got, "alpha") {
		t.Errorf("alpha went too: %q", got)
	}
	if d := p.Dialogs(); len(d) != 1 || d[0] != "confirm: Delete it?" {
		t.Errorf("dialogs = %q", d)
	}
	if errs := rec.finish(); len(errs) != 0 {
		t.Errorf("a clean page failed the test: %q", errs)
	}
}

func TestKeyboardAndViewport(t *testing.T) {
	srv := site(t)
	b := Start(t)
	p := b.NewPage(t)
	p.Navigate(srv.URL + "/clean")
	p.WaitText("#out", "ready")
	p.TabTo("in", 10)
	p.Keys("by keys")
	p.TabTo("go", 10)
	p.Keys(kb.Enter)
	p.WaitText("#out", "typed: by keys")
	p.Viewport(375, 812, true)
	if w := Eval[int](p, `window.innerWidth`); w != 375 {
		t.Errorf("innerWidth = %d, want 375", w)
	}
}

func TestInlineScriptViolationFails(t *testing.T) {
	srv := site(t)
	b := Start(t)
	rec := &recorder{T: t}
	p := b.NewPage(rec)
	p.Navigate(srv.URL + "/inline")
	p.WaitText("#out", "inline")
	errs := rec.finish()
	if len(errs) == 0 {
		t.Fatal("an inline script under the strict CSP did not fail the test")
	}
	// Both channels report it: the page-level securitypolicyviolation
	// listener (JSON with the directive) and Chromium's security log.
	if !hasBoth(errs, "script-src") {
		t.Errorf("no script-src violation from both the listener and the log among %q", errs)
	}
}

func hasBoth(errs []string, directive string) bool {
	listener, logged := false, false
	for _, e := range errs {
		if strings.HasPrefix(e, "CSP violation: ") && strings.Contains(e, `"directive":"`+directive) {
			listener = true
		}
		if strings.HasPrefix(e, "CSP violation (log): ") && strings.Contains(e, directive) {
			logged = true
		}
	}
	return listener && logged
}

func TestRuntimeConnectViolationFails(t *testing.T) {
	srv := site(t)
	b := Start(t)
	rec := &recorder{T: t}
	p := b.NewPage(rec)
	p.Navigate(srv.URL + "/connect")
	p.WaitText("#out", "fetched")
	if errs := rec.finish(); !hasBoth(errs, "connect-src") {
		t.Errorf("a fetch to another origin did not fail the test with a connect-src violation: %q", errs)
	}
}

func TestInlineStyleViolationFails(t *testing.T) {
	srv := site(t)
	b := Start(t)
	rec := &recorder{T: t}
	p := b.NewPage(rec)
	p.Navigate(srv.URL + "/inline-style")
	p.WaitText("#out", "styled")
	if errs := rec.finish(); !hasBoth(errs, "style-src") {
		t.Errorf("a style= attribute under the strict CSP did not fail the test with a style-src violation: %q", errs)
	}
}

func TestConsoleErrorFails(t *testing.T) {
	srv := site(t)
	b := Start(t)
	rec := &recorder{T: t}
	p := b.NewPage(rec)
	p.Navigate(srv.URL + "/error")
	p.WaitText("#out", "error")
	errs := rec.finish()
	found := false
	for _, e := range errs {
		if strings.Contains(e, "something broke") {
			found = true
		}
	}
	if !found {
		t.Errorf("console.error did not fail the test: %q", errs)
	}

	rec2 := &recorder{T: t}
	p2 := b.NewPage(rec2)
	p2.AllowConsoleError("something broke")
	p2.Navigate(srv.URL + "/error")
	p2.WaitText("#out", "error")
	if errs := rec2.finish(); len(errs) != 0 {
		t.Errorf("an allowed console error failed the test: %q", errs)
	}
}

func TestScreenshotWritesPNG(t *testing.T) {
	t.Setenv("ENGRAM_TEST_ARTIFACTS", t.TempDir())
	srv := site(t)
	b := Start(t)
	p := b.NewPage(t)
	p.Navigate(srv.URL + "/clean")
	p.WaitText("#out", "ready")
	path := p.Screenshot("clean page")
	if !strings.HasPrefix(path, os.Getenv("ENGRAM_TEST_ARTIFACTS")) || strings.Contains(path, " ") {
		t.Errorf("screenshot path %q", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot is not a PNG (%d bytes)", len(data))
	}
}

// ender is a testing.TB that records how RequireChromium ends the test.
type ender struct {
	*testing.T
	how string
}

func (e *ender) Fatal(args ...any) { e.how = "fail"; runtime.Goexit() }
func (e *ender) Skip(args ...any)  { e.how = "skip"; runtime.Goexit() }

func TestRequireChromiumFailsInCI(t *testing.T) {
	t.Setenv("ENGRAM_TEST_CHROMIUM", "")
	t.Setenv("PATH", t.TempDir())
	for ci, want := range map[string]string{"true": "fail", "": "skip"} {
		t.Setenv("CI", ci)
		e := &ender{T: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			RequireChromium(e)
			e.how = "ran"
		}()
		<-done
		if e.how != want {
			t.Errorf("CI=%q without Chromium: the test would %s, want %s", ci, e.how, want)
		}
	}
}
