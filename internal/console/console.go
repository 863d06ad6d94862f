// Package console serves the web console: hand-written HTML, CSS and
// JavaScript modules embedded in the binary (no build step), mounted by
// `engram serve` at /console/. The page talks to the REST API with the
// browser's session cookies (docs/IDENTITY.md); it holds no token and
// stores nothing in localStorage. Every response carries a strict
// Content-Security-Policy, so the assets must never use inline script,
// inline style or event-handler attributes (console_test.go checks).
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/engram-memory/engram/internal/session"
)

// Prefix is where the console is mounted.
const Prefix = "/console/"

// CSP is the Content-Security-Policy of every console response.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"

// LinkPaths are the paths of the one-time links the server mails
// (invitation, password reset, address verification; the token rides in
// the fragment): the handler answers them with the console page, which
// completes them. Mount the handler on each.
var LinkPaths = map[string]bool{"/accept": true, "/reset": true, "/verify": true}

//go:embed assets
var embedded embed.FS

// Assets returns the console's files (index.html, *.css, *.js, …).
func Assets() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // the directory is embedded: cannot happen
	}
	return sub
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

type asset struct {
	body  []byte
	ctype string
	etag  string
}

// Handler serves the console under Prefix. It answers GET and HEAD only;
// unknown paths are 404; Prefix+"session" says which session cookies the
// browser sent (present or not, nothing more). Assets are revalidated on every use
// (Cache-Control: no-cache with a content-hash ETag), so an upgraded
// binary never leaves a browser running stale scripts.
func Handler() http.Handler {
	files := map[string]asset{}
	err := fs.WalkDir(Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil // not served
		}
		b, err := fs.ReadFile(Assets(), p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		files[p] = asset{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		panic(err) // embedded files are always readable
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			h.Set("Cache-Control", "no-store")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(Prefix, "/"))
		name = strings.TrimPrefix(name, "/")
		if name == "session" {
			sessionState(w, r)
			return
		}
		if name == "" || LinkPaths[r.URL.Path] {
			name = "index.html"
		}
		a, ok := files[name]
		if !ok {
			h.Set("Cache-Control", "no-store")
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
	})
}

// sessionState answers GET /console/session: whether the browser holds
// the session cookies (their presence only, never their values, and
// without checking them). The page asks before calling the API, so a
// visitor who is signed out causes no refused requests.
func sessionState(w http.ResponseWriter, r *http.Request) {
	has := func(name string) bool {
		c, err := r.Cookie(name)
		return err == nil && c.Value != ""
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]bool{"access": has(session.AccessCookie), "refresh": has(session.RefreshCookie)})
}
