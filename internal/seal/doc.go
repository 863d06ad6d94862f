// Package seal is Engram's envelope encryption: every sensitive field (content,
// names, metadata values, embedding vectors, wrapped keys) is stored as a
// versioned, self-describing envelope produced by [Seal] and read back by
// [Open].
//
// # Why
//
// The database is untrusted. Whoever can read or write it — a backup, a
// replica, an operator with SQL access, an attacker with a stolen disk — must
// learn nothing beyond ids, sizes and key versions, and must not be able to
// move a ciphertext to where it does not belong. Three mechanisms provide that:
//
//   - AEAD encryption, chosen by the process's [Profile]. The standard
//     profile seals with AES-256-GCM-SIV (RFC 8452) through tink-go: it
//     stays safe if a random nonce ever repeats, a repeat revealing only that
//     two plaintexts were equal. The fips profile (a binary built with
//     GOFIPS140) seals with AES-256-GCM under a per-record HKDF-SHA256
//     subkey, with the standard library only, so that it stays inside Go's
//     FIPS 140-3 module.
//   - Associated data ([AAD]) that binds each ciphertext to where it lives:
//     domain, tenant, subject, record id, field name, algorithm and key
//     version. An envelope copied to another row, field, tenant, subject or
//     key version fails to open.
//   - A key commitment. Neither GCM nor GCM-SIV commits to its key: a
//     ciphertext can be crafted that decrypts, under two different keys, to
//     two different valid plaintexts. That matters once tenants bring their
//     own keys. Each envelope therefore carries an HMAC under a key derived
//     from the data key, which [Open] checks in constant time before it
//     decrypts anything.
//
// [Open] reports every failure — wrong key, wrong context, tampering, bad
// commitment, malformed input, an algorithm the profile refuses — as the
// single sentinel [ErrOpen], so that callers cannot leak which check failed.
//
// # Envelope format, version 1
//
// All integers are big-endian. Offsets are in bytes. Both algorithms share
// the header; they differ in what the nonce field means and in the body.
//
//	offset  size  field
//	     0     2  magic 0xE6 0x5E
//	     2     1  format version, 1
//	     3     1  algorithm: 1 = AES-256-GCM-SIV, 2 = AES-256-GCM+HKDF-SHA256
//	     4    16  key id
//	    20     4  key version (uint32)
//	    24    12  nonce field (random): the GCM-SIV nonce (algorithm 1)
//	              or the HKDF salt of the record's subkey (algorithm 2)
//	    36    32  commitment
//	    68     …  body
//
//	algorithm 1 body: ciphertext || tag (16)                   ≥ 16 bytes
//	algorithm 2 body: gcm nonce (12) || ciphertext || tag (16) ≥ 28 bytes
//
// An envelope is therefore 84 + len(plaintext) bytes for algorithm 1 and
// 96 + len(plaintext) for algorithm 2. The magic is never valid UTF-8 (0xE6
// starts a three-byte sequence and 0x5E is not a continuation byte), so a
// plaintext string stored by mistake never parses as an envelope.
//
// [Parse] is strict: wrong magic, an unknown version or algorithm and a body
// shorter than its algorithm's minimum are [ErrMalformed]. Anything it
// accepts re-serialises byte for byte with [Header.Marshal]. It accepts both
// algorithms in both profiles; [Open] applies the profile.
//
// # Algorithm 1: AES-256-GCM-SIV
//
// The data key is the AES-256-GCM-SIV key; tink draws the 12-byte nonce.
//
// # Algorithm 2: AES-256-GCM under an HKDF-SHA256 per-record subkey
//
//	salt    = 12 random bytes, stored in the nonce field
//	subkey  = HKDF-SHA256(secret = data key, salt = salt,
//	                      info = "engram/seal/v1/gcm-subkey", 32 bytes)
//	body    = AES-256-GCM(subkey) with a random 12-byte nonce, as made by
//	          crypto/cipher.NewGCMWithRandomNonce: nonce || ciphertext || tag
//
// Every record gets its own key, which encrypts one message: GCM's limit of
// 2^32 random nonces per key never binds the data key, and a GCM nonce
// repeat does harm only together with a salt repeat (192 random bits). Only
// crypto/hkdf, crypto/aes, crypto/cipher and crypto/rand are involved, all
// inside Go's FIPS 140-3 module.
//
// # Associated data
//
// [AAD] encodes, in this order, domain, tenant, subject, record and field,
// each as a uint32 length followed by its bytes, then the algorithm byte and
// the key version as a uint32. Because every variable-length part is
// length-prefixed and the trailer has a fixed size, no two different inputs
// give the same bytes ({"ab", "c"} and {"a", "bc"} differ). Domain and field
// must not be empty. The keys package wraps child keys with Domain "key".
//
// # Key commitment
//
//	commitKey  = HKDF-SHA256(secret = data key, salt = none,
//	                         info = "engram/seal/v1/commit", 32 bytes)
//	commitment = HMAC-SHA256(commitKey, envelope[0:36] || AAD)
//
// The commitment covers magic, version, algorithm, key id, key version and
// nonce, plus the associated data. [Open] checks that the envelope's key id and
// version are the key's, then the commitment with [hmac.Equal], and only then
// asks the AEAD to decrypt.
//
// # Keys
//
// A [Key] is a random 32-byte data key with a 16-byte id and a version. The
// secret is the AES-256-GCM-SIV key of algorithm 1 and the HKDF secret of
// algorithm 2; nothing derives a data key from another key, because a
// derivable key cannot be crypto-shredded (algorithm 2's subkeys die with the
// data key they come from).
//
// # Profiles and FIPS 140-3
//
// [Profile] is "fips" when [crypto/fips140.Enabled] reports true — a binary
// built with GOFIPS140 (FIPS mode on by default), or any binary run with
// GODEBUG=fips140=on or only — and "standard" otherwise. The mode is a fact
// about the whole process, fixed at start; the package keeps no state of its
// own. GODEBUG=fips140=off still turns FIPS mode off in a GOFIPS140 binary;
// Profile then reports "standard", truthfully.
//
//	             Seal          Open accepts
//	standard     algorithm 1   algorithms 1 and 2
//	fips         algorithm 2   algorithm 2 only
//
// AES-GCM-SIV is not inside any FIPS 140-3 boundary and Go does not stop it
// at run time, so the package refuses it itself in the fips profile: Seal
// never uses it and Open answers [ErrOpen] for an algorithm 1 envelope.
// Records written in the standard profile must be rewrapped before a
// deployment moves to the fips profile.
//
// [SelfTest] runs known-answer tests of every primitive at start; its
// documentation records how Go's own FIPS self-tests behave and how to make
// one fail (GODEBUG=failfipscast).
package seal
