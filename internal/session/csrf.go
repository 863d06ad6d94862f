package session

import (
	"errors"
	"net/http"
	"strings"
)

// The cookie flow's CSRF defence is SameSite=Strict cookies plus an Origin
// check, not a double-submit token. Decided so because:
//   - SameSite=Strict keeps the cookies off every cross-site request in
//     current browsers, but "site" is the registrable domain: a sibling
//     subdomain (evil.example.com against engram.example.com) is same-site
//     and still sends them. The Origin check closes that gap, and old
//     browsers without SameSite.
//   - Every browser that sends cookies cross-origin sends Origin on
//     non-GET requests, and current ones send Sec-Fetch-Site too; neither
//     can be set by page script. So the check needs no state, no token in
//     the page, and nothing for the console to get wrong.
//   - A double-submit token needs a readable cookie and a header on every
//     call, and is defeated by the same sibling-subdomain cookie tossing
//     unless the cookie is __Host-; it adds nothing over Origin here.
// Bearer tokens and API keys are not ambient (a page cannot make the
// browser attach them), so requests authenticated by them skip the check.

// ErrCrossOrigin: an unsafe cookie-authenticated request did not come from
// one of the console's origins. Transports answer 403.
var ErrCrossOrigin = errors.New("session: cross-origin request refused")

// Request is what the CSRF check reads of an HTTP request.
type Request struct {
	Method string
	Header http.Header
	// Cookie is true when the request is authenticated by the session
	// cookie, or is a login, refresh or logout answered with cookies
	// (login CSRF would sign the victim into the attacker's account).
	Cookie bool
}

// CheckOrigin applies the rule to r, given the origins the console is
// served from ("https://engram.example.com", exact scheme, host and port;
// the server's public URL at least):
//   - requests not authenticated by cookie, and GET, HEAD and OPTIONS,
//     pass (safe methods must not change state, which the API keeps);
//   - Sec-Fetch-Site "same-origin" or "none" (typed by the user) passes;
//   - otherwise the Origin header must be one of origins exactly;
//   - an unsafe cookie request with neither header is refused: a browser
//     sent it (it had the cookie), and every browser that honours
//     SameSite sends one of them, so its absence is suspicious.
//
// It agrees with net/http.CrossOriginProtection except that it trusts the
// configured origins rather than the Host header (a proxy may rewrite
// Host; an attacker cannot choose Origin) and refuses a request with
// neither header instead of taking it for a non-browser client
// (TestCheckOriginAgreesWithNetHTTP).
func CheckOrigin(r Request, origins []string) error {
	if !r.Cookie {
		return nil
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	site := r.Header.Get("Sec-Fetch-Site")
	if site == "same-origin" || site == "none" {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" || origin == "null" {
		return ErrCrossOrigin
	}
	for _, o := range origins {
		if strings.EqualFold(origin, o) {
			return nil
		}
	}
	return ErrCrossOrigin
}
