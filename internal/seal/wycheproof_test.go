package seal_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"testing"

	"github.com/c2sp/wycheproof"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"
)

// Project Wycheproof vectors (github.com/c2sp/wycheproof, testvectors_v1)
// for every primitive the package uses. The module embeds its vectors
// (wycheproof.TestVectors), so the tests need nothing beyond the module
// download that go.sum already pins: no network and no go command at test
// time.

// wycheproofFile is the part of a Wycheproof file the tests read. Test
// groups and tests keep their raw JSON; each test decodes its own schema.
type wycheproofFile struct {
	Algorithm     string `json:"algorithm"`
	Schema        string `json:"schema"`
	NumberOfTests int    `json:"numberOfTests"`
	TestGroups    []struct {
		KeySize int               `json:"keySize"`
		IVSize  int               `json:"ivSize"`
		TagSize int               `json:"tagSize"`
		Tests   []json.RawMessage `json:"tests"`
	} `json:"testGroups"`
}

// hexBytes is a hex string in a Wycheproof file.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	*h = d
	return err
}

// wycheproofCase is the header every Wycheproof test shares.
type wycheproofCase struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Result  string   `json:"result"` // valid, invalid or acceptable
}

type aeadCase struct {
	wycheproofCase
	Key hexBytes `json:"key"`
	IV  hexBytes `json:"iv"`
	AAD hexBytes `json:"aad"`
	Msg hexBytes `json:"msg"`
	CT  hexBytes `json:"ct"`
	Tag hexBytes `json:"tag"`
}

type macCase struct {
	wycheproofCase
	Key hexBytes `json:"key"`
	Msg hexBytes `json:"msg"`
	Tag hexBytes `json:"tag"`
}

type hkdfCase struct {
	wycheproofCase
	IKM  hexBytes `json:"ikm"`
	Salt hexBytes `json:"salt"`
	Info hexBytes `json:"info"`
	Size int      `json:"size"`
	OKM  hexBytes `json:"okm"`
}

// readWycheproof loads name from the module and checks its algorithm and
// that its test count matches its header and is at least minTests.
func readWycheproof(t *testing.T, name, algorithm string, minTests int) *wycheproofFile {
	t.Helper()
	b, err := fs.ReadFile(wycheproof.TestVectors, name)
	if err != nil {
		t.Fatal(err)
	}
	var f wycheproofFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.Algorithm != algorithm {
		t.Fatalf("%s: algorithm %q, want %q", name, f.Algorithm, algorithm)
	}
	n := 0
	for _, g := range f.TestGroups {
		n += len(g.Tests)
	}
	if n != f.NumberOfTests || n < minTests {
		t.Fatalf("%s: %d tests, header says %d, want at least %d", name, n, f.NumberOfTests, minTests)
	}
	return &f
}

// tally counts what a Wycheproof test did and fails it if it checked fewer
// than want vectors.
type tally struct{ passed, skipped int }

func (c tally) report(t *testing.T, f *wycheproofFile, want int) {
	t.Helper()
	t.Logf("%s: %d of %d vectors passed, %d skipped", f.Algorithm, c.passed, f.NumberOfTests, c.skipped)
	if c.passed+c.skipped != f.NumberOfTests {
		t.Errorf("accounted for %d vectors, the file has %d", c.passed+c.skipped, f.NumberOfTests)
	}
	if c.passed < want {
		t.Errorf("only %d vectors checked, want at least %d", c.passed, want)
	}
}

func decodeCase(t *testing.T, raw json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("test vector %s: %v", raw, err)
	}
}

// TestWycheproofAESGCMSIV runs aes_gcm_siv_test.json (202 vectors, AES-128
// and AES-256 keys, both of which tink supports) through tink's
// subtle.AESGCMSIV, the implementation of algorithm 1. tink draws its own
// nonces, so each vector is checked by decrypting iv || ct || tag. For a
// valid vector that also checks the encryption side: GCM-SIV decryption
// recomputes the tag from the recovered plaintext, so an accepted
// iv || ct || tag is exactly what encrypting msg under iv gives. A random
// round trip checks Encrypt's output length. Invalid vectors must not
// decrypt.
func TestWycheproofAESGCMSIV(t *testing.T) {
	f := readWycheproof(t, "aes_gcm_siv_test.json", "AES-GCM-SIV", 202)
	var c tally
	for _, g := range f.TestGroups {
		for _, raw := range g.Tests {
			var tc aeadCase
			decodeCase(t, raw, &tc)
			if len(tc.Key)*8 != g.KeySize || len(tc.IV)*8 != g.IVSize || len(tc.Tag)*8 != g.TagSize {
				t.Fatalf("tcId %d: sizes do not match the group", tc.TcID)
			}
			a, err := subtle.NewAESGCMSIV(tc.Key)
			if err != nil {
				t.Errorf("tcId %d (%d-bit key): NewAESGCMSIV: %v", tc.TcID, g.KeySize, err)
				continue
			}
			in := append(append(append([]byte{}, tc.IV...), tc.CT...), tc.Tag...)
			pt, err := a.Decrypt(in, tc.AAD)
			switch tc.Result {
			case "valid", "acceptable":
				if err != nil || !bytes.Equal(pt, tc.Msg) {
					t.Errorf("tcId %d (%s): Decrypt = %x, %v; want %x", tc.TcID, tc.Comment, pt, err, tc.Msg)
					continue
				}
				out, err := a.Encrypt(tc.Msg, tc.AAD)
				if err != nil || len(out) != len(in) {
					t.Errorf("tcId %d: Encrypt = %d bytes, %v; want %d", tc.TcID, len(out), err, len(in))
					continue
				}
				if rt, err := a.Decrypt(out, tc.AAD); err != nil || !bytes.Equal(rt, tc.Msg) {
					t.Errorf("tcId %d: Decrypt(Encrypt) = %x, %v", tc.TcID, rt, err)
					continue
				}
			case "invalid":
				if err == nil {
					t.Errorf("tcId %d (%s, %v): Decrypt accepted an invalid vector: %x", tc.TcID, tc.Comment, tc.Flags, pt)
					continue
				}
			default:
				t.Fatalf("tcId %d: result %q", tc.TcID, tc.Result)
			}
			c.passed++
		}
	}
	c.report(t, f, 202)
}

// TestWycheproofAESGCM runs aes_gcm_test.json through crypto/cipher, the
// GCM behind algorithm 2: NewGCM for 96-bit nonces, NewGCMWithNonceSize for
// the others. A valid vector must encrypt to ct || tag and decrypt back; an
// invalid one must not decrypt, or be refused when the AEAD is made (a
// zero-length nonce). Only a valid vector whose parameters the standard
// library refuses is skipped; none is at the time of writing, in any FIPS
// mode.
func TestWycheproofAESGCM(t *testing.T) {
	f := readWycheproof(t, "aes_gcm_test.json", "AES-GCM", 316)
	var c tally
	// Under GODEBUG=fips140=only, crypto/cipher refuses caller-chosen
	// nonces; a known-answer test is the one place they belong.
	fips140.WithoutEnforcement(func() {
		for _, g := range f.TestGroups {
			for _, raw := range g.Tests {
				var tc aeadCase
				decodeCase(t, raw, &tc)
				if len(tc.Key)*8 != g.KeySize || len(tc.IV)*8 != g.IVSize || len(tc.Tag)*8 != g.TagSize {
					t.Fatalf("tcId %d: sizes do not match the group", tc.TcID)
				}
				b, err := aes.NewCipher(tc.Key)
				if err != nil {
					t.Fatalf("tcId %d: %d-bit AES key refused: %v", tc.TcID, g.KeySize, err)
				}
				var a cipher.AEAD
				switch {
				case g.TagSize != 128:
					err = errTagSize
				case len(tc.IV) == 12:
					a, err = cipher.NewGCM(b)
				default:
					a, err = cipher.NewGCMWithNonceSize(b, len(tc.IV))
				}
				if err != nil {
					if tc.Result == "invalid" {
						c.passed++ // refused up front
					} else {
						t.Logf("tcId %d: skipped, %d-bit nonce and %d-bit tag: %v", tc.TcID, g.IVSize, g.TagSize, err)
						c.skipped++
					}
					continue
				}
				ctTag := append(append([]byte{}, tc.CT...), tc.Tag...)
				pt, err := a.Open(nil, tc.IV, ctTag, tc.AAD)
				switch tc.Result {
				case "valid", "acceptable":
					if err != nil || !bytes.Equal(pt, tc.Msg) {
						t.Errorf("tcId %d (%s): Open = %x, %v; want %x", tc.TcID, tc.Comment, pt, err, tc.Msg)
						continue
					}
					if out := a.Seal(nil, tc.IV, tc.Msg, tc.AAD); !bytes.Equal(out, ctTag) {
						t.Errorf("tcId %d (%s): Seal = %x, want %x", tc.TcID, tc.Comment, out, ctTag)
						continue
					}
				case "invalid":
					if err == nil {
						t.Errorf("tcId %d (%s, %v): Open accepted an invalid vector: %x", tc.TcID, tc.Comment, tc.Flags, pt)
						continue
					}
				default:
					t.Fatalf("tcId %d: result %q", tc.TcID, tc.Result)
				}
				c.passed++
			}
		}
	})
	c.report(t, f, 300)
}

var errTagSize = errors.New("tags shorter than 128 bits are not used")

// TestWycheproofHMACSHA256 runs hmac_sha256_test.json through crypto/hmac,
// the MAC of the commitment. Groups with tagSize < 256 expect the leftmost
// tagSize bits of the MAC.
func TestWycheproofHMACSHA256(t *testing.T) {
	f := readWycheproof(t, "hmac_sha256_test.json", "HMACSHA256", 174)
	var c tally
	for _, g := range f.TestGroups {
		if g.TagSize%8 != 0 || g.TagSize > 256 || g.TagSize == 0 {
			t.Fatalf("tag size %d", g.TagSize)
		}
		for _, raw := range g.Tests {
			var tc macCase
			decodeCase(t, raw, &tc)
			if len(tc.Key)*8 != g.KeySize {
				t.Fatalf("tcId %d: key size does not match the group", tc.TcID)
			}
			m := hmac.New(sha256.New, tc.Key)
			m.Write(tc.Msg)
			got := m.Sum(nil)[:g.TagSize/8]
			ok := hmac.Equal(got, tc.Tag)
			switch tc.Result {
			case "valid", "acceptable":
				if !ok {
					t.Errorf("tcId %d (%s): HMAC = %x, want %x", tc.TcID, tc.Comment, got, tc.Tag)
					continue
				}
			case "invalid":
				if ok {
					t.Errorf("tcId %d (%s, %v): invalid tag %x verified", tc.TcID, tc.Comment, tc.Flags, tc.Tag)
					continue
				}
			default:
				t.Fatalf("tcId %d: result %q", tc.TcID, tc.Result)
			}
			c.passed++
		}
	}
	c.report(t, f, 174)
}

// TestWycheproofHKDFSHA256 runs hkdf_sha256_test.json through crypto/hkdf,
// which derives algorithm 2's subkeys and the commitment key. Invalid
// vectors ask for more than 255 blocks of output and must be refused.
func TestWycheproofHKDFSHA256(t *testing.T) {
	f := readWycheproof(t, "hkdf_sha256_test.json", "HKDF-SHA-256", 86)
	var c tally
	for _, g := range f.TestGroups {
		for _, raw := range g.Tests {
			var tc hkdfCase
			decodeCase(t, raw, &tc)
			okm, err := hkdf.Key(sha256.New, tc.IKM, tc.Salt, string(tc.Info), tc.Size)
			switch tc.Result {
			case "valid", "acceptable":
				if err != nil || !bytes.Equal(okm, tc.OKM) {
					t.Errorf("tcId %d (%s): Key = %x, %v; want %x", tc.TcID, tc.Comment, okm, err, tc.OKM)
					continue
				}
			case "invalid":
				if err == nil {
					t.Errorf("tcId %d (%s, %v): Key accepted size %d", tc.TcID, tc.Comment, tc.Flags, tc.Size)
					continue
				}
			default:
				t.Fatalf("tcId %d: result %q", tc.TcID, tc.Result)
			}
			c.passed++
		}
	}
	c.report(t, f, 86)
}
