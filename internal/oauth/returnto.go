package oauth

import "strings"

// MaxReturnTarget bounds a return target: it travels sealed inside the
// SSO pending cookie, which must stay under the browsers' 4 KiB.
const MaxReturnTarget = 1536

// ValidReturnTarget reports whether s may be where a browser goes back to
// after signing in with SSO: a relative path on this origin to the
// authorization page, "/oauth/authorize?..." and nothing else. No scheme,
// no host, no "//" (a network-path reference), no backslash (browsers
// read "/\evil" as "//evil"), no control character, no quote or angle
// bracket (a real query percent-encodes them), no fragment, and at
// most MaxReturnTarget bytes: an open redirect is refused however it is
// spelled.
func ValidReturnTarget(s string) bool {
	if len(s) > MaxReturnTarget || !strings.HasPrefix(s, AuthorizePath+"?") {
		return false
	}
	if strings.Contains(s, "//") || strings.ContainsAny(s, "\\#\"<>'`") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return false // encoded as %XX in a real query; raw ones are tricks
		}
	}
	return true
}
