package seal_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/tink-crypto/tink-go/v2/aead/subtle"
)

// TestRFC8452AES256GCMSIV runs RFC 8452 Appendix C.2 (AEAD_AES_256_GCM_SIV)
// vectors against the tink implementation Seal uses. tink's Encrypt picks its
// own nonce, so each vector is checked by decrypting nonce || result, and by
// checking that a flipped bit is refused.
func TestRFC8452AES256GCMSIV(t *testing.T) {
	const k1 = "0100000000000000000000000000000000000000000000000000000000000000"
	const n3 = "030000000000000000000000"
	vectors := []struct{ key, nonce, aad, plaintext, result string }{
		{k1, n3, "", "", "07f5f4169bbf55a8400cd47ea6fd400f"},
		{k1, n3, "", "0100000000000000", "c2ef328e5c71c83b843122130f7364b761e0b97427e3df28"},
		{k1, n3, "", "010000000000000000000000", "9aab2aeb3faa0a34aea8e2b18ca50da9ae6559e48fd10f6e5c9ca17e"},
		{k1, n3, "", "010000000000000000000000000000000200000000000000000000000000000003000000000000000000000000000000",
			"c00d121893a9fa603f48ccc1ca3c57ce7499245ea0046db16c53c7c66fe717e39cf6c748837b61f6ee3adcee17534ed5790bc96880a99ba804bd12c0e6a22cc4"},
		{k1, n3, "01", "0200000000000000", "1de22967237a813291213f267e3b452f02d01ae33e4ec854"},
		{k1, n3, "010000000000000000000000000000000200", "0300000000000000000000000000000004000000",
			"43dd0163cdb48f9fe3212bf61b201976067f342bb879ad976d8242acc188ab59cabfe307"},
		{"e66021d5eb8e4f4066d4adb9c33560e4f46e44bb3da0015c94f7088736864200", "e0eaf5284d884a0e77d31646", "", "",
			"169fbb2fbf389a995f6390af22228a62"},
		{"bae8e37fc83441b16034566b7a806c46bb91c3c5aedb64a6c590bc84d1a5e269", "e4b47801afc0577e34699b9e", "4fbdc66f14", "671fdd",
			"0eaccb93da9bb81333aee0c785b240d319719d"},
		{"3c535de192eaed3822a2fbbe2ca9dfc88255e14a661b8aa82cc54236093bbc23", "688089e55540db1872504e1c",
			"734320ccc9d9bbbb19cb81b2af4ecbc3e72834321f7aa0f70b7282b4f33df23f167541",
			"ced532ce4159b035277d4dfbb7db62968b13cd4eec",
			"626660c26ea6612fb17ad91e8e767639edd6c9faee9d6c7029675b89eaf4ba1ded1a286594"},
	}
	for i, v := range vectors {
		key, nonce, aad, pt, result := unhex(t, v.key), unhex(t, v.nonce), unhex(t, v.aad), unhex(t, v.plaintext), unhex(t, v.result)
		a, err := subtle.NewAESGCMSIV(key)
		if err != nil {
			t.Fatalf("vector %d: %v", i, err)
		}
		in := append(nonce, result...)
		got, err := a.Decrypt(in, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("vector %d: Decrypt = %x, %v; want %x", i, got, err, pt)
		}
		in[len(in)-1] ^= 1
		if _, err := a.Decrypt(in, aad); err == nil {
			t.Errorf("vector %d: Decrypt accepted a flipped tag", i)
		}
		// Round trip through Encrypt: right length, opens to the same plaintext.
		ct, err := a.Encrypt(pt, aad)
		if err != nil || len(ct) != len(nonce)+len(result) {
			t.Fatalf("vector %d: Encrypt = %d bytes, %v; want %d", i, len(ct), err, len(nonce)+len(result))
		}
		if got, err := a.Decrypt(ct, aad); err != nil || !bytes.Equal(got, pt) {
			t.Errorf("vector %d: Decrypt(Encrypt) = %x, %v; want %x", i, got, err, pt)
		}
	}
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
