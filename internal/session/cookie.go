package session

import (
	"net/http"
	"strings"
	"time"
)

// Cookie names. The __Host- prefix makes the browser accept them only
// when Secure, with Path=/ and no Domain, so a sibling subdomain cannot
// set or overwrite them (cookie tossing, session fixation).
const (
	AccessCookie  = "__Host-engram_at"
	RefreshCookie = "__Host-engram_rt"
)

// Cookies returns the Set-Cookie values for a grant: HttpOnly (no script
// reads them, so an XSS cannot exfiltrate the tokens), Secure, SameSite
// Strict, Path=/, no Domain, and a Max-Age that ends with the token. The
// refresh cookie is sent to every path (__Host- requires Path=/), but the
// server reads it only at /v1/auth/refresh and /v1/auth/logout.
func Cookies(now time.Time, g *Grant) []*http.Cookie {
	return []*http.Cookie{
		cookie(AccessCookie, g.AccessToken, g.Access.ExpiresAt.Sub(now)),
		cookie(RefreshCookie, g.RefreshToken, g.Refresh.ExpiresAt.Sub(now)),
	}
}

// ClearCookies returns Set-Cookie values that delete both cookies (logout,
// a refused refresh).
func ClearCookies() []*http.Cookie {
	a, r := cookie(AccessCookie, "", 0), cookie(RefreshCookie, "", 0)
	a.MaxAge, r.MaxAge = -1, -1
	return []*http.Cookie{a, r}
}

func cookie(name, value string, life time.Duration) *http.Cookie {
	return &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   max(int(life/time.Second), 1),
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}
}

// AccessFrom finds the access token of a request: the Authorization
// Bearer header wins (a program), else the access cookie (the browser).
// fromCookie says which, so the caller runs CheckOrigin for cookies. An
// "Authorization: Bearer" holding something else (an API key) is returned
// as is: the caller tells the kinds apart by prefix.
func AccessFrom(h http.Header) (token string, fromCookie bool) {
	if a := h.Get("Authorization"); a != "" {
		scheme, tok, ok := strings.Cut(a, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok), false
		}
		return "", false
	}
	for _, c := range (&http.Request{Header: h}).CookiesNamed(AccessCookie) {
		return c.Value, true
	}
	return "", false
}
