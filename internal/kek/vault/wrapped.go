package vault

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// formatV1 is the first byte of every wrapped key: the rest is the Transit
// ciphertext string ("vault:v<version>:<base64>") exactly as Vault
// returned it. The byte lets the format change without guessing.
const formatV1 = 1

// maxWrapped bounds a wrapped key: a KEK wraps keys (tens of bytes), so
// anything larger is not ours and is refused before calling out.
const maxWrapped = 4096

// maxKeyLen bounds what Wrap accepts, for the same reason.
const maxKeyLen = 1024

// gcmOverhead is the 96-bit nonce plus the 128-bit tag of aes256-gcm96.
const gcmOverhead = 12 + 16

var errMalformed = errors.New("malformed wrapped key")

// parseCiphertext checks a Transit ciphertext string strictly (canonical
// base64, a positive version, room for nonce and tag) and returns its key
// version. Anything Vault would refuse, and some things it would accept
// (line breaks in the base64, version 0), are refused here without a call.
func parseCiphertext(ct string) (int, error) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return 0, errMalformed
	}
	ver, body, ok := strings.Cut(rest, ":")
	if !ok || ver == "" || len(ver) > 9 || ver[0] == '0' {
		return 0, errMalformed
	}
	n, err := strconv.Atoi(ver)
	if err != nil || n < 1 {
		return 0, errMalformed
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(body)
	if err != nil || len(raw) < gcmOverhead || base64.StdEncoding.EncodeToString(raw) != body {
		return 0, errMalformed
	}
	return n, nil
}

// encodeWrapped is the stored form of a Transit ciphertext.
func encodeWrapped(ct string) []byte {
	return append([]byte{formatV1}, ct...)
}

// decodeWrapped is the inverse of encodeWrapped, checking the ciphertext.
func decodeWrapped(w []byte) (string, error) {
	if len(w) < 2 || len(w) > maxWrapped || w[0] != formatV1 {
		return "", errMalformed
	}
	ct := string(w[1:])
	if _, err := parseCiphertext(ct); err != nil {
		return "", err
	}
	return ct, nil
}
