package vaulttest_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/engram-memory/engram/internal/kek/vault/vaulttest"
)

// call sends one raw request, as curl would, and decodes the JSON answer.
func call(t *testing.T, srv *vaulttest.Server, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Vault-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	out := map[string]any{}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

func errorsOf(t *testing.T, body map[string]any) []string {
	t.Helper()
	raw, ok := body["errors"].([]any)
	if !ok {
		t.Fatalf("no errors array in %v", body)
	}
	var out []string
	for _, e := range raw {
		out = append(out, e.(string))
	}
	return out
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestWireShapes pins the fake to the request and response shapes of the
// Vault Transit HTTP API.
func TestWireShapes(t *testing.T) {
	srv := vaulttest.Start(t)
	tok := srv.Token()

	// Create a key (POST /v1/transit/keys/:name) and read it back.
	code, resp := call(t, srv, "POST", "/v1/transit/keys/k1", tok, `{"type":"aes256-gcm96"}`)
	if code != 200 {
		t.Fatalf("create: %d %v", code, resp)
	}
	code, resp = call(t, srv, "GET", "/v1/transit/keys/k1", tok, "")
	data := resp["data"].(map[string]any)
	if code != 200 || data["type"] != "aes256-gcm96" || data["latest_version"].(float64) != 1 || data["name"] != "k1" {
		t.Fatalf("read key: %d %v", code, resp)
	}
	for _, f := range []string{"request_id", "lease_id", "renewable", "lease_duration", "wrap_info", "warnings", "auth"} {
		if _, ok := resp[f]; !ok {
			t.Errorf("response envelope lacks %q", f)
		}
	}

	// Encrypt with associated data.
	code, resp = call(t, srv, "POST", "/v1/transit/encrypt/k1", tok,
		`{"plaintext":"`+b64("secret")+`","associated_data":"`+b64("ad")+`"}`)
	if code != 200 {
		t.Fatalf("encrypt: %d %v", code, resp)
	}
	data = resp["data"].(map[string]any)
	ct := data["ciphertext"].(string)
	if !strings.HasPrefix(ct, "vault:v1:") || data["key_version"].(float64) != 1 {
		t.Fatalf("encrypt data: %v", data)
	}
	// The ciphertext is base64(nonce || ct || tag) under AES-256-GCM.
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(ct, "vault:v1:"))
	if err != nil || len(raw) != 12+len("secret")+16 {
		t.Fatalf("ciphertext layout: %d bytes, %v", len(raw), err)
	}
	key, _ := srv.KeyMaterial("transit", "k1", 1)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	if pt, err := gcm.Open(nil, raw[:12], raw[12:], []byte("ad")); err != nil || string(pt) != "secret" {
		t.Fatalf("independent decrypt: %q %v", pt, err)
	}

	// Decrypt (PUT works as well as POST, as in Vault).
	code, resp = call(t, srv, "PUT", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"`+ct+`","associated_data":"`+b64("ad")+`"}`)
	if code != 200 || resp["data"].(map[string]any)["plaintext"] != b64("secret") {
		t.Fatalf("decrypt: %d %v", code, resp)
	}

	// Errors, with Vault's statuses and messages.
	for _, c := range []struct {
		method, path, token, body string
		code                      int
		msg                       string
	}{
		{"POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"` + ct + `","associated_data":"` + b64("other") + `"}`, 400, "cipher: message authentication failed"},
		{"POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"` + ct + `"}`, 400, "cipher: message authentication failed"},
		{"POST", "/v1/transit/decrypt/k1", "hvs.wrong", `{"ciphertext":"` + ct + `"}`, 403, "permission denied"},
		{"POST", "/v1/transit/decrypt/k1", "", `{"ciphertext":"` + ct + `"}`, 403, "permission denied"},
		{"POST", "/v1/transit/decrypt/nokey", tok, `{"ciphertext":"` + ct + `"}`, 400, "encryption key not found"},
		{"POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"v1:abc"}`, 400, "invalid ciphertext: no prefix"},
		{"POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"vault:v1"}`, 400, "invalid ciphertext: wrong number of fields"},
		{"POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"vault:vx:AAAA"}`, 400, "invalid ciphertext: version number could not be decoded"},
		{"POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"vault:v2:AAAA"}`, 400, "invalid ciphertext: version is too new"},
		{"POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"vault:v1:!!"}`, 400, "invalid ciphertext: could not decode base64"},
		{"POST", "/v1/transit/decrypt/k1", tok, `{}`, 400, "missing ciphertext to decrypt"},
		{"POST", "/v1/transit/encrypt/k1", tok, `{}`, 400, "missing plaintext to encrypt"},
		{"POST", "/v1/transit/encrypt/k1", tok, `{"plaintext":"!!"}`, 400, "failed to base64-decode plaintext"},
		{"POST", "/v1/transit/encrypt/k1", tok, `{"plaintext":`, 400, "failed to parse JSON input"},
		{"POST", "/v1/nomount/encrypt/k1", tok, `{"plaintext":""}`, 404, "no handler for route"},
		{"GET", "/v1/transit/encrypt/k1", tok, ``, 405, "unsupported operation"},
	} {
		code, resp := call(t, srv, c.method, c.path, c.token, c.body)
		errs := errorsOf(t, resp)
		if code != c.code || len(errs) != 1 || !strings.Contains(errs[0], c.msg) {
			t.Errorf("%s %s %s: got %d %v, want %d %q", c.method, c.path, c.body, code, errs, c.code, c.msg)
		}
	}

	// Rotation: new writes use v2, v1 still decrypts; min_decryption_version retires v1.
	code, resp = call(t, srv, "POST", "/v1/transit/keys/k1/rotate", tok, "")
	if code != 200 || resp["data"].(map[string]any)["latest_version"].(float64) != 2 {
		t.Fatalf("rotate: %d %v", code, resp)
	}
	_, resp = call(t, srv, "POST", "/v1/transit/encrypt/k1", tok, `{"plaintext":"`+b64("x")+`"}`)
	if d := resp["data"].(map[string]any); !strings.HasPrefix(d["ciphertext"].(string), "vault:v2:") || d["key_version"].(float64) != 2 {
		t.Fatalf("after rotate: %v", d)
	}
	if code, _ := call(t, srv, "POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"`+ct+`","associated_data":"`+b64("ad")+`"}`); code != 200 {
		t.Fatalf("v1 after rotate: %d", code)
	}
	if code, _ := call(t, srv, "POST", "/v1/transit/keys/k1/config", tok, `{"min_decryption_version":2}`); code != 200 {
		t.Fatalf("config: %d", code)
	}
	code, resp = call(t, srv, "POST", "/v1/transit/decrypt/k1", tok, `{"ciphertext":"`+ct+`","associated_data":"`+b64("ad")+`"}`)
	if errs := errorsOf(t, resp); code != 400 || !strings.Contains(errs[0], "too old") {
		t.Fatalf("retired v1: %d %v", code, errs)
	}

	// Upsert: encrypt creates a missing key, as Vault does by default.
	if code, _ := call(t, srv, "POST", "/v1/transit/encrypt/fresh", tok, `{"plaintext":"`+b64("x")+`"}`); code != 200 {
		t.Fatalf("upsert: %d", code)
	}
	if _, ok := srv.KeyMaterial("transit", "fresh", 1); !ok {
		t.Fatal("upsert did not create the key")
	}

	// Hooks: failure, revocation.
	srv.Fail(503)
	code, resp = call(t, srv, "POST", "/v1/transit/encrypt/k1", tok, `{"plaintext":""}`)
	if errs := errorsOf(t, resp); code != 503 || errs[0] != "Vault is sealed" {
		t.Fatalf("sealed: %d %v", code, errs)
	}
	srv.Fail(0)
	srv.RevokeToken()
	code, resp = call(t, srv, "POST", "/v1/transit/encrypt/k1", tok, `{"plaintext":""}`)
	if errs := errorsOf(t, resp); code != 403 || errs[0] != "permission denied" {
		t.Fatalf("revoked: %d %v", code, errs)
	}
}

func TestMounts(t *testing.T) {
	srv := vaulttest.Start(t)
	srv.Mount("ns1/transit")
	if err := srv.CreateKey("ns1/transit", "k"); err != nil {
		t.Fatal(err)
	}
	code, resp := call(t, srv, "POST", "/v1/ns1/transit/encrypt/k", srv.Token(), `{"plaintext":"`+b64("x")+`"}`)
	if code != 200 {
		t.Fatalf("%d %v", code, resp)
	}
	ct := resp["data"].(map[string]any)["ciphertext"].(string)
	// Keys are per mount.
	code, _ = call(t, srv, "POST", "/v1/transit/decrypt/k", srv.Token(), `{"ciphertext":"`+ct+`"}`)
	if code != 400 {
		t.Fatalf("key leaked across mounts: %d", code)
	}
	if err := srv.CreateKey("nowhere", "k"); err == nil {
		t.Fatal("created a key in a missing mount")
	}
	if v, err := srv.RotateKey("ns1/transit", "k"); err != nil || v != 2 {
		t.Fatalf("rotate: %d %v", v, err)
	}
	a, _ := srv.KeyMaterial("ns1/transit", "k", 1)
	b, _ := srv.KeyMaterial("ns1/transit", "k", 2)
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatal("versions share key material")
	}
}
