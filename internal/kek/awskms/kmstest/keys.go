package kmstest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
)

// Key states, as KMS names them.
const (
	stateEnabled         = "Enabled"
	stateDisabled        = "Disabled"
	statePendingDeletion = "PendingDeletion"
	symmetricDefault     = "SYMMETRIC_DEFAULT"
)

type key struct {
	id       [16]byte
	arn      string
	material []byte // AES-256
	state    string
	desc     string
	created  time.Time
	deletion time.Time
}

func (k *key) idString() string { return formatUUID(k.id) }

// handler runs one operation with s.mu held.
type handler func(s *Server, u *user, body []byte) (any, *apiError)

var handlers = map[string]handler{
	"CreateKey":           (*Server).createKey,
	"DescribeKey":         (*Server).describeKey,
	"CreateAlias":         (*Server).createAlias,
	"EnableKey":           (*Server).enableKey,
	"DisableKey":          (*Server).disableKey,
	"ScheduleKeyDeletion": (*Server).scheduleKeyDeletion,
	"Encrypt":             (*Server).encrypt,
	"Decrypt":             (*Server).decrypt,
}

func decode(body []byte, v any) *apiError {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return errorf("SerializationException", "cannot parse the request: %v", err)
	}
	return nil
}

// authorize stands in for IAM and the key policy: a denied principal may
// do nothing.
func authorize(u *user, action, resource string) *apiError {
	if u.denied {
		return errorf("AccessDeniedException", "User: %s is not authorized to perform: kms:%s on resource: %s because no identity-based policy allows the kms:%s action",
			u.arn, action, resource, action)
	}
	return nil
}

func (s *Server) arnPrefix() string { return "arn:aws:kms:" + s.Region + ":" + s.AccountID + ":" }

// resolve finds a key by key id, key ARN, alias name or alias ARN.
func (s *Server) resolve(id string, aliasAllowed bool) (*key, *apiError) {
	if id == "" {
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	name := id
	if strings.HasPrefix(id, "arn:") {
		rest, ok := strings.CutPrefix(id, s.arnPrefix())
		if !ok {
			return nil, errorf("NotFoundException", "Invalid arn %s", id)
		}
		name = rest
	}
	if strings.HasPrefix(name, "alias/") {
		if !aliasAllowed {
			return nil, errorf("ValidationException", "%s is an alias; a key id or key ARN is required", id)
		}
		target, ok := s.aliases[name]
		if !ok {
			return nil, errorf("NotFoundException", "Alias %s%s is not found.", s.arnPrefix(), name)
		}
		name = target
	} else {
		name = strings.TrimPrefix(name, "key/")
	}
	k, ok := s.keys[name]
	if !ok {
		return nil, errorf("NotFoundException", "Key '%skey/%s' does not exist", s.arnPrefix(), name)
	}
	return k, nil
}

func usable(k *key) *apiError {
	switch k.state {
	case stateDisabled:
		return errorf("DisabledException", "%s is disabled.", k.arn)
	case statePendingDeletion:
		return errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
	}
	return nil
}

type keyMetadata struct {
	AWSAccountId          string
	Arn                   string
	CreationDate          float64
	CustomerMasterKeySpec string
	DeletionDate          *float64 `json:",omitempty"`
	Description           string
	Enabled               bool
	EncryptionAlgorithms  []string
	KeyId                 string
	KeyManager            string
	KeySpec               string
	KeyState              string
	KeyUsage              string
	MultiRegion           bool
	Origin                string
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

func (s *Server) metadata(k *key) keyMetadata {
	m := keyMetadata{
		AWSAccountId:          s.AccountID,
		Arn:                   k.arn,
		CreationDate:          epoch(k.created),
		CustomerMasterKeySpec: symmetricDefault,
		Description:           k.desc,
		Enabled:               k.state == stateEnabled,
		EncryptionAlgorithms:  []string{symmetricDefault},
		KeyId:                 k.idString(),
		KeyManager:            "CUSTOMER",
		KeySpec:               symmetricDefault,
		KeyState:              k.state,
		KeyUsage:              "ENCRYPT_DECRYPT",
		Origin:                "AWS_KMS",
	}
	if !k.deletion.IsZero() {
		d := epoch(k.deletion)
		m.DeletionDate = &d
	}
	return m
}

func (s *Server) createKey(u *user, body []byte) (any, *apiError) {
	var in struct {
		Description           string
		KeyUsage              string
		KeySpec               string
		CustomerMasterKeySpec string
		Origin                string
		MultiRegion           bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := authorize(u, "CreateKey", "*"); e != nil {
		return nil, e
	}
	if in.KeyUsage != "" && in.KeyUsage != "ENCRYPT_DECRYPT" ||
		in.KeySpec != "" && in.KeySpec != symmetricDefault ||
		in.CustomerMasterKeySpec != "" && in.CustomerMasterKeySpec != symmetricDefault ||
		in.Origin != "" && in.Origin != "AWS_KMS" || in.MultiRegion {
		return nil, errorf("UnsupportedOperationException", "kmstest supports single-region SYMMETRIC_DEFAULT ENCRYPT_DECRYPT keys with AWS_KMS origin only")
	}
	k := &key{material: make([]byte, 32), state: stateEnabled, desc: in.Description, created: s.now()}
	rand.Read(k.material)
	rand.Read(k.id[:])
	k.id[6] = k.id[6]&0x0f | 0x40
	k.id[8] = k.id[8]&0x3f | 0x80
	k.arn = s.arnPrefix() + "key/" + k.idString()
	s.keys[k.idString()] = k
	return struct{ KeyMetadata keyMetadata }{s.metadata(k)}, nil
}

func (s *Server) describeKey(u *user, body []byte) (any, *apiError) {
	var in struct{ KeyId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	k, e := s.resolve(in.KeyId, true)
	if e != nil {
		return nil, e
	}
	if e := authorize(u, "DescribeKey", k.arn); e != nil {
		return nil, e
	}
	return struct{ KeyMetadata keyMetadata }{s.metadata(k)}, nil
}

func (s *Server) createAlias(u *user, body []byte) (any, *apiError) {
	var in struct{ AliasName, TargetKeyId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	name, ok := strings.CutPrefix(in.AliasName, "alias/")
	if !ok || name == "" || strings.HasPrefix(name, "aws/") ||
		strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-") != "" {
		return nil, errorf("InvalidAliasNameException", "Alias must start with the prefix \"alias/\" and contain only letters, digits, /, _ and -.")
	}
	k, e := s.resolve(in.TargetKeyId, false)
	if e != nil {
		return nil, e
	}
	if e := authorize(u, "CreateAlias", k.arn); e != nil {
		return nil, e
	}
	if _, ok := s.aliases[in.AliasName]; ok {
		return nil, errorf("AlreadyExistsException", "An alias with the name %s%s already exists", s.arnPrefix(), in.AliasName)
	}
	s.aliases[in.AliasName] = k.idString()
	return nil, nil
}

func (s *Server) setEnabled(u *user, body []byte, action string, enabled bool) (any, *apiError) {
	var in struct{ KeyId string }
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	k, e := s.resolve(in.KeyId, false)
	if e != nil {
		return nil, e
	}
	if e := authorize(u, action, k.arn); e != nil {
		return nil, e
	}
	if k.state == statePendingDeletion {
		return nil, errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
	}
	k.state = stateDisabled
	if enabled {
		k.state = stateEnabled
	}
	return nil, nil
}

func (s *Server) enableKey(u *user, body []byte) (any, *apiError) {
	return s.setEnabled(u, body, "EnableKey", true)
}

func (s *Server) disableKey(u *user, body []byte) (any, *apiError) {
	return s.setEnabled(u, body, "DisableKey", false)
}

func (s *Server) scheduleKeyDeletion(u *user, body []byte) (any, *apiError) {
	var in struct {
		KeyId               string
		PendingWindowInDays *int
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	days := 30
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	if days < 7 || days > 30 {
		return nil, errorf("ValidationException", "1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
	}
	k, e := s.resolve(in.KeyId, false)
	if e != nil {
		return nil, e
	}
	if e := authorize(u, "ScheduleKeyDeletion", k.arn); e != nil {
		return nil, e
	}
	if k.state == statePendingDeletion {
		return nil, errorf("KMSInvalidStateException", "%s is pending deletion.", k.arn)
	}
	k.state = statePendingDeletion
	k.deletion = s.now().Add(time.Duration(days) * 24 * time.Hour)
	return struct {
		KeyId               string
		DeletionDate        float64
		KeyState            string
		PendingWindowInDays int
	}{k.arn, epoch(k.deletion), k.state, days}, nil
}

// Ciphertext blob: version, key id, nonce, AES-GCM(plaintext) with
// version, key id and the canonical encryption context as additional data.
const (
	blobVersion = 1
	blobHeader  = 1 + 16
	nonceSize   = 12
	tagSize     = 16
)

// contextAAD encodes an encryption context unambiguously: pairs sorted by
// key, every string length-prefixed.
func contextAAD(header []byte, ec map[string]string) []byte {
	aad := append([]byte("kmstest/ciphertext/v1\x00"), header...)
	aad = binary.BigEndian.AppendUint32(aad, uint32(len(ec)))
	for _, k := range slices.Sorted(maps.Keys(ec)) {
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(k)))
		aad = append(aad, k...)
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(ec[k])))
		aad = append(aad, ec[k]...)
	}
	return aad
}

func gcm(material []byte) cipher.AEAD {
	b, err := aes.NewCipher(material)
	if err != nil {
		panic(err) // material is always 32 bytes
	}
	a, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return a
}

func checkAlgorithm(alg string) *apiError {
	if alg != "" && alg != symmetricDefault {
		return errorf("InvalidKeyUsageException", "The encryption algorithm %s is not valid for a symmetric key.", alg)
	}
	return nil
}

func (s *Server) encrypt(u *user, body []byte) (any, *apiError) {
	var in struct {
		KeyId               string
		Plaintext           []byte
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
		GrantTokens         []string
		DryRun              bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if n := len(in.Plaintext); n < 1 || n > 4096 {
		return nil, errorf("ValidationException", "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length between 1 and 4096")
	}
	if e := checkAlgorithm(in.EncryptionAlgorithm); e != nil {
		return nil, e
	}
	k, e := s.resolve(in.KeyId, true)
	if e != nil {
		return nil, e
	}
	if e := authorize(u, "Encrypt", k.arn); e != nil {
		return nil, e
	}
	if e := usable(k); e != nil {
		return nil, e
	}
	if in.DryRun {
		return nil, errorf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	blob := append([]byte{blobVersion}, k.id[:]...)
	nonce := make([]byte, nonceSize)
	rand.Read(nonce)
	blob = append(blob, nonce...)
	blob = gcm(k.material).Seal(blob, nonce, in.Plaintext, contextAAD(blob[:blobHeader], in.EncryptionContext))
	return struct {
		CiphertextBlob      []byte
		KeyId               string
		EncryptionAlgorithm string
	}{blob, k.arn, symmetricDefault}, nil
}

func (s *Server) decrypt(u *user, body []byte) (any, *apiError) {
	var in struct {
		CiphertextBlob      []byte
		KeyId               string
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
		GrantTokens         []string
		DryRun              bool
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if n := len(in.CiphertextBlob); n < 1 || n > 6144 {
		return nil, errorf("ValidationException", "1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	if e := checkAlgorithm(in.EncryptionAlgorithm); e != nil {
		return nil, e
	}
	blob := in.CiphertextBlob
	var named *key
	if in.KeyId != "" {
		k, e := s.resolve(in.KeyId, true)
		if e != nil {
			return nil, e
		}
		if e := authorize(u, "Decrypt", k.arn); e != nil {
			return nil, e
		}
		if e := usable(k); e != nil {
			return nil, e
		}
		named = k
	}
	if len(blob) < blobHeader+nonceSize+tagSize || blob[0] != blobVersion {
		return nil, errorf("InvalidCiphertextException", "")
	}
	var id [16]byte
	copy(id[:], blob[1:blobHeader])
	k := s.keys[formatUUID(id)]
	switch {
	case named != nil && named.id != id:
		return nil, errorf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
	case k == nil:
		return nil, errorf("InvalidCiphertextException", "")
	case named == nil:
		if e := authorize(u, "Decrypt", k.arn); e != nil {
			return nil, e
		}
		if e := usable(k); e != nil {
			return nil, e
		}
	}
	if in.DryRun {
		return nil, errorf("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	nonce := blob[blobHeader : blobHeader+nonceSize]
	pt, err := gcm(k.material).Open(nil, nonce, blob[blobHeader+nonceSize:], contextAAD(blob[:blobHeader], in.EncryptionContext))
	if err != nil {
		return nil, errorf("InvalidCiphertextException", "")
	}
	return struct {
		KeyId               string
		Plaintext           []byte
		EncryptionAlgorithm string
	}{k.arn, pt, symmetricDefault}, nil
}
