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
//   - AEAD encryption with AES-256-GCM-SIV (RFC 8452) through tink-go. GCM-SIV
//     stays safe if a random nonce ever repeats: a repeat reveals only that
//     two plaintexts were equal.
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
// commitment, malformed input — as the single sentinel [ErrOpen], so that
// callers cannot leak which check failed.
//
// # Envelope format, version 1
//
// All integers are big-endian. Offsets are in bytes.
//
//	offset  size  field
//	     0     2  magic 0xE6 0x5E
//	     2     1  format version, 1
//	     3     1  algorithm, 1 = AES-256-GCM-SIV
//	     4    16  key id
//	    20     4  key version (uint32)
//	    24    12  nonce (random, from tink)
//	    36    32  commitment
//	    68   ≥16  ciphertext || tag (the tag is the last 16 bytes)
//
// An envelope is therefore at least 84 bytes, 84 + len(plaintext) exactly.
// The magic is never valid UTF-8 (0xE6 starts a three-byte sequence and 0x5E
// is not a continuation byte), so a plaintext string stored by mistake never
// parses as an envelope.
//
// [Parse] is strict: wrong magic, an unknown version or algorithm (2 is
// reserved for the FIPS profile and not accepted yet) and a short body are
// [ErrMalformed]. Anything it accepts re-serialises byte for byte with
// [Header.Marshal].
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
// secret is used directly as the AES-256-GCM-SIV key; nothing derives a data
// key from another key, because a derivable key cannot be crypto-shredded.
//
// # FIPS
//
// AES-GCM-SIV is not inside any FIPS 140-3 boundary, and Go does not stop it
// at run time. [Seal] and [Open] refuse algorithm 1 when
// [crypto/fips140.Enabled] reports true.
package seal
