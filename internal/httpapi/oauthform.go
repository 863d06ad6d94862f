package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The sign-in form's CSRF protection: a per-browser nonce in an HttpOnly,
// SameSite=Strict cookie, and in the form a token that MACs the nonce,
// an expiry and the exact authorization parameters the page showed. A
// post from another site lacks the cookie (SameSite) and cannot forge the
// MAC; a form whose hidden parameters were edited (another redirect URI,
// more scopes) fails too. The key is derived from the key hierarchy
// (keys.PurposeOAuthForm, never stored), so every node of a deployment
// accepts the forms of the others.

const (
	formCookie = "engram_oauth_form"
	formLife   = 15 * time.Minute
)

// formNonce returns the browser's nonce, setting a fresh one when it has
// none.
func formNonce(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookieName(r)); err == nil && validNonce(c.Value) {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	n := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: cookieName(r), Value: n, Path: "/oauth/authorize", HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode, MaxAge: int(formLife / time.Second)})
	return n
}

// cookieName is __Host- prefixed over https (bound to this origin, no
// Domain); plain http (a local test server) cannot hold such a cookie.
func cookieName(r *http.Request) string {
	if secure(r) {
		return "__Host-" + formCookie
	}
	return formCookie
}

func secure(r *http.Request) bool { return r.TLS != nil || strings.HasPrefix(baseURL(r), "https://") }

func validNonce(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == 32
}

// formToken is the form's token for the browser's nonce and params.
func formToken(key []byte, nonce string, params url.Values, exp time.Time) string {
	b := binary.BigEndian.AppendUint64(nil, uint64(exp.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(b, formMAC(key, nonce, params, exp)...))
}

func formMAC(key []byte, nonce string, params url.Values, exp time.Time) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("engram-oauth-form-v1\x00"))
	m.Write([]byte(nonce))
	m.Write([]byte{0})
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(exp.Unix())))
	m.Write([]byte(params.Encode())) // sorted by key: canonical
	return m.Sum(nil)
}

// checkForm verifies a posted token against the browser's cookie and the
// posted parameters; the error is the key's (an internal failure).
func (o *oauthRoutes) checkForm(r *http.Request, token string, params url.Values) (bool, error) {
	c, err := r.Cookie(cookieName(r))
	if err != nil || !validNonce(c.Value) {
		return false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 8+sha256.Size {
		return false, nil
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if !time.Now().Before(exp) {
		return false, nil
	}
	key, err := o.formKey(r.Context())
	if err != nil {
		return false, err
	}
	return hmac.Equal(b[8:], formMAC(key, c.Value, params, exp)), nil
}
