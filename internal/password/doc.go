// Package password hashes and checks account passwords.
//
// Hashes are argon2id (RFC 9106) from golang.org/x/crypto/argon2, written as
// PHC strings ($argon2id$v=19$m=…,t=…,p=…$salt$hash) so that each stored
// hash carries its own parameters: raising the cost later needs no
// migration, only NeedsRehash at the next successful login. The default
// parameters are OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane).
//
// Passwords are normalised to Unicode NFKC before they are checked or
// hashed, so the same password typed on two keyboards (a precomposed "é"
// or "e" + combining accent, a ligature, a full-width digit) is the same
// password. Policy follows NIST SP 800-63B: a length floor and ceiling and
// a refusal of the most predictable passwords; no composition rules, no
// forced rotation.
//
// A login for an email that has no account must cost the same work as one
// that has: VerifyAbsent runs a full verification against a dummy hash made
// with the Hasher's parameters.
//
// The package does no I/O and holds no secrets beyond the call; it never
// puts a password in an error.
package password
