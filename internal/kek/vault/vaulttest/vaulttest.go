// Package vaulttest is a fake HashiCorp Vault that speaks the Transit
// secrets engine's HTTP API on a real loopback listener. It exists because
// a real Vault cannot be built from the Go module proxy (its go.mod carries
// replace directives, and its ./api and ./sdk modules are not in the module
// zip) and CI machines have only Go. The vault KEK's tests run against this
// server through the official client, so it reproduces what the client and
// the provider depend on, as Vault does it:
//
//   - X-Vault-Token authentication; a wrong, missing or revoked token is
//     403 {"errors":["permission denied"]};
//   - POST/PUT /v1/<mount>/encrypt/<name> and /decrypt/<name> with the real
//     request fields (plaintext, ciphertext, associated_data, key_version)
//     and response envelope; ciphertexts are "vault:v<N>:" +
//     base64(nonce || ciphertext || tag) under real AES-256-GCM with the
//     associated data; encrypt creates a missing key (upsert) as Vault does;
//   - key versions: /v1/<mount>/keys/<name> (create, read),
//     /keys/<name>/rotate and /keys/<name>/config (min_decryption_version);
//     new ciphertexts use the newest version, old ones still decrypt;
//   - Vault's decrypt errors as 400s with Vault's messages ("cipher: message
//     authentication failed", "invalid ciphertext: ...", "encryption key
//     not found"), 404 for unknown routes, 405 for other methods.
//
// Test hooks revoke the token, make every request fail with a status (503
// "Vault is sealed", 500, 429, ...) or hang until the client gives up.
// Batch operations, derived and convergent keys and other key types are not
// implemented.
package vaulttest

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// KeyType is the only Transit key type the fake implements.
const KeyType = "aes256-gcm96"

// Server is a fake Vault with the Transit engine mounted at "transit".
type Server struct {
	// URL is the server's address (http://127.0.0.1:<port>).
	URL string

	srv      *httptest.Server
	closing  chan struct{}
	closeOne sync.Once
	requests atomic.Int64

	mu      sync.Mutex
	token   string
	revoked bool
	fail    int  // status every request answers with, 0 = none
	hang    bool // requests block until the client goes away
	mounts  map[string]map[string]*transitKey
}

type transitKey struct {
	versions      [][]byte // versions[i] is version i+1
	created       []time.Time
	minDecryption int
}

// Start runs a server on 127.0.0.1 with a random root token and Transit
// mounted at "transit". It is closed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	tok := make([]byte, 18)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	s := &Server{
		closing: make(chan struct{}),
		token:   "hvs." + base64.RawURLEncoding.EncodeToString(tok),
		mounts:  map[string]map[string]*transitKey{"transit": {}},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP)) // listens on 127.0.0.1:0
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server; later requests fail to connect. Hanging requests
// are released.
func (s *Server) Close() {
	s.closeOne.Do(func() {
		close(s.closing)
		s.srv.Close()
	})
}

// Token is the root token (valid for every path until revoked).
func (s *Server) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// RevokeToken revokes the root token: every later request is 403.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// Fail makes every request answer with status and a Vault-style error body
// (503: "Vault is sealed"). Fail(0) ends it.
func (s *Server) Fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = status
}

// Hang makes requests block until the client disconnects or the server is
// closed (on = true), or answer normally again (on = false).
func (s *Server) Hang(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hang = on
}

// Requests counts the HTTP requests the server received.
func (s *Server) Requests() int { return int(s.requests.Load()) }

// Mount enables another Transit engine at path.
func (s *Server) Mount(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	path = strings.Trim(path, "/")
	if s.mounts[path] == nil {
		s.mounts[path] = map[string]*transitKey{}
	}
}

// CreateKey creates an aes256-gcm96 key (version 1) unless it exists.
func (s *Server) CreateKey(mount, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := s.mounts[strings.Trim(mount, "/")]
	if keys == nil {
		return fmt.Errorf("vaulttest: no transit mount at %q", mount)
	}
	if keys[name] == nil {
		k, err := newKey()
		if err != nil {
			return err
		}
		keys[name] = k
	}
	return nil
}

// RotateKey adds a version to a key and returns the new latest version.
func (s *Server) RotateKey(mount, name string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.mounts[strings.Trim(mount, "/")][name]
	if k == nil {
		return 0, fmt.Errorf("vaulttest: no key %q in mount %q", name, mount)
	}
	if err := k.rotate(); err != nil {
		return 0, err
	}
	return len(k.versions), nil
}

// KeyMaterial returns a copy of one version of a key, so that tests can
// check the ciphertext format independently. Vault only exports keys
// created exportable; this is a test hook.
func (s *Server) KeyMaterial(mount, name string, version int) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.mounts[strings.Trim(mount, "/")][name]
	if k == nil || version < 1 || version > len(k.versions) {
		return nil, false
	}
	return append([]byte(nil), k.versions[version-1]...), true
}

func newKey() (*transitKey, error) {
	k := &transitKey{minDecryption: 1}
	return k, k.rotate()
}

func (k *transitKey) rotate() error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	k.versions = append(k.versions, b)
	k.created = append(k.created, time.Now())
	return nil
}

// vaultError is an error answered as {"errors":[msg]} with status.
type vaultError struct {
	status int
	msg    string
}

func (e *vaultError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &vaultError{status: status, msg: fmt.Sprintf(format, args...)}
}

var errPermissionDenied = &vaultError{status: http.StatusForbidden, msg: "permission denied"}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	hang, fail := s.hang, s.fail
	s.mu.Unlock()
	if hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	if fail != 0 {
		writeError(w, &vaultError{status: fail, msg: failMessage(fail, r.URL.Path)})
		return
	}
	data, err := s.handle(r)
	if err != nil {
		var ve *vaultError
		if !errors.As(err, &ve) {
			ve = &vaultError{status: http.StatusInternalServerError, msg: err.Error()}
		}
		writeError(w, ve)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id":     requestID(),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           data,
		"wrap_info":      nil,
		"warnings":       nil,
		"auth":           nil,
		"mount_type":     "transit",
	})
}

func failMessage(status int, path string) string {
	switch status {
	case http.StatusServiceUnavailable:
		return "Vault is sealed"
	case http.StatusTooManyRequests:
		return fmt.Sprintf("request path %q: rate limit quota exceeded", strings.TrimPrefix(path, "/v1/"))
	case http.StatusInternalServerError:
		return "internal error"
	default:
		return http.StatusText(status)
	}
}

func (s *Server) handle(r *http.Request) (map[string]any, error) {
	tok := r.Header.Get("X-Vault-Token")
	if tok == "" {
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	s.mu.Lock()
	ok := tok != "" && tok == s.token && !s.revoked
	s.mu.Unlock()
	if !ok {
		return nil, errPermissionDenied
	}
	path, found := strings.CutPrefix(r.URL.Path, "/v1/")
	if !found {
		return nil, errorf(http.StatusNotFound, "404 page not found")
	}
	mount, op, name, sub, ok := s.route(path)
	if !ok {
		return nil, errorf(http.StatusNotFound, "no handler for route %q. route entry not found.", path)
	}
	write := r.Method == http.MethodPost || r.Method == http.MethodPut
	read := r.Method == http.MethodGet
	var body map[string]any
	if write {
		var err error
		if body, err = decodeBody(r); err != nil {
			return nil, err
		}
	}
	switch {
	case op == "encrypt" && sub == "" && write:
		return s.encrypt(mount, name, body)
	case op == "decrypt" && sub == "" && write:
		return s.decrypt(mount, name, body)
	case op == "keys" && sub == "" && write:
		return s.createKey(mount, name, body)
	case op == "keys" && sub == "" && read:
		return s.readKey(mount, name)
	case op == "keys" && sub == "rotate" && write:
		return s.rotate(mount, name)
	case op == "keys" && sub == "config" && write:
		return s.configKey(mount, name, body)
	case op == "encrypt" || op == "decrypt" || (op == "keys" && (sub == "" || sub == "rotate" || sub == "config")):
		return nil, errorf(http.StatusMethodNotAllowed, "unsupported operation")
	default:
		return nil, errorf(http.StatusNotFound, "no handler for route %q. route entry not found.", path)
	}
}

// route splits <mount>/<op>/<name>[/<sub>] against the mounted engines
// (the longest mount wins, as in Vault's router).
func (s *Server) route(path string) (mount, op, name, sub string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for m := range s.mounts {
		rest, found := strings.CutPrefix(path, m+"/")
		if !found || len(m) <= len(mount) {
			continue
		}
		parts := strings.Split(rest, "/")
		if len(parts) < 2 || len(parts) > 3 || parts[1] == "" {
			continue
		}
		mount, op, name, sub, ok = m, parts[0], parts[1], "", true
		if len(parts) == 3 {
			sub = parts[2]
		}
	}
	return
}

func decodeBody(r *http.Request) (map[string]any, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return nil, errorf(http.StatusRequestEntityTooLarge, "failed to read request: %v", err)
	}
	body := map[string]any{}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return body, nil
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return nil, errorf(http.StatusBadRequest, "failed to parse JSON input: %v", err)
	}
	return body, nil
}

func stringField(body map[string]any, name string) (string, error) {
	v, ok := body[name]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", errorf(http.StatusBadRequest, "error converting input for field %q: expected type 'string', got unconvertible type '%T'", name, v)
	}
	return s, nil
}

func intField(body map[string]any, name string) (int, error) {
	v, ok := body[name]
	if !ok || v == nil {
		return 0, nil
	}
	var str string
	switch v := v.(type) {
	case json.Number:
		str = v.String()
	case string:
		str = v
	default:
		return 0, errorf(http.StatusBadRequest, "error converting input for field %q: expected type 'int', got unconvertible type '%T'", name, v)
	}
	n, err := strconv.Atoi(str)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "error converting input for field %q: %v", name, err)
	}
	return n, nil
}

func (s *Server) encrypt(mount, name string, body map[string]any) (map[string]any, error) {
	pt64, err := stringField(body, "plaintext")
	if err != nil {
		return nil, err
	}
	if _, ok := body["plaintext"]; !ok {
		return nil, errorf(http.StatusBadRequest, "missing plaintext to encrypt")
	}
	ad64, err := stringField(body, "associated_data")
	if err != nil {
		return nil, err
	}
	ver, err := intField(body, "key_version")
	if err != nil {
		return nil, err
	}
	plaintext, err := base64.StdEncoding.DecodeString(pt64)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "failed to base64-decode plaintext")
	}
	ad, err := base64.StdEncoding.DecodeString(ad64)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "unable to get associated_data/additional_data from factory[0]: %v", err)
	}

	s.mu.Lock()
	k := s.mounts[mount][name]
	if k == nil {
		// Upsert: Vault creates a missing key on encrypt (unless the mount
		// disables it), with the default type.
		if k, err = newKey(); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.mounts[mount][name] = k
	}
	if ver == 0 {
		ver = len(k.versions)
	}
	if ver < 0 || ver > len(k.versions) {
		s.mu.Unlock()
		return nil, errorf(http.StatusBadRequest, "invalid key version")
	}
	key := k.versions[ver-1]
	s.mu.Unlock()

	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	sealed := aead.Seal(nonce, nonce, plaintext, ad)
	return map[string]any{
		"ciphertext":  "vault:v" + strconv.Itoa(ver) + ":" + base64.StdEncoding.EncodeToString(sealed),
		"key_version": ver,
	}, nil
}

func (s *Server) decrypt(mount, name string, body map[string]any) (map[string]any, error) {
	ct, err := stringField(body, "ciphertext")
	if err != nil {
		return nil, err
	}
	if ct == "" {
		return nil, errorf(http.StatusBadRequest, "missing ciphertext to decrypt")
	}
	ad64, err := stringField(body, "associated_data")
	if err != nil {
		return nil, err
	}
	ad, err := base64.StdEncoding.DecodeString(ad64)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, "unable to get associated_data/additional_data from factory[0]: %v", err)
	}

	s.mu.Lock()
	k := s.mounts[mount][name]
	if k == nil {
		s.mu.Unlock()
		return nil, errorf(http.StatusBadRequest, "encryption key not found")
	}
	latest, minDec := len(k.versions), k.minDecryption
	versions := k.versions
	s.mu.Unlock()

	// The checks and messages follow Vault's keysutil.Policy.
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return nil, errorf(http.StatusBadRequest, "invalid ciphertext: no prefix")
	}
	parts := strings.SplitN(rest, ":", 2)
	if len(parts) != 2 {
		return nil, errorf(http.StatusBadRequest, "invalid ciphertext: wrong number of fields")
	}
	ver, err := strconv.Atoi(parts[0])
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid ciphertext: version number could not be decoded")
	}
	if ver == 0 {
		ver = 1 // Vault's compatibility with keys that started at zero
	}
	if ver > latest {
		return nil, errorf(http.StatusBadRequest, "invalid ciphertext: version is too new")
	}
	if ver < minDec || ver < 1 {
		return nil, errorf(http.StatusBadRequest, "ciphertext or signature version is disallowed by policy (too old)")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid ciphertext: could not decode base64")
	}
	aead, err := newGCM(versions[ver-1])
	if err != nil {
		return nil, err
	}
	if len(raw) < aead.NonceSize() {
		return nil, errorf(http.StatusBadRequest, "invalid ciphertext length")
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], ad)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err) // "cipher: message authentication failed"
	}
	return map[string]any{"plaintext": base64.StdEncoding.EncodeToString(plain)}, nil
}

func (s *Server) createKey(mount, name string, body map[string]any) (map[string]any, error) {
	typ, err := stringField(body, "type")
	if err != nil {
		return nil, err
	}
	if typ != "" && typ != KeyType {
		return nil, errorf(http.StatusBadRequest, "unknown key type: this fake Vault implements only %s", KeyType)
	}
	if err := s.CreateKey(mount, name); err != nil {
		return nil, err
	}
	return s.readKey(mount, name)
}

func (s *Server) rotate(mount, name string) (map[string]any, error) {
	s.mu.Lock()
	k := s.mounts[mount][name]
	s.mu.Unlock()
	if k == nil {
		return nil, errorf(http.StatusBadRequest, "key not found")
	}
	if _, err := s.RotateKey(mount, name); err != nil {
		return nil, err
	}
	return s.readKey(mount, name)
}

func (s *Server) configKey(mount, name string, body map[string]any) (map[string]any, error) {
	minDec, err := intField(body, "min_decryption_version")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	k := s.mounts[mount][name]
	if k == nil {
		s.mu.Unlock()
		return nil, errorf(http.StatusBadRequest, "no existing key named %s could be found", name)
	}
	if minDec > len(k.versions) {
		s.mu.Unlock()
		return nil, errorf(http.StatusBadRequest, "cannot set min decryption version of %d, latest key version is %d", minDec, len(k.versions))
	}
	if minDec > 0 {
		k.minDecryption = minDec
	}
	s.mu.Unlock()
	return s.readKey(mount, name)
}

func (s *Server) readKey(mount, name string) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.mounts[mount][name]
	if k == nil {
		return nil, &vaultError{status: http.StatusNotFound}
	}
	versions := map[string]any{}
	for i, t := range k.created {
		versions[strconv.Itoa(i+1)] = t.Unix()
	}
	return map[string]any{
		"name":                   name,
		"type":                   KeyType,
		"keys":                   versions,
		"latest_version":         len(k.versions),
		"min_decryption_version": k.minDecryption,
		"min_encryption_version": 0,
		"min_available_version":  0,
		"deletion_allowed":       false,
		"derived":                false,
		"exportable":             false,
		"allow_plaintext_backup": false,
		"supports_encryption":    true,
		"supports_decryption":    true,
		"supports_derivation":    true,
		"supports_signing":       false,
		"auto_rotate_period":     0,
		"imported_key":           false,
	}, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func writeError(w http.ResponseWriter, e *vaultError) {
	errs := []string{}
	if e.msg != "" {
		errs = append(errs, e.msg)
	}
	writeJSON(w, e.status, map[string]any{"errors": errs})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
