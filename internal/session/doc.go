// Package session holds the rules of sign-in sessions: opaque access and
// refresh tokens, refresh-token families with rotation and reuse detection
// (OAuth 2.1 §4.3.1 and §6.1; RFC 9700 §4.14), logout of one family or of
// all of an account's, revocation on demotion and removal, the CSRF check
// of the cookie flow and the cookies' attributes.
//
// It is pure: functions take the records a store loaded and the time, and
// return the records to write or a Decision the store applies. It does no
// I/O, so the same rules hold on SQLite, PostgreSQL and in tests.
//
// # Opaque tokens, not JWTs
//
// A token is a kind prefix and 32 random bytes in base64url
// ("egat_…" access, "egrt_…" refresh). The server stores only
// HMAC-SHA256(server key, kind, secret) and looks the token up by that
// digest on every request. JWTs (golang-jwt/jwt/v5 v5.3.1 builds here) were
// weighed and refused, because Engram must revoke at once: removing a
// member, a demotion, "logout everywhere" and a reused refresh token must
// stop the next request on every node. A JWT stays valid until it expires
// unless every request also consults a denylist, which is the same
// database read as looking up an opaque token, plus signing keys to rotate
// and algorithm pitfalls (alg=none, key confusion) to defend. Engram is the
// only resource server, so self-contained tokens buy nothing.
//
// The cost: one indexed read per request (the access digest → its family →
// the account's membership), no verification without the database, and a
// token means nothing to anyone but the server that issued it. A per-node
// cache of lookups would undo "at once" and is not allowed.
//
// The database never holds a usable token: a copy of it lets nobody sign
// in, because the digests are keyed by a server key that is not in it
// (like API key peppers). Rotating that key signs everyone out.
package session
