package console_test

import (
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/console"
)

const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

func serve(t *testing.T, method, target string, hdr ...string) *http.Response {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, console.Handler())
	for p := range console.LinkPaths {
		mux.Handle(p, console.Handler())
	}
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, r)
	return w.Result()
}

func assetNames(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(console.Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		t.Fatal("no assets embedded")
	}
	return names
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	if console.CSP != wantCSP {
		t.Fatalf("CSP = %q", console.CSP)
	}
	type req struct{ method, path string }
	reqs := []req{{"GET", "/console/"}, {"HEAD", "/console/"}, {"GET", "/console/nope.js"},
		{"POST", "/console/"}, {"GET", "/accept"}, {"GET", "/reset"}, {"GET", "/verify"}, {"DELETE", "/console/app.js"}}
	for _, n := range assetNames(t) {
		reqs = append(reqs, req{"GET", console.Prefix + n})
	}
	for _, q := range reqs {
		res := serve(t, q.method, q.path)
		want := map[string]string{
			"Content-Security-Policy": wantCSP,
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "no-referrer",
			"X-Frame-Options":         "DENY",
		}
		if res.StatusCode == http.StatusMovedPermanently {
			continue // the mux's path cleaning, before the handler
		}
		for k, v := range want {
			if got := res.Header.Get(k); got != v {
				t.Errorf("%s %s: %s = %q, want %q", q.method, q.path, k, got, v)
			}
		}
		if res.Header.Get("Cache-Control") == "" {
			t.Errorf("%s %s: no Cache-Control", q.method, q.path)
		}
	}
}

func TestStatusAndContentTypes(t *testing.T) {
	cases := []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/console/", 200, "text/html; charset=utf-8"},
		{"GET", "/console/index.html", 200, "text/html; charset=utf-8"},
		{"GET", "/console/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/console/api.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/console/console.css", 200, "text/css; charset=utf-8"},
		{"HEAD", "/console/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/accept", 200, "text/html; charset=utf-8"},
		{"GET", "/reset", 200, "text/html; charset=utf-8"},
		{"GET", "/verify", 200, "text/html; charset=utf-8"},
		{"GET", "/console/missing.js", 404, ""},
		{"POST", "/console/", 405, ""},
		{"PUT", "/console/app.js", 405, ""},
	}
	for _, c := range cases {
		res := serve(t, c.method, c.path)
		if res.StatusCode != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, res.StatusCode, c.status)
			continue
		}
		if c.ctype != "" && res.Header.Get("Content-Type") != c.ctype {
			t.Errorf("%s %s: Content-Type %q, want %q", c.method, c.path, res.Header.Get("Content-Type"), c.ctype)
		}
		if c.status == 200 && res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s %s: Cache-Control %q, want no-cache", c.method, c.path, res.Header.Get("Cache-Control"))
		}
	}
}

func TestETagRevalidation(t *testing.T) {
	res := serve(t, "GET", "/console/app.js")
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := serve(t, "GET", "/console/app.js", "If-None-Match", etag)
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: status %d, want 304", again.StatusCode)
	}
	if again.Header.Get("Content-Security-Policy") != wantCSP {
		t.Fatal("304 without CSP")
	}
}

// TestSessionState: /console/session tells only whether the cookies are
// there, never their values, and is not cached.
func TestSessionState(t *testing.T) {
	for _, c := range []struct {
		cookie, want string
	}{
		{"", `{"access":false,"refresh":false}`},
		{"__Host-engram_rt=r-secret", `{"access":false,"refresh":true}`},
		{"__Host-engram_at=a-secret; __Host-engram_rt=r-secret", `{"access":true,"refresh":true}`},
	} {
		res := serve(t, "GET", "/console/session", "Cookie", c.cookie)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || strings.TrimSpace(string(b)) != c.want {
			t.Errorf("cookies %q: %d %s, want %s", c.cookie, res.StatusCode, b, c.want)
		}
		if strings.Contains(string(b), "secret") || res.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("cookies %q: leaks or caches: %s %q", c.cookie, b, res.Header.Get("Cache-Control"))
		}
		if res.Header.Get("Content-Security-Policy") != wantCSP {
			t.Errorf("session: no CSP")
		}
	}
}

func TestIndexServedFromRoot(t *testing.T) {
	res := serve(t, "GET", "/console/")
	b, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(b), `<script type="module" src="/console/app.js">`) {
		t.Fatalf("index does not load app.js:\n%s", b)
	}
}

// TestNoInlineScriptOrStyle parses every HTML asset and fails on what the
// CSP would block: a <script> without src, a <style> element, a style=
// attribute, an on*= handler, a javascript: URL.
func TestNoInlineScriptOrStyle(t *testing.T) {
	var html int
	for _, n := range assetNames(t) {
		if path.Ext(n) != ".html" {
			continue
		}
		html++
		b, err := fs.ReadFile(console.Assets(), n)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range inlineProblems(t, string(b)) {
			t.Errorf("%s: %s", n, p)
		}
	}
	if html == 0 {
		t.Fatal("no HTML asset")
	}
}

// TestScriptsKeepNoSecrets fails on a script that could hold or leak a
// token, or run strings as code: the session lives in HttpOnly cookies.
func TestScriptsKeepNoSecrets(t *testing.T) {
	banned := []string{"localStorage", "sessionStorage", "document.cookie", "innerHTML", "outerHTML",
		"insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", ".style.",
		"access_token", "refresh_token", "Authorization"}
	var js int
	for _, n := range assetNames(t) {
		if path.Ext(n) != ".js" {
			continue
		}
		js++
		b, err := fs.ReadFile(console.Assets(), n)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range banned {
			if strings.Contains(string(b), w) {
				t.Errorf("%s uses %q", n, w)
			}
		}
	}
	if js == 0 {
		t.Fatal("no script asset")
	}
}

// TestEveryInputLabelled: every input, textarea and select of the page has
// a <label for=…> naming it (hidden inputs excepted).
func TestEveryInputLabelled(t *testing.T) {
	b, err := fs.ReadFile(console.Assets(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(strings.NewReader(string(b)))
	d.Strict, d.AutoClose, d.Entity = false, xml.HTMLAutoClose, xml.HTMLEntity
	labels, inputs := map[string]bool{}, map[string]bool{}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		x, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		attr := map[string]string{}
		for _, a := range x.Attr {
			attr[strings.ToLower(a.Name.Local)] = a.Value
		}
		switch strings.ToLower(x.Name.Local) {
		case "label":
			labels[attr["for"]] = true
		case "input", "textarea", "select":
			if attr["type"] == "hidden" {
				continue
			}
			if attr["id"] == "" {
				t.Errorf("a <%s> without an id cannot be labelled", x.Name.Local)
			}
			inputs[attr["id"]] = true
		}
	}
	for id := range inputs {
		if !labels[id] {
			t.Errorf("#%s has no <label for>", id)
		}
	}
	if len(inputs) < 10 {
		t.Fatalf("only %d inputs found: the parse went wrong", len(inputs))
	}
}

// The checker itself: it must catch every kind of inline code.
func TestInlineCheckerCatches(t *testing.T) {
	bad := []string{
		`<html><body><script>alert(1)</script></body></html>`,
		`<html><body><script type="module">import "./x.js"</script></body></html>`,
		`<html><body><p style="color:red">x</p></body></html>`,
		`<html><body><button onclick="go()">x</button></body></html>`,
		`<html><body><img src="x" ONERROR="go()"/></body></html>`,
		`<html><head><style>p{color:red}</style></head></html>`,
		`<html><body><a href="javascript:go()">x</a></body></html>`,
	}
	for _, doc := range bad {
		if len(inlineProblems(t, doc)) == 0 {
			t.Errorf("not caught: %s", doc)
		}
	}
	good := `<html><head><script type="module" src="/console/app.js"></script><link rel="stylesheet" href="/console/console.css"/></head><body><p hidden="hidden">ok</p></body></html>`
	if p := inlineProblems(t, good); len(p) != 0 {
		t.Errorf("clean page flagged: %v", p)
	}
}

func inlineProblems(t *testing.T, doc string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var problems []string
	var inScript bool
	var scriptHasSrc bool
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse HTML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(x.Name.Local)
			if name == "style" {
				problems = append(problems, "<style> element")
			}
			if name == "script" {
				inScript, scriptHasSrc = true, false
			}
			for _, a := range x.Attr {
				an := strings.ToLower(a.Name.Local)
				switch {
				case an == "style":
					problems = append(problems, "style= attribute on <"+name+">")
				case strings.HasPrefix(an, "on"):
					problems = append(problems, an+"= handler on <"+name+">")
				case (an == "href" || an == "src" || an == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Value)), "javascript:"):
					problems = append(problems, "javascript: URL on <"+name+">")
				case name == "script" && an == "src" && a.Value != "":
					scriptHasSrc = true
				}
			}
		case xml.CharData:
			if inScript && strings.TrimSpace(string(x)) != "" {
				problems = append(problems, "inline script body")
			}
		case xml.EndElement:
			if strings.ToLower(x.Name.Local) == "script" {
				if !scriptHasSrc {
					problems = append(problems, "<script> without src")
				}
				inScript = false
			}
		}
	}
	return problems
}
