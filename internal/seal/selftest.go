package seal

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/fips140"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/tink-crypto/tink-go/v2/aead/subtle"
)

// SelfTest runs known-answer tests of every primitive this package uses, in
// this order: SHA-256, HMAC-SHA256 (RFC 4231 case 1), HKDF-SHA256 (RFC 5869
// case 1), AES-256-GCM (fixed nonce, and the NewGCMWithRandomNonce opener
// Open uses), AES-256-GCM-SIV (RFC 8452 C.2, standard profile only: it is
// never run in FIPS mode), then a known envelope of each algorithm (an
// algorithm 1 envelope must be refused in the fips profile) and a Seal/Open
// round trip of the active algorithm. It returns nil or an error naming the
// first failed test. It is the FIPS start-up gate: call it once at start,
// and do not open the port if it fails.
//
// # Go's own self-tests (CASTs)
//
// In FIPS 140-3 mode (a GOFIPS140 build, or GODEBUG=fips140=on or only) Go's
// cryptographic module runs its own Cryptographic Algorithm Self-Tests. What
// was found in Go 1.26 (crypto/internal/fips140/cast.go and the frozen
// modules v1.0.0 and v1.26.0 in $GOROOT/lib/fips140):
//
//   - Every CAST behind what we use runs in the init function of its module
//     package, not on first use: "SHA2-256", "HMAC-SHA2-256",
//     "HKDF-SHA2-256", "AES-CBC" (the AES block cipher), "CounterKDF" (which
//     covers GCM, per IG 10.3.A), "CTR_DRBG" (crypto/rand, hence every nonce
//     and salt); "SHA2-512" and "cSHAKE128" are linked in and run too. Only
//     the public-key CASTs (RSA, ECDSA, Ed25519, ECDH, ML-KEM, ML-DSA) are
//     deferred to first use, behind a sync.OnceFunc. A CAST runs only if its
//     package is linked into the binary and only in FIPS mode; outside FIPS
//     mode failfipscast is ignored.
//   - A failing CAST is neither a panic nor a returned error: it calls
//     runtime.fatal, which prints "fatal error: FIPS 140-3 self-test failed:
//     <name>: <reason>" and a stack trace to stderr and exits with status 2
//     at once. recover cannot stop it and no deferred call runs.
//   - GODEBUG=failfipscast=<name> makes the CAST of that exact name fail
//     ("simulated CAST failure"). So GODEBUG=fips140=on,failfipscast=CounterKDF
//     (or just GODEBUG=failfipscast=CounterKDF for a GOFIPS140 binary, whose
//     default is fips140=on) kills an Engram process during package
//     initialisation, before main runs, with exit status 2. There is no CAST
//     named "AES-GCM": a name that no linked CAST has is silently ignored,
//     as is failfipscast without FIPS mode. TestFailFIPSCAST and
//     TestFIPSBuild check each name above, so a rename in a later Go
//     release fails the tests instead of passing silently.
//
// SelfTest cannot observe Go's CASTs, since a failure never returns. It
// still exercises every primitive at start, so that a CAST that some future
// module version defers to first use (as v1.26.0 did for ML-KEM) fails the
// start rather than the first request.
func SelfTest() error {
	tests := []selfTest{
		{"SHA-256", katSHA256},
		{"HMAC-SHA256", katHMACSHA256},
		{"HKDF-SHA256", katHKDFSHA256},
		{"AES-256-GCM", katAESGCM},
	}
	if !fips140.Enabled() {
		tests = append(tests, selfTest{"AES-256-GCM-SIV", katAESGCMSIV})
	}
	tests = append(tests,
		selfTest{"envelope algorithm 1", katEnvelopeGCMSIV},
		selfTest{"envelope algorithm 2", katEnvelopeGCMHKDF},
		selfTest{"Seal/Open round trip", roundTrip},
	)
	for _, t := range tests {
		if err := t.run(); err != nil {
			return fmt.Errorf("seal: self-test %s failed: %w", t.name, err)
		}
	}
	return nil
}

type selfTest struct {
	name string
	run  func() error
}

var errKAT = errors.New("unexpected result")

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic("seal: bad self-test constant: " + err.Error())
	}
	return b
}

// katSHA256 is FIPS 180-2 Appendix B.1, SHA-256("abc").
func katSHA256() error {
	got := sha256.Sum256([]byte("abc"))
	if !bytes.Equal(got[:], mustHex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")) {
		return errKAT
	}
	return nil
}

// katHMACSHA256 is RFC 4231 test case 1 (case 2's 4-byte key is refused
// under GODEBUG=fips140=only).
func katHMACSHA256() error {
	m := hmac.New(sha256.New, bytes.Repeat([]byte{0x0b}, 20))
	m.Write([]byte("Hi There"))
	if !hmac.Equal(m.Sum(nil), mustHex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")) {
		return errKAT
	}
	return nil
}

// katHKDFSHA256 is RFC 5869 test case 1, extract and expand.
func katHKDFSHA256() error {
	ikm := bytes.Repeat([]byte{0x0b}, 22)
	salt := mustHex("000102030405060708090a0b0c")
	info := string(mustHex("f0f1f2f3f4f5f6f7f8f9"))
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return err
	}
	if !bytes.Equal(prk, mustHex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")) {
		return errors.New("unexpected PRK")
	}
	okm, err := hkdf.Key(sha256.New, ikm, salt, info, 42)
	if err != nil {
		return err
	}
	if !bytes.Equal(okm, mustHex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")) {
		return errors.New("unexpected OKM")
	}
	return nil
}

// katAESGCM is test case 16 of McGrew and Viega, "The Galois/Counter Mode of
// Operation" (AES-256, 96-bit IV, with AAD), checked in both directions:
// encryption through cipher.NewGCM with the fixed nonce (allowed for a
// self-test even under GODEBUG=fips140=only), decryption through the
// NewGCMWithRandomNonce opener that algorithm 2 uses, which reads the nonce
// from the front of its input. A flipped tag bit must be refused.
func katAESGCM() error {
	key := mustHex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
	nonce := mustHex("cafebabefacedbaddecaf888")
	aad := mustHex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
	pt := mustHex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72" +
		"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
	want := mustHex("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa" +
		"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662" +
		"76fc6ece0f4e1768cddf8853bb2d551b") // ciphertext || tag
	b, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	var got []byte
	fips140.WithoutEnforcement(func() {
		var g cipher.AEAD
		if g, err = cipher.NewGCM(b); err == nil {
			got = g.Seal(nil, nonce, pt, aad)
		}
	})
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return errors.New("unexpected ciphertext")
	}
	r, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		return err
	}
	in := append(bytes.Clone(nonce), want...)
	if dec, err := r.Open(nil, nil, in, aad); err != nil || !bytes.Equal(dec, pt) {
		return errors.New("unexpected plaintext")
	}
	in[len(in)-1] ^= 1
	if _, err := r.Open(nil, nil, in, aad); err == nil {
		return errors.New("accepted a flipped tag")
	}
	return nil
}

// katAESGCMSIV is RFC 8452 Appendix C.2 (AEAD_AES_256_GCM_SIV) with AAD,
// decrypted through tink, which takes the nonce from the front of its input.
// A flipped tag bit must be refused. Never called in FIPS mode.
func katAESGCMSIV() error {
	a, err := subtle.NewAESGCMSIV(mustHex("0100000000000000000000000000000000000000000000000000000000000000"))
	if err != nil {
		return err
	}
	in := mustHex("030000000000000000000000" + "1de22967237a813291213f267e3b452f02d01ae33e4ec854")
	aad := mustHex("01")
	if pt, err := a.Decrypt(in, aad); err != nil || !bytes.Equal(pt, mustHex("0200000000000000")) {
		return errors.New("unexpected plaintext")
	}
	in[len(in)-1] ^= 1
	if _, err := a.Decrypt(in, aad); err == nil {
		return errors.New("accepted a flipped tag")
	}
	return nil
}

// selfTestKey and selfTestContext are fixed test-only values; they protect
// nothing.
func selfTestKey() Key {
	k := Key{Version: 1, Secret: mustHex("c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf")}
	copy(k.ID[:], mustHex("5e1f7e575e1f7e575e1f7e575e1f7e57"))
	return k
}

var selfTestContext = Context{Domain: "self-test", Tenant: "t", Subject: "s", Record: "r", Field: "f"}

var selfTestPlaintext = []byte("engram seal self-test")

// Known envelopes of selfTestPlaintext under selfTestKey and selfTestContext,
// made once by Seal and kept: they pin the format at every start.
const (
	selfTestEnvelope1 = "e65e01015e1f7e575e1f7e575e1f7e575e1f7e5700000001bbb5276a45fe7f8c15c5b6da" +
		"752ae945d434d3a678930ed85bf5aface66f1873f3a2b26f02af847d3e3478dd26b2844dd20afe34" +
		"adee680bdb46a8b1339e10b0b0a97a60041710f6d9a875a250736e24eb"
	selfTestEnvelope2 = "e65e01025e1f7e575e1f7e575e1f7e575e1f7e5700000001385bb17dcb0d1ae835351d1d" +
		"40dc68c506b9be24d92a7ea4fbec83eccdbd9110193cabbff3a8323bd618b85e753e6d0a930e3cf8" +
		"8b24e8bc35c80769368c9165a8f1cde5c9f91d47225e46c027919c918ba75ac6958779c1e31f0c6b" +
		"a5"
)

// katEnvelopeGCMSIV opens a known algorithm 1 envelope in the standard
// profile and checks that the fips profile refuses it.
func katEnvelopeGCMSIV() error {
	pt, err := Open(selfTestKey(), selfTestContext, mustHex(selfTestEnvelope1))
	if fips140.Enabled() {
		if err == nil {
			return errors.New("opened AES-256-GCM-SIV in FIPS 140-3 mode")
		}
		return nil
	}
	if err != nil || !bytes.Equal(pt, selfTestPlaintext) {
		return errors.New("unexpected plaintext")
	}
	return nil
}

// katEnvelopeGCMHKDF opens a known algorithm 2 envelope, in both profiles.
func katEnvelopeGCMHKDF() error {
	pt, err := Open(selfTestKey(), selfTestContext, mustHex(selfTestEnvelope2))
	if err != nil || !bytes.Equal(pt, selfTestPlaintext) {
		return errors.New("unexpected plaintext")
	}
	return nil
}

// roundTrip seals with the active algorithm, opens the result, and checks
// that another context and a flipped bit are refused.
func roundTrip() error {
	k := selfTestKey()
	env, err := Seal(k, selfTestContext, selfTestPlaintext)
	if err != nil {
		return err
	}
	if len(env) < 4 || Algorithm(env[3]) != sealAlgorithm() {
		return errors.New("sealed with the wrong algorithm")
	}
	if pt, err := Open(k, selfTestContext, env); err != nil || !bytes.Equal(pt, selfTestPlaintext) {
		return errors.New("unexpected plaintext")
	}
	other := selfTestContext
	other.Record = "other"
	if _, err := Open(k, other, env); err == nil {
		return errors.New("opened under another context")
	}
	env[len(env)-1] ^= 1
	if _, err := Open(k, selfTestContext, env); err == nil {
		return errors.New("accepted a flipped tag")
	}
	return nil
}
