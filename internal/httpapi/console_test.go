package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/engram-memory/engram/internal/console"
	"github.com/engram-memory/engram/internal/httpapi"
)

// TestConsoleMounted: with Config.Console the API serves the console at
// /console/ and at the mailed links' paths without authentication, with the console's own CSP, and every
// method reaches the console handler (so even a refused one carries it).
func TestConsoleMounted(t *testing.T) {
	h := httpapi.New(httpapi.Config{Console: console.Handler()})
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/console/", http.StatusOK},
		{http.MethodGet, "/console/app.js", http.StatusOK},
		{http.MethodPost, "/console/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/console/nope", http.StatusNotFound},
		{http.MethodGet, "/accept", http.StatusOK},
		{http.MethodGet, "/reset", http.StatusOK},
		{http.MethodGet, "/verify", http.StatusOK},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if w.Code != c.status {
			t.Errorf("%s %s: status %d, want %d", c.method, c.path, w.Code, c.status)
		}
		if got := w.Header().Get("Content-Security-Policy"); got != console.CSP {
			t.Errorf("%s %s: CSP %q", c.method, c.path, got)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/console", nil))
	if w.Code/100 != 3 || w.Header().Get("Location") != "/console/" {
		t.Errorf("GET /console: %d to %q, want a redirect to /console/", w.Code, w.Header().Get("Location"))
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/" {
		t.Errorf("GET /: %d to %q, want a redirect to /console/ (where SSO sends a browser)", w.Code, w.Header().Get("Location"))
	}
}
