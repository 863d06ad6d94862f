// Package vault is the KEK kept in HashiCorp Vault's Transit secrets
// engine. The root key never leaves Vault: Engram sends a tenant key to
// be encrypted and stores the "vault:vN:..." ciphertext Vault returns, so
// reading the data directory, database and backups together still does not
// unwrap a single key without a live, authorised Vault token. Revoking the
// token (or the policy) cuts Engram off at once: nothing is cached here.
//
// Each wrapped key is bound to its aad through Transit's associated_data
// (AES-256-GCM AAD), so Vault itself refuses to open a wrapped key for
// another owner or purpose. Key rotation is Vault's: after
// "transit/keys/<key>/rotate" new wraps use the newest version and older
// wrapped keys still unwrap (until min_decryption_version is raised).
//
// Error contract: every failure to reach Vault or to get an answer from it
// (network, timeout, cancelled context, 403, 404, 429, 5xx, a malformed
// response) wraps kek.ErrUnavailable; Vault refusing a ciphertext (HTTP 400
// on decrypt: authentication failed, wrong aad, unknown version) and
// malformed wrapped input wrap kek.ErrUnwrap. Messages name the address,
// mount and key; they never contain the token.
package vault

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"unicode"

	"github.com/hashicorp/vault/api"

	"github.com/engram-memory/engram/internal/kek"
)

// KEK wraps keys with a Vault Transit key. It is safe for concurrent use.
type KEK struct {
	id      string
	cfg     validated
	client  *api.Client
	encPath string // <mount>/encrypt/<key>
	decPath string // <mount>/decrypt/<key>
}

var _ kek.KEK = (*KEK)(nil)

// New validates cfg and returns a KEK. It does not call Vault: the first
// Wrap or Unwrap does, so a server that is down at start surfaces as
// kek.ErrUnavailable there. Environment variables the Vault CLI honours
// (VAULT_TOKEN, VAULT_NAMESPACE, VAULT_SKIP_VERIFY, VAULT_HEADERS, ...) do
// not change what New configures.
func New(cfg Config) (*KEK, error) {
	v, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	hc := &http.Client{
		Transport: transport,
		// Never follow a redirect: it would carry the token to wherever
		// the Location header points. Vault standbys forward requests by
		// default; a redirect fails as ErrUnavailable.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	client, err := api.NewClient(&api.Config{
		Address:          v.addr,
		HttpClient:       hc,
		Timeout:          v.timeout,
		MaxRetries:       0, // the caller decides; a retry would hide an outage inside the timeout
		DisableRedirects: true,
	})
	if err != nil {
		return nil, fmt.Errorf("vault kek: client for %s: %w", v.addr, err)
	}
	// Drop whatever NewClient took from the environment (namespace,
	// VAULT_HEADERS) and keep only the CSRF header Vault expects.
	client.SetHeaders(http.Header{api.RequestHeaderName: []string{"true"}})
	client.SetToken(v.token)
	return &KEK{
		id:      "vault:" + v.addr + "/" + v.mount + "/" + v.key,
		cfg:     v,
		client:  client,
		encPath: v.mount + "/encrypt/" + v.key,
		decPath: v.mount + "/decrypt/" + v.key,
	}, nil
}

// ID is "vault:<address>/<mount>/<key>".
func (k *KEK) ID() string { return k.id }

// String, GoString, Format and LogValue show the ID only, whatever the
// verb. They have value receivers so that printing a KEK value (not only a
// pointer) never reaches the fields: fmt's bad-verb path would print what
// the client points to, token included.
func (k KEK) String() string             { return k.id }
func (k KEK) GoString() string           { return "vault.KEK(" + k.id + ")" }
func (k KEK) LogValue() slog.Value       { return slog.StringValue(k.id) }
func (k KEK) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, k.id) }

// Wrap has Vault encrypt key under the Transit key with aad as
// associated_data. Errors wrap kek.ErrUnavailable.
func (k *KEK) Wrap(ctx context.Context, key, aad []byte) ([]byte, error) {
	if len(key) == 0 || len(key) > maxKeyLen {
		return nil, fmt.Errorf("vault kek: wrap: key must be 1 to %d bytes, got %d", maxKeyLen, len(key))
	}
	body := map[string]any{"plaintext": base64.StdEncoding.EncodeToString(key)}
	if len(aad) > 0 {
		body["associated_data"] = base64.StdEncoding.EncodeToString(aad)
	}
	data, err := k.call(ctx, "encrypt", k.encPath, body)
	if err != nil {
		return nil, err
	}
	ct, _ := data["ciphertext"].(string)
	ver, perr := parseCiphertext(ct)
	if perr != nil || len(ct)+1 > maxWrapped {
		return nil, k.fail(kek.ErrUnavailable, "encrypt", nil, "unexpected response: no valid ciphertext")
	}
	if kv, ok := data["key_version"]; ok && fmt.Sprint(kv) != fmt.Sprint(ver) {
		return nil, k.fail(kek.ErrUnavailable, "encrypt", nil, "unexpected response: key_version does not match the ciphertext")
	}
	return encodeWrapped(ct), nil
}

// Unwrap has Vault decrypt a wrapped key with aad as associated_data.
// Malformed input is kek.ErrUnwrap without a call; Vault refusing the
// ciphertext (HTTP 400) is kek.ErrUnwrap; anything else is
// kek.ErrUnavailable.
func (k *KEK) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	ct, err := decodeWrapped(wrapped)
	if err != nil {
		return nil, fmt.Errorf("%w: vault transit: %w (not a wrapped key of this provider)", kek.ErrUnwrap, err)
	}
	body := map[string]any{"ciphertext": ct}
	if len(aad) > 0 {
		body["associated_data"] = base64.StdEncoding.EncodeToString(aad)
	}
	data, err := k.call(ctx, "decrypt", k.decPath, body)
	if err != nil {
		return nil, err
	}
	pt, _ := data["plaintext"].(string)
	key, derr := base64.StdEncoding.DecodeString(pt)
	if derr != nil || len(key) == 0 {
		return nil, k.fail(kek.ErrUnavailable, "decrypt", nil, "unexpected response: no valid plaintext")
	}
	return key, nil
}

// call writes body to path and returns the response's data. Errors are
// mapped as the package comment says.
func (k *KEK) call(ctx context.Context, op, path string, body map[string]any) (map[string]any, error) {
	if err := ctx.Err(); err != nil {
		return nil, k.fail(kek.ErrUnavailable, op, err, "not called: "+err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, k.cfg.timeout)
	defer cancel()
	secret, err := k.client.Logical().WriteWithContext(ctx, path, body)
	if err != nil {
		var re *api.ResponseError
		if errors.As(err, &re) {
			return nil, k.responseError(op, re)
		}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			return nil, k.fail(kek.ErrUnavailable, op, err, fmt.Sprintf("no answer before the deadline (timeout %s): %v", k.cfg.timeout, err))
		case errors.Is(err, context.Canceled):
			return nil, k.fail(kek.ErrUnavailable, op, err, "cancelled: "+err.Error())
		default:
			return nil, k.fail(kek.ErrUnavailable, op, err, "unreachable: "+err.Error())
		}
	}
	if secret == nil || secret.Data == nil {
		return nil, k.fail(kek.ErrUnavailable, op, nil, "unexpected response: no data")
	}
	return secret.Data, nil
}

func (k *KEK) responseError(op string, re *api.ResponseError) error {
	msgs := vaultMessages(re.Errors)
	switch code := re.StatusCode; {
	case code == http.StatusBadRequest && op == "decrypt":
		return k.fail(kek.ErrUnwrap, op, re, "Vault refused the ciphertext (HTTP 400): "+msgs)
	case code == http.StatusForbidden:
		return k.fail(kek.ErrUnavailable, op, re, fmt.Sprintf(
			"HTTP 403 %s: the token is invalid, expired or revoked, or its policy does not allow update on %q",
			msgs, "/v1/"+k.cfg.mount+"/"+op+"/"+k.cfg.key))
	case code == http.StatusNotFound:
		return k.fail(kek.ErrUnavailable, op, re, fmt.Sprintf("not found (HTTP 404): is Transit mounted at %q? %s", k.cfg.mount, msgs))
	case code == http.StatusTooManyRequests:
		return k.fail(kek.ErrUnavailable, op, re, "rate limited (HTTP 429): "+msgs)
	case code >= 500:
		return k.fail(kek.ErrUnavailable, op, re, fmt.Sprintf("server error (HTTP %d): %s", code, msgs))
	default:
		return k.fail(kek.ErrUnavailable, op, re, fmt.Sprintf("refused (HTTP %d): %s", code, msgs))
	}
}

// vaultMessages renders Vault's "errors" array for an error message:
// printable ASCII only, bounded, since it is text from the network.
func vaultMessages(errs []string) string {
	s := strings.Join(errs, "; ")
	s = strings.Map(func(r rune) rune {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	if s == "" {
		s = "no error message"
	}
	return s
}

// callError carries a message built here (scrubbed of the token) while
// still matching the sentinel and the underlying cause with errors.Is/As.
type callError struct {
	msg  string
	errs []error
}

func (e *callError) Error() string   { return e.msg }
func (e *callError) Unwrap() []error { return e.errs }

func (k *KEK) fail(sentinel error, op string, cause error, detail string) error {
	msg := fmt.Sprintf("%v: vault transit %s with key %q (mount %q) at %s: %s",
		sentinel, op, k.cfg.key, k.cfg.mount, k.cfg.addr, detail)
	// Nothing above should contain the token; make sure of it anyway.
	msg = strings.ReplaceAll(msg, k.cfg.token, redacted)
	errs := []error{sentinel}
	if cause != nil {
		errs = append(errs, cause)
	}
	return &callError{msg: msg, errs: errs}
}
