package vault_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/kek/kektest"
	"github.com/engram-memory/engram/internal/kek/vault"
	"github.com/engram-memory/engram/internal/kek/vault/vaulttest"
)

const keyName = "engram-root"

// start runs a fake Vault with an aes256-gcm96 key and returns a KEK for it.
func start(t *testing.T, edit ...func(*vault.Config)) (*vaulttest.Server, *vault.KEK) {
	t.Helper()
	srv := vaulttest.Start(t)
	if err := srv.CreateKey("transit", keyName); err != nil {
		t.Fatal(err)
	}
	cfg := vault.Config{Address: srv.URL, Token: srv.Token(), Key: keyName}
	for _, e := range edit {
		e(&cfg)
	}
	k, err := vault.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv, k
}

// operator is the official client as a Vault operator would use it.
func operator(t *testing.T, srv *vaulttest.Server) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(srv.Token())
	return c
}

// checkErr asserts the sentinel, that the message names where the call
// went, and that the token is nowhere in it.
func checkErr(t *testing.T, err error, sentinel error, srv *vaulttest.Server, want ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("want %v, got %v", sentinel, err)
	}
	msg := err.Error()
	if strings.Contains(msg, srv.Token()) {
		t.Fatalf("error contains the token: %s", msg)
	}
	for _, w := range append([]string{keyName}, want...) {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

func TestConformance(t *testing.T) {
	kektest.Run(t, func(t *testing.T) kek.KEK {
		_, k := start(t)
		return k
	})
}

func TestIDAndFormat(t *testing.T) {
	srv, k := start(t, func(c *vault.Config) { c.Address += "/" })
	if want := "vault:" + srv.URL + "/transit/" + keyName; k.ID() != want {
		t.Fatalf("ID %q, want %q", k.ID(), want)
	}
	ctx := context.Background()
	key := []byte("0123456789abcdef0123456789abcdef")
	aad := []byte("tenant=t1;purpose=tenant")
	w, err := k.Wrap(ctx, key, aad)
	if err != nil {
		t.Fatal(err)
	}
	if w[0] != 1 || !bytes.HasPrefix(w[1:], []byte("vault:v1:")) {
		t.Fatalf("wrapped key %q: want 0x01 + vault:v1:...", w)
	}
	// Independently of the provider: the stored ciphertext is Vault's
	// base64(nonce || ct || tag) under the key with aad as GCM AAD.
	raw, err := base64.StdEncoding.DecodeString(string(w[len("\x01vault:v1:"):]))
	if err != nil {
		t.Fatal(err)
	}
	material, ok := srv.KeyMaterial("transit", keyName, 1)
	if !ok {
		t.Fatal("no key material")
	}
	block, _ := aes.NewCipher(material)
	gcm, _ := cipher.NewGCM(block)
	got, err := gcm.Open(nil, raw[:12], raw[12:], aad)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("ciphertext does not open as AES-256-GCM with the aad: %v", err)
	}
	if _, err := gcm.Open(nil, raw[:12], raw[12:], nil); err == nil {
		t.Fatal("ciphertext opens without the aad: associated_data was not sent")
	}
}

func TestRevokedToken(t *testing.T) {
	srv, k := start(t)
	ctx := context.Background()
	w, err := k.Wrap(ctx, []byte("a tenant key of 32 bytes........"), []byte("t1"))
	if err != nil {
		t.Fatal(err)
	}
	srv.RevokeToken()
	got, err := k.Unwrap(ctx, w, []byte("t1"))
	if got != nil {
		t.Fatal("a revoked token still returned a key")
	}
	checkErr(t, err, kek.ErrUnavailable, srv, srv.URL, "permission denied", "403", "revoked")
	if errors.Is(err, kek.ErrUnwrap) {
		t.Fatal("a denied call must not look like a bad ciphertext")
	}
	_, err = k.Wrap(ctx, []byte("another key....................."), []byte("t1"))
	checkErr(t, err, kek.ErrUnavailable, srv, srv.URL, "permission denied")
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Fatalf("the cause is not kept: %v", err)
	}
}

func TestWrongToken(t *testing.T) {
	srv, k := start(t, func(c *vault.Config) { c.Token = "hvs.not-the-right-token" })
	_, err := k.Wrap(context.Background(), []byte("k"), nil)
	checkErr(t, err, kek.ErrUnavailable, srv, "permission denied")
	if strings.Contains(err.Error(), "hvs.not-the-right-token") {
		t.Fatal("error contains the token")
	}
}

func TestUnavailable(t *testing.T) {
	ctx := context.Background()
	key, aad := []byte("a tenant key of 32 bytes........"), []byte("t1")

	t.Run("Down", func(t *testing.T) {
		srv, k := start(t)
		w, err := k.Wrap(ctx, key, aad)
		if err != nil {
			t.Fatal(err)
		}
		srv.Close()
		start := time.Now()
		_, err = k.Unwrap(ctx, w, aad)
		checkErr(t, err, kek.ErrUnavailable, srv, srv.URL, "unreachable")
		_, err = k.Wrap(ctx, key, aad)
		checkErr(t, err, kek.ErrUnavailable, srv, srv.URL)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("a refused connection took %s", d)
		}
	})
	for _, tc := range []struct {
		status int
		want   string
	}{
		{http.StatusServiceUnavailable, "Vault is sealed"},
		{http.StatusInternalServerError, "internal error"},
		{http.StatusTooManyRequests, "rate limit"},
		{http.StatusBadGateway, "502"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv, k := start(t, func(c *vault.Config) { c.Timeout = 2 * time.Second })
			w, err := k.Wrap(ctx, key, aad)
			if err != nil {
				t.Fatal(err)
			}
			srv.Fail(tc.status)
			before := srv.Requests()
			start := time.Now()
			_, err = k.Unwrap(ctx, w, aad)
			checkErr(t, err, kek.ErrUnavailable, srv, srv.URL, tc.want, fmt.Sprint(tc.status))
			_, err = k.Wrap(ctx, key, aad)
			checkErr(t, err, kek.ErrUnavailable, srv, srv.URL, tc.want)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %s", d)
			}
			if n := srv.Requests() - before; n != 2 {
				t.Fatalf("%d requests for 2 calls: the provider retried", n)
			}
			srv.Fail(0)
			if _, err := k.Unwrap(ctx, w, aad); err != nil {
				t.Fatalf("after recovery: %v", err)
			}
		})
	}
	t.Run("Hang", func(t *testing.T) {
		const timeout = 300 * time.Millisecond
		srv, k := start(t, func(c *vault.Config) { c.Timeout = timeout })
		w, err := k.Wrap(ctx, key, aad)
		if err != nil {
			t.Fatal(err)
		}
		srv.Hang(true)
		for name, call := range map[string]func() error{
			"unwrap": func() error { _, err := k.Unwrap(ctx, w, aad); return err },
			"wrap":   func() error { _, err := k.Wrap(ctx, key, aad); return err },
		} {
			start := time.Now()
			err := call()
			d := time.Since(start)
			checkErr(t, err, kek.ErrUnavailable, srv, srv.URL, "300ms")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: cause is not a deadline: %v", name, err)
			}
			if d < timeout-50*time.Millisecond || d > timeout+time.Second {
				t.Errorf("%s: gave up after %s with a %s timeout", name, d, timeout)
			}
		}
		// The caller's own deadline, when shorter, wins.
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = k.Unwrap(short, w, aad)
		if !errors.Is(err, kek.ErrUnavailable) || time.Since(start) > timeout {
			t.Fatalf("caller deadline: %v after %s", err, time.Since(start))
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		srv, k := start(t)
		w, err := k.Wrap(ctx, key, aad)
		if err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		before := srv.Requests()
		_, err = k.Unwrap(cctx, w, aad)
		checkErr(t, err, kek.ErrUnavailable, srv, "canceled")
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cause: %v", err)
		}
		_, err = k.Wrap(cctx, key, aad)
		checkErr(t, err, kek.ErrUnavailable, srv)
		if srv.Requests() != before {
			t.Fatal("a cancelled context still called Vault")
		}
	})
	t.Run("NoMount", func(t *testing.T) {
		srv, k := start(t, func(c *vault.Config) { c.Mount = "elsewhere" })
		_, err := k.Wrap(ctx, key, aad)
		checkErr(t, err, kek.ErrUnavailable, srv, "404", "elsewhere")
	})
}

func TestRotation(t *testing.T) {
	srv, k := start(t)
	ctx := context.Background()
	old := []byte("key wrapped before the rotation.")
	w1, err := k.Wrap(ctx, old, []byte("t1"))
	if err != nil {
		t.Fatal(err)
	}
	// Rotate the way an operator does: vault write -f transit/keys/<k>/rotate.
	op := operator(t, srv)
	sec, err := op.Logical().Write("transit/keys/"+keyName+"/rotate", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := fmt.Sprint(sec.Data["latest_version"]); v != "2" {
		t.Fatalf("latest_version after rotate: %s", v)
	}
	fresh := []byte("key wrapped after the rotation..")
	w2, err := k.Wrap(ctx, fresh, []byte("t1"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(w1[1:], []byte("vault:v1:")) || !bytes.HasPrefix(w2[1:], []byte("vault:v2:")) {
		t.Fatalf("versions: %q / %q", w1[:10], w2[:10])
	}
	for _, c := range []struct{ w, key []byte }{{w1, old}, {w2, fresh}} {
		got, err := k.Unwrap(ctx, c.w, []byte("t1"))
		if err != nil || !bytes.Equal(got, c.key) {
			t.Fatalf("unwrap %q: %v", c.w[:10], err)
		}
	}
	// Once the operator retires v1 (after a rewrap), v1 keys are refused
	// by Vault as a ciphertext problem, not an outage.
	if _, err := op.Logical().Write("transit/keys/"+keyName+"/config", map[string]any{"min_decryption_version": 2}); err != nil {
		t.Fatal(err)
	}
	_, err = k.Unwrap(ctx, w1, []byte("t1"))
	checkErr(t, err, kek.ErrUnwrap, srv, "too old")
	if _, err := k.Unwrap(ctx, w2, []byte("t1")); err != nil {
		t.Fatal(err)
	}
}

func TestRejectedByVault(t *testing.T) {
	srv, k := start(t)
	ctx := context.Background()
	w, err := k.Wrap(ctx, []byte("a tenant key of 32 bytes........"), []byte("t1"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = k.Unwrap(ctx, w, []byte("t2"))
	checkErr(t, err, kek.ErrUnwrap, srv, "message authentication failed", "400")

	// Same server, another Transit key: Vault cannot open it either.
	if err := srv.CreateKey("transit", "other"); err != nil {
		t.Fatal(err)
	}
	other, err := vault.New(vault.Config{Address: srv.URL, Token: srv.Token(), Key: "other"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Unwrap(ctx, w, []byte("t1"))
	if !errors.Is(err, kek.ErrUnwrap) || !strings.Contains(err.Error(), "message authentication failed") {
		t.Fatalf("other key: %v", err)
	}
	// A version the key never had.
	v9 := append([]byte{1}, strings.Replace(string(w[1:]), "vault:v1:", "vault:v9:", 1)...)
	_, err = k.Unwrap(ctx, v9, []byte("t1"))
	checkErr(t, err, kek.ErrUnwrap, srv, "version is too new")
}

func TestMalformedWithoutCallingOut(t *testing.T) {
	srv, k := start(t)
	ctx := context.Background()
	w, err := k.Wrap(ctx, []byte("a tenant key of 32 bytes........"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ct := string(w[1:])
	body := ct[len("vault:v1:"):]
	cases := map[string][]byte{
		"nil":             nil,
		"format byte":     append([]byte{2}, ct...),
		"no format byte":  []byte(ct),
		"no prefix":       append([]byte{1}, body...),
		"version 0":       append([]byte{1}, "vault:v0:"+body...),
		"version -1":      append([]byte{1}, "vault:v-1:"+body...),
		"version x":       append([]byte{1}, "vault:vx:"+body...),
		"leading zero":    append([]byte{1}, "vault:v01:"+body...),
		"no body":         append([]byte{1}, "vault:v1:"...),
		"short body":      append([]byte{1}, "vault:v1:AAAA"...),
		"newline in b64":  append([]byte{1}, "vault:v1:"+body[:8]+"\n"+body[8:]...),
		"truncated b64":   append([]byte{1}, "vault:v1:"+body[:len(body)-1]...),
		"trailing byte":   append(bytes.Clone(w), 0),
		"too long":        append([]byte{1}, "vault:v1:"+strings.Repeat("A", 8000)...),
		"two separators":  append([]byte{1}, "vault:v1::"+body...),
		"raw url base64":  append([]byte{1}, "vault:v1:"+strings.NewReplacer("+", "-", "/", "_").Replace(body)+"-_"...),
		"only the format": {1},
	}
	before := srv.Requests()
	for name, in := range cases {
		if bytes.Equal(in, w) {
			continue
		}
		if _, err := k.Unwrap(ctx, in, nil); !errors.Is(err, kek.ErrUnwrap) {
			t.Errorf("%s: want ErrUnwrap, got %v", name, err)
		}
	}
	if n := srv.Requests() - before; n != 0 {
		t.Fatalf("malformed input made %d calls to Vault", n)
	}
	if _, err := k.Wrap(ctx, nil, nil); err == nil {
		t.Fatal("an empty key was wrapped")
	}
	if _, err := k.Wrap(ctx, make([]byte, 2000), nil); err == nil {
		t.Fatal("a 2000-byte 'key' was wrapped")
	}
	if srv.Requests() != before {
		t.Fatal("refused wraps called Vault")
	}
}

func TestTokenNeverShown(t *testing.T) {
	srv, k := start(t)
	tok := srv.Token()
	cfg := vault.Config{Address: srv.URL, Token: tok, Key: keyName}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%d", "%x"} {
		out = append(out, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, &cfg), fmt.Sprintf(verb, k), fmt.Sprintf(verb, *k))
	}
	out = append(out, cfg.String(), cfg.GoString())
	var logs bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&logs, nil))
	l.Info("start", "vault", cfg, "kek", k)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("start", "vault", cfg, "kek", k)
	out = append(out, logs.String())

	// Every error path.
	ctx := context.Background()
	w, _ := k.Wrap(ctx, []byte("k"), nil)
	collect := func(_ []byte, err error) {
		if err == nil {
			t.Fatal("expected an error")
		}
		out = append(out, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
	}
	collect(k.Unwrap(ctx, w, []byte("other")))
	collect(k.Unwrap(ctx, []byte{1, 2, 3}, nil))
	srv.Fail(503)
	collect(k.Unwrap(ctx, w, nil))
	srv.Fail(0)
	srv.Hang(true)
	hk, _ := vault.New(vault.Config{Address: srv.URL, Token: tok, Key: keyName, Timeout: 50 * time.Millisecond})
	collect(hk.Wrap(ctx, []byte("k"), nil))
	srv.Hang(false)
	srv.RevokeToken()
	collect(k.Wrap(ctx, []byte("k"), nil))
	srv.Close()
	collect(k.Unwrap(ctx, w, nil))
	for _, bad := range []vault.Config{
		{Address: "ftp://x", Token: tok, Key: "k"},
		{Address: "http://vault.example:8200", Token: tok, Key: "k"},
		{Address: srv.URL, Token: tok, Key: "bad key"},
		{Address: srv.URL, Token: tok + " ", Key: "k"},
		{Address: srv.URL, Token: tok, Key: "k", Timeout: -1},
	} {
		_, err := vault.New(bad)
		if err == nil {
			t.Fatalf("accepted %v", bad)
		}
		out = append(out, err.Error())
	}
	for _, s := range out {
		if strings.Contains(s, tok) {
			t.Fatalf("token shown in %q", s)
		}
	}
	if !strings.Contains(fmt.Sprint(cfg), "[redacted]") || !strings.Contains(logs.String(), "[redacted]") {
		t.Fatalf("the token is not marked redacted: %s / %s", fmt.Sprint(cfg), logs.String())
	}
}

func TestEnvironmentIgnored(t *testing.T) {
	srv, _ := start(t)
	t.Setenv("VAULT_TOKEN", "hvs.from-the-environment")
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_NAMESPACE", "someone-else")
	k, err := vault.New(vault.Config{Address: srv.URL, Token: srv.Token(), Key: keyName})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Wrap(context.Background(), []byte("k"), nil); err != nil {
		t.Fatalf("the environment changed the configuration: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	ok := vault.Config{Address: "https://vault.example:8200", Token: "hvs.x", Key: "engram"}
	for name, tc := range map[string]struct {
		edit func(*vault.Config)
		want string // "" = valid; else a part of the message
	}{
		"valid":                {func(*vault.Config) {}, ""},
		"http loopback":        {func(c *vault.Config) { c.Address = "http://127.0.0.1:8200" }, ""},
		"http localhost":       {func(c *vault.Config) { c.Address = "http://localhost:8200" }, ""},
		"http ipv6 loopback":   {func(c *vault.Config) { c.Address = "http://[::1]:8200" }, ""},
		"trailing slash":       {func(c *vault.Config) { c.Address = "https://vault.example:8200/" }, ""},
		"namespace mount":      {func(c *vault.Config) { c.Mount = "/ns1/transit/" }, ""},
		"dotted key":           {func(c *vault.Config) { c.Key = "engram.root-v1_a" }, ""},
		"no address":           {func(c *vault.Config) { c.Address = "" }, "address is required"},
		"no scheme":            {func(c *vault.Config) { c.Address = "vault.example:8200" }, "scheme"},
		"http remote":          {func(c *vault.Config) { c.Address = "http://vault.example:8200" }, "plain http"},
		"unix":                 {func(c *vault.Config) { c.Address = "unix:///run/vault.sock" }, "scheme"},
		"path":                 {func(c *vault.Config) { c.Address = "https://vault.example/v1" }, "scheme://host[:port] only"},
		"query":                {func(c *vault.Config) { c.Address = "https://vault.example?x=1" }, "only"},
		"credentials in url":   {func(c *vault.Config) { c.Address = "https://u:p@vault.example" }, "credentials"},
		"no token":             {func(c *vault.Config) { c.Token = "" }, "token is required"},
		"token with newline":   {func(c *vault.Config) { c.Token = "hvs.x\nX-Evil: 1" }, "non-printable"},
		"no key":               {func(c *vault.Config) { c.Key = "" }, "key name"},
		"key with slash":       {func(c *vault.Config) { c.Key = "a/b" }, "key name"},
		"key ends with dot":    {func(c *vault.Config) { c.Key = "a." }, "key name"},
		"key with dotdot":      {func(c *vault.Config) { c.Key = ".." }, "key name"},
		"mount with dotdot":    {func(c *vault.Config) { c.Mount = "transit/../sys" }, "mount"},
		"mount with space":     {func(c *vault.Config) { c.Mount = "my transit" }, "mount"},
		"mount with empty seg": {func(c *vault.Config) { c.Mount = "a//b" }, "mount"},
		"negative timeout":     {func(c *vault.Config) { c.Timeout = -time.Second }, "timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := ok
			tc.edit(&cfg)
			k, err := vault.New(cfg)
			if err != nil && strings.Contains(err.Error(), "u:p") {
				t.Fatalf("error shows credentials from the address: %v", err)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && err == nil:
				t.Fatalf("accepted %v", cfg)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			if err == nil && !strings.HasPrefix(k.ID(), "vault:http") {
				t.Fatalf("ID %q", k.ID())
			}
		})
	}
	// Defaults: mount "transit"; a trailing slash is not part of the ID.
	k, err := vault.New(vault.Config{Address: "https://vault.example:8200/", Token: "t", Key: "k"})
	if err != nil || k.ID() != "vault:https://vault.example:8200/transit/k" {
		t.Fatalf("%v %v", k, err)
	}
	k, err = vault.New(vault.Config{Address: "https://vault.example:8200", Token: "t", Mount: "/ns1/transit/", Key: "k"})
	if err != nil || k.ID() != "vault:https://vault.example:8200/ns1/transit/k" {
		t.Fatalf("%v %v", k, err)
	}
}

// FuzzUnwrap feeds arbitrary wrapped keys to Unwrap against a live fake
// Vault: whatever passes the local parser reaches Vault, and every input
// must fail as ErrUnwrap (the aad never matches the seeds'), never panic
// and never return a key.
func FuzzUnwrap(f *testing.F) {
	srv := vaulttest.Start(f)
	if err := srv.CreateKey("transit", keyName); err != nil {
		f.Fatal(err)
	}
	k, err := vault.New(vault.Config{Address: srv.URL, Token: srv.Token(), Key: keyName})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	for _, n := range []int{1, 16, 32, 64} {
		w, err := k.Wrap(ctx, make([]byte, n), []byte("seed"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(w)
		f.Add(w[:len(w)-2])
	}
	f.Add([]byte{1})
	f.Add([]byte("\x01vault:v1:"))
	f.Add([]byte("\x01vault:v0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	f.Fuzz(func(t *testing.T, wrapped []byte) {
		key, err := k.Unwrap(ctx, wrapped, []byte("not the seed aad"))
		if key != nil || !errors.Is(err, kek.ErrUnwrap) {
			t.Fatalf("Unwrap(%q) = %x, %v", wrapped, key, err)
		}
		if strings.Contains(err.Error(), srv.Token()) {
			t.Fatal("token in error")
		}
	})
}
