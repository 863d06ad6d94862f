package local

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The key file is one line in one of two formats:
//
//	engram-kek-v1:<key b64>
//	engram-kek-v1-argon2id:m=<KiB>,t=<passes>,p=<lanes>:<salt b64>:<sealed key b64>
//
// The sealed key is nonce(12) || AES-256-GCM(key) || tag(16) under
// argon2id(passphrase, salt, t, m, p), with everything before it (the
// header, up to and including the last ':') as associated data. Base64 is
// standard with padding. The parser is strict: a file it accepts formats
// back to the same bytes (surrounding whitespace aside).
const (
	filePrefix   = "engram-kek-v1:"
	sealedPrefix = "engram-kek-v1-argon2id:"
)

const (
	keyLen    = 32
	nonceLen  = 12
	tagLen    = 16
	sealedLen = nonceLen + keyLen + tagLen
	saltLen   = 16 // written; 16 to 64 accepted
	maxSalt   = 64
)

// Parameter ceilings: the parser refuses what no sane file holds, so a
// corrupted file cannot make the process allocate terabytes.
const (
	maxMemoryKiB = 4 << 20 // 4 GiB
	maxTime      = 100
	maxThreads   = 64
)

// keyFile is a parsed key file: key for a plain file, sealed otherwise.
type keyFile struct {
	key    []byte
	sealed *sealedKey
}

// sealedKey is the passphrase-sealed form of the key.
type sealedKey struct {
	params argonParams
	salt   []byte
	box    []byte // nonce || ciphertext || tag
}

// argonParams are argon2id's cost parameters as the file stores them.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

func (p argonParams) String() string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.memory, p.time, p.threads)
}

// below reports whether any parameter is under floor's.
func (p argonParams) below(floor argonParams) bool {
	return p.memory < floor.memory || p.time < floor.time || p.threads < floor.threads
}

var paramsRE = regexp.MustCompile(`^m=([1-9][0-9]{0,9}),t=([1-9][0-9]{0,9}),p=([1-9][0-9]{0,2})$`)

func parseParams(s string) (argonParams, error) {
	m := paramsRE.FindStringSubmatch(s)
	if m == nil {
		return argonParams{}, errors.New("malformed argon2id parameters")
	}
	mem, err1 := strconv.ParseUint(m[1], 10, 32)
	t, err2 := strconv.ParseUint(m[2], 10, 32)
	p, err3 := strconv.ParseUint(m[3], 10, 8)
	if err1 != nil || err2 != nil || err3 != nil ||
		mem > maxMemoryKiB || t > maxTime || p > maxThreads || mem < 8*p {
		return argonParams{}, fmt.Errorf("argon2id parameters %s out of range", s)
	}
	return argonParams{memory: uint32(mem), time: uint32(t), threads: uint8(p)}, nil
}

// header is the part of a sealed file before the sealed key; it is the
// associated data of the seal, so params and salt cannot be swapped.
func (s *sealedKey) header() string {
	return sealedPrefix + s.params.String() + ":" + base64.StdEncoding.EncodeToString(s.salt) + ":"
}

func (f keyFile) format() string {
	if f.sealed != nil {
		return f.sealed.header() + base64.StdEncoding.EncodeToString(f.sealed.box)
	}
	return filePrefix + base64.StdEncoding.EncodeToString(f.key)
}

// decodeB64 accepts canonical standard base64 only (no line breaks, zero
// padding bits), so one key file has one spelling.
func decodeB64(s string) ([]byte, bool) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || base64.StdEncoding.EncodeToString(b) != s {
		return nil, false
	}
	return b, true
}

// parseKeyFile parses a key file's text. It does no key derivation.
func parseKeyFile(text string) (keyFile, error) {
	text = strings.TrimSpace(text)
	switch {
	case strings.HasPrefix(text, sealedPrefix):
		fields := strings.Split(strings.TrimPrefix(text, sealedPrefix), ":")
		if len(fields) != 3 {
			return keyFile{}, errors.New("malformed passphrase-sealed key file")
		}
		params, err := parseParams(fields[0])
		if err != nil {
			return keyFile{}, err
		}
		salt, ok := decodeB64(fields[1])
		if !ok || len(salt) < saltLen || len(salt) > maxSalt {
			return keyFile{}, errors.New("malformed salt")
		}
		box, ok := decodeB64(fields[2])
		if !ok || len(box) != sealedLen {
			return keyFile{}, errors.New("malformed sealed key")
		}
		return keyFile{sealed: &sealedKey{params: params, salt: salt, box: box}}, nil
	case strings.HasPrefix(text, filePrefix):
		key, ok := decodeB64(strings.TrimPrefix(text, filePrefix))
		if !ok || len(key) != keyLen {
			return keyFile{}, errors.New("malformed key")
		}
		return keyFile{key: key}, nil
	default:
		return keyFile{}, errors.New("unknown format")
	}
}
