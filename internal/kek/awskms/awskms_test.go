package awskms_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/engram-memory/engram/internal/kek"
	"github.com/engram-memory/engram/internal/kek/awskms"
	"github.com/engram-memory/engram/internal/kek/awskms/kmstest"
	"github.com/engram-memory/engram/internal/kek/kektest"
)

const region = "eu-central-1"

// TestMain keeps the host's AWS settings (profiles, credentials, endpoint
// overrides, instance metadata) out of the tests.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "awskms-test")
	if err != nil {
		panic(err)
	}
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "AWS_") {
			os.Unsetenv(name)
		}
	}
	os.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	os.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a fake KMS with one user and an SDK client acting as its
// administrator.
type env struct {
	srv   *kmstest.Server
	creds kmstest.Credentials
	admin *kms.Client
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := kmstest.Start(t, region)
	creds := srv.AddUser("engram")
	admin := kms.New(kms.Options{
		Region:       region,
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
	})
	return &env{srv: srv, creds: creds, admin: admin}
}

// createKey makes a key through the KMS API and returns its key id.
func (e *env) createKey(t *testing.T) string {
	t.Helper()
	out, err := e.admin.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("engram test KEK")})
	if err != nil {
		t.Fatal(err)
	}
	return *out.KeyMetadata.KeyId
}

func (e *env) config(keyID string) awskms.Config {
	return awskms.Config{
		KeyID:           keyID,
		Region:          region,
		Endpoint:        e.srv.URL,
		AccessKeyID:     e.creds.AccessKeyID,
		SecretAccessKey: e.creds.SecretAccessKey,
		Timeout:         5 * time.Second,
	}
}

func open(t *testing.T, cfg awskms.Config) *awskms.KEK {
	t.Helper()
	k, err := awskms.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// noSecrets fails when err's text, in any format, holds a credential.
func noSecrets(t *testing.T, err error, creds ...kmstest.Credentials) {
	t.Helper()
	if err == nil {
		return
	}
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		for _, c := range creds {
			for _, s := range []string{c.AccessKeyID, c.SecretAccessKey, c.SessionToken} {
				if s != "" && strings.Contains(text, s) {
					t.Fatalf("error text holds a credential: %s", text)
				}
			}
		}
	}
}

func mustWrap(t *testing.T, k kek.KEK, key, aad []byte) []byte {
	t.Helper()
	w, err := k.Wrap(context.Background(), key, aad)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func key32() []byte { return bytes.Repeat([]byte{0x5a}, 32) }

func TestConformance(t *testing.T) {
	e := newEnv(t)
	kektest.Run(t, func(t *testing.T) kek.KEK {
		return open(t, e.config(e.createKey(t)))
	})
}

func TestIDAndAlias(t *testing.T) {
	e := newEnv(t)
	id := e.createKey(t)
	byID := open(t, e.config(id))
	if got, want := byID.ID(), "awskms:"+region+":"+id; got != want || fmt.Sprint(byID) != want {
		t.Fatalf("ID %q, String %q, want %q", got, fmt.Sprint(byID), want)
	}
	if _, err := e.admin.CreateAlias(context.Background(), &kms.CreateAliasInput{
		AliasName: aws.String("alias/engram-root"), TargetKeyId: aws.String(id),
	}); err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:kms:" + region + ":" + e.srv.AccountID + ":key/" + id
	for _, name := range []string{"alias/engram-root", arn, "arn:aws:kms:" + region + ":" + e.srv.AccountID + ":alias/engram-root"} {
		k := open(t, e.config(name))
		if k.ID() != "awskms:"+region+":"+name {
			t.Fatalf("ID %q", k.ID())
		}
		// One KMS key, however named: each opens what the others wrapped.
		w := mustWrap(t, k, key32(), []byte("aad"))
		if got, err := byID.Unwrap(context.Background(), w, []byte("aad")); err != nil || !bytes.Equal(got, key32()) {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestWireFormat pins what is stored and what KMS sees: a version byte
// before the CiphertextBlob, and aad as encryption context
// {"engram-aad": base64(aad)}, checked by decrypting with the SDK
// directly.
func TestWireFormat(t *testing.T) {
	e := newEnv(t)
	id := e.createKey(t)
	k := open(t, e.config(id))
	ctx := context.Background()
	aad := []byte("tenant=t1;purpose=tenant")
	w := mustWrap(t, k, key32(), aad)
	if w[0] != 1 {
		t.Fatalf("version byte %d", w[0])
	}
	decrypt := func(ec map[string]string) ([]byte, error) {
		out, err := e.admin.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: w[1:], EncryptionContext: ec})
		if err != nil {
			return nil, err
		}
		return out.Plaintext, nil
	}
	if got, err := decrypt(map[string]string{"engram-aad": base64.StdEncoding.EncodeToString(aad)}); err != nil || !bytes.Equal(got, key32()) {
		t.Fatalf("decrypt with the documented context: %v", err)
	}
	for _, ec := range []map[string]string{nil, {"engram-aad": base64.StdEncoding.EncodeToString([]byte("tenant=t2;purpose=tenant"))}, {"engram-aad": string(aad)}} {
		if _, err := decrypt(ec); err == nil {
			t.Fatalf("context %v opened a key wrapped under another", ec)
		}
	}
	// Empty aad has its own marker and differs from any other aad.
	we := mustWrap(t, k, key32(), nil)
	if _, err := k.Unwrap(ctx, we, []byte("-")); !errors.Is(err, kek.ErrUnwrap) {
		t.Fatalf("empty aad opened with aad \"-\": %v", err)
	}
	if got, err := k.Unwrap(ctx, we, []byte{}); err != nil || !bytes.Equal(got, key32()) {
		t.Fatalf("nil and empty aad must be the same: %v", err)
	}
}

func TestWrongEncryptionContext(t *testing.T) {
	e := newEnv(t)
	k := open(t, e.config(e.createKey(t)))
	w := mustWrap(t, k, key32(), []byte("tenant=t1"))
	_, err := k.Unwrap(context.Background(), w, []byte("tenant=t2"))
	if !errors.Is(err, kek.ErrUnwrap) || errors.Is(err, kek.ErrUnavailable) {
		t.Fatalf("want ErrUnwrap only, got %v", err)
	}
	var ae *awskms.Error
	if !errors.As(err, &ae) || ae.Code != "InvalidCiphertextException" || ae.Op != "Decrypt" {
		t.Fatalf("want an *awskms.Error from KMS, got %#v", err)
	}
	noSecrets(t, err, e.creds)
}

func TestOtherKeysCiphertext(t *testing.T) {
	e := newEnv(t)
	a := open(t, e.config(e.createKey(t)))
	b := open(t, e.config(e.createKey(t)))
	w := mustWrap(t, a, key32(), []byte("x"))
	_, err := b.Unwrap(context.Background(), w, []byte("x"))
	if !errors.Is(err, kek.ErrUnwrap) {
		t.Fatalf("want ErrUnwrap, got %v", err)
	}
	var ae *awskms.Error
	if !errors.As(err, &ae) || ae.Code != "IncorrectKeyException" {
		t.Fatalf("want IncorrectKeyException, got %v", err)
	}
	noSecrets(t, err, e.creds)
}

func TestMalformedInputMakesNoCall(t *testing.T) {
	e := newEnv(t)
	k := open(t, e.config(e.createKey(t)))
	w := mustWrap(t, k, key32(), []byte("x"))
	before := e.srv.Requests()
	for i, bad := range [][]byte{nil, {}, {1}, append([]byte{2}, w[1:]...), append([]byte{1}, make([]byte, 6145)...)} {
		if _, err := k.Unwrap(context.Background(), bad, []byte("x")); !errors.Is(err, kek.ErrUnwrap) {
			t.Fatalf("input %d: want ErrUnwrap, got %v", i, err)
		}
	}
	for _, n := range []int{0, 4097} {
		if _, err := k.Wrap(context.Background(), make([]byte, n), []byte("x")); err == nil {
			t.Fatalf("wrapped a %d-byte key", n)
		}
	}
	if n := e.srv.Requests() - before; n != 0 {
		t.Fatalf("malformed input made %d calls to KMS", n)
	}
}

// unavailable checks that err is ErrUnavailable (not ErrUnwrap), names the
// key and region, holds no credentials, and carries code and reason.
func unavailable(t *testing.T, err error, k *awskms.KEK, code, reason string, creds ...kmstest.Credentials) {
	t.Helper()
	if !errors.Is(err, kek.ErrUnavailable) || errors.Is(err, kek.ErrUnwrap) {
		t.Fatalf("want ErrUnavailable only, got %v", err)
	}
	msg := err.Error()
	keyID := strings.TrimPrefix(k.ID(), "awskms:"+region+":")
	for _, want := range []string{keyID, region, code, reason} {
		if !strings.Contains(msg, want) {
			t.Fatalf("error %q does not mention %q", msg, want)
		}
	}
	noSecrets(t, err, creds...)
}

func TestDisabledAndDeletedKey(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createKey(t)
	k := open(t, e.config(id))
	w := mustWrap(t, k, key32(), []byte("x"))

	if _, err := e.admin.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err := k.Unwrap(ctx, w, []byte("x"))
	unavailable(t, err, k, "DisabledException", "disabled", e.creds)
	_, err = k.Wrap(ctx, key32(), []byte("x"))
	unavailable(t, err, k, "DisabledException", "disabled", e.creds)

	// Unavailable, not gone: enabling the key brings it back.
	if _, err := e.admin.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Unwrap(ctx, w, []byte("x")); err != nil {
		t.Fatal(err)
	}

	if _, err := e.admin.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = k.Unwrap(ctx, w, []byte("x"))
	unavailable(t, err, k, "KMSInvalidStateException", "pending deletion", e.creds)
}

func TestDeniedCredentials(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createKey(t)
	w := mustWrap(t, open(t, e.config(id)), key32(), []byte("x"))

	// A principal without permission.
	denied := e.srv.AddUser("intern")
	e.srv.Deny(denied.AccessKeyID)
	cfg := e.config(id)
	cfg.AccessKeyID, cfg.SecretAccessKey = denied.AccessKeyID, denied.SecretAccessKey
	k := open(t, cfg)
	_, err := k.Unwrap(ctx, w, []byte("x"))
	unavailable(t, err, k, "AccessDeniedException", "not authorized to perform: kms:Decrypt", denied)
	_, err = k.Wrap(ctx, key32(), []byte("x"))
	unavailable(t, err, k, "AccessDeniedException", "kms:Encrypt", denied)

	// An access key KMS does not know.
	unknown := kmstest.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN42", SecretAccessKey: strings.Repeat("s3cr3t", 7)}
	cfg.AccessKeyID, cfg.SecretAccessKey = unknown.AccessKeyID, unknown.SecretAccessKey
	k = open(t, cfg)
	_, err = k.Unwrap(ctx, w, []byte("x"))
	unavailable(t, err, k, "UnrecognizedClientException", "credentials not recognised", unknown)
}

// TestSignatureErrorHidesSessionToken: AWS answers a bad signature with
// the canonical request, session token included; none of it may reach the
// error.
func TestSignatureErrorHidesSessionToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createKey(t)
	session := e.srv.AddSession("engram-task")
	cfg := e.config(id)
	cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken = session.AccessKeyID, session.SecretAccessKey, session.SessionToken
	good := open(t, cfg)
	w := mustWrap(t, good, key32(), []byte("x"))
	if _, err := good.Unwrap(ctx, w, []byte("x")); err != nil {
		t.Fatalf("session credentials: %v", err)
	}

	// Prove the fake really puts the token in its answer.
	wrong := session
	wrong.SecretAccessKey = strings.Repeat("A", 40)
	raw := kms.New(kms.Options{Region: region, BaseEndpoint: aws.String(e.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider(wrong.AccessKeyID, wrong.SecretAccessKey, wrong.SessionToken)})
	if _, err := raw.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(id), CiphertextBlob: w[1:]}); err == nil || !strings.Contains(err.Error(), session.SessionToken) {
		t.Fatalf("expected the SDK's own error to show the session token; got %v", err)
	}

	cfg.SecretAccessKey = wrong.SecretAccessKey
	k := open(t, cfg)
	_, err := k.Unwrap(ctx, w, []byte("x"))
	unavailable(t, err, k, "InvalidSignatureException", "signature rejected", session, wrong)
}

// TestDefaultCredentialChain: without static credentials the SDK's chain
// (here the environment) is used, and its credentials stay out of errors
// too although the provider never sees them.
func TestDefaultCredentialChain(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id := e.createKey(t)
	session := e.srv.AddSession("from-env")
	t.Setenv("AWS_ACCESS_KEY_ID", session.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", session.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", session.SessionToken)
	cfg := e.config(id)
	cfg.AccessKeyID, cfg.SecretAccessKey = "", ""
	k := open(t, cfg)
	w := mustWrap(t, k, key32(), []byte("x"))

	t.Setenv("AWS_SECRET_ACCESS_KEY", strings.Repeat("B", 40))
	k = open(t, cfg)
	_, err := k.Unwrap(ctx, w, []byte("x"))
	unavailable(t, err, k, "InvalidSignatureException", "signature rejected", session)
}

func TestThrottling(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := open(t, e.config(e.createKey(t)))
	w := mustWrap(t, k, key32(), []byte("x"))

	// One throttled answer: the SDK's retry absorbs it.
	e.srv.Throttle(1)
	if _, err := k.Unwrap(ctx, w, []byte("x")); err != nil {
		t.Fatalf("one throttle: %v", err)
	}
	// Throttled throughout: unavailable, within the timeout.
	e.srv.Throttle(1 << 20)
	cfg := e.config(strings.TrimPrefix(k.ID(), "awskms:"+region+":"))
	cfg.Timeout = 2 * time.Second
	k = open(t, cfg)
	start := time.Now()
	_, err := k.Unwrap(ctx, w, []byte("x"))
	if !errors.Is(err, kek.ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
	if d := time.Since(start); d > cfg.Timeout+time.Second {
		t.Fatalf("took %s with a %s timeout", d, cfg.Timeout)
	}
	noSecrets(t, err, e.creds)
}

func TestServerStopped(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(e.createKey(t))
	cfg.Timeout = 2 * time.Second
	k := open(t, cfg)
	w := mustWrap(t, k, key32(), []byte("x"))
	e.srv.Close()
	start := time.Now()
	_, err := k.Unwrap(context.Background(), w, []byte("x"))
	if d := time.Since(start); d > cfg.Timeout+time.Second {
		t.Fatalf("took %s with a %s timeout", d, cfg.Timeout)
	}
	if !errors.Is(err, kek.ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
	if !strings.Contains(err.Error(), "cannot reach") && !strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("unclear error: %v", err)
	}
	noSecrets(t, err, e.creds)
}

func TestUnreachableEndpoint(t *testing.T) {
	// A port that was free a moment ago: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	creds := kmstest.Credentials{AccessKeyID: "AKIAEXAMPLEEXAMPLE12", SecretAccessKey: strings.Repeat("k", 40)}
	cfg := awskms.Config{KeyID: "alias/engram", Region: region, Endpoint: "http://" + addr,
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, Timeout: 2 * time.Second}
	k := open(t, cfg) // New does not call out, so it succeeds
	start := time.Now()
	_, err = k.Wrap(context.Background(), key32(), []byte("x"))
	if d := time.Since(start); d > cfg.Timeout+time.Second {
		t.Fatalf("took %s with a %s timeout", d, cfg.Timeout)
	}
	unavailable(t, err, k, "", "alias/engram", creds)
}

// hangingServer accepts connections and never answers.
func hangingServer(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range conns {
					c.Close()
				}
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return "http://" + l.Addr().String()
}

func TestHangingEndpoint(t *testing.T) {
	creds := kmstest.Credentials{AccessKeyID: "AKIAEXAMPLEEXAMPLE12", SecretAccessKey: strings.Repeat("k", 40)}
	cfg := awskms.Config{KeyID: "alias/engram", Region: region, Endpoint: hangingServer(t),
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, Timeout: 300 * time.Millisecond}
	k := open(t, cfg)
	w := append([]byte{1}, make([]byte, 100)...)

	start := time.Now()
	_, err := k.Unwrap(context.Background(), w, []byte("x"))
	d := time.Since(start)
	unavailable(t, err, k, "", "no answer within 300ms", creds)
	if d < cfg.Timeout || d > cfg.Timeout+time.Second {
		t.Fatalf("gave up after %s with a %s timeout", d, cfg.Timeout)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("our own timeout must not look like the caller's deadline")
	}

	// The caller's deadline, shorter than Timeout, wins and shows.
	k = open(t, func() awskms.Config { c := cfg; c.Timeout = time.Minute; return c }())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = k.Unwrap(ctx, w, []byte("x"))
	if !errors.Is(err, kek.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want ErrUnavailable and DeadlineExceeded, got %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("ignored the caller's deadline for %s", d)
	}
}

func TestCancelledContext(t *testing.T) {
	e := newEnv(t)
	k := open(t, e.config(e.createKey(t)))
	w := mustWrap(t, k, key32(), []byte("x"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := k.Unwrap(ctx, w, []byte("x"))
	if !errors.Is(err, kek.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("want ErrUnavailable and Canceled, got %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	creds := kmstest.Credentials{AccessKeyID: "AKIAVALIDATEVALIDATE", SecretAccessKey: strings.Repeat("v", 40), SessionToken: strings.Repeat("t", 60)}
	base := awskms.Config{KeyID: "1234abcd-12ab-34cd-56ef-1234567890ab", Region: "us-east-1",
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	ok := []func(*awskms.Config){
		func(c *awskms.Config) {},
		func(c *awskms.Config) {
			c.KeyID = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		},
		func(c *awskms.Config) { c.KeyID = "alias/engram" },
		func(c *awskms.Config) { c.KeyID = "arn:aws:kms:us-east-1:111122223333:alias/engram" },
		func(c *awskms.Config) { c.KeyID = "mrk-1234abcd12ab34cd56ef1234567890ab" },
		func(c *awskms.Config) { c.Endpoint = "https://vpce-0abc.kms.us-east-1.vpce.amazonaws.com" },
		func(c *awskms.Config) { c.Endpoint = "http://127.0.0.1:4566" },
		func(c *awskms.Config) { c.Endpoint = "http://localhost:8080/" },
		func(c *awskms.Config) { c.AccessKeyID, c.SecretAccessKey, c.SessionToken = "", "", "" },
	}
	for i, mod := range ok {
		c := base
		mod(&c)
		if _, err := awskms.New(context.Background(), c); err != nil {
			t.Errorf("valid config %d: %v", i, err)
		}
	}
	bad := map[string]func(*awskms.Config){
		"no key":            func(c *awskms.Config) { c.KeyID = "" },
		"no region":         func(c *awskms.Config) { c.Region = "" },
		"bad region":        func(c *awskms.Config) { c.Region = "US East" },
		"space in key":      func(c *awskms.Config) { c.KeyID = "alias/a b" },
		"empty alias":       func(c *awskms.Config) { c.KeyID = "alias/" },
		"not kms arn":       func(c *awskms.Config) { c.KeyID = "arn:aws:s3:::bucket" },
		"arn other region":  func(c *awskms.Config) { c.KeyID = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd" },
		"http remote":       func(c *awskms.Config) { c.Endpoint = "http://kms.example.com" },
		"userinfo":          func(c *awskms.Config) { c.Endpoint = "https://user:pw@kms.example.com" },
		"ftp":               func(c *awskms.Config) { c.Endpoint = "ftp://kms.example.com" },
		"path":              func(c *awskms.Config) { c.Endpoint = "https://kms.example.com/x" },
		"half credentials":  func(c *awskms.Config) { c.SecretAccessKey = "" },
		"token alone":       func(c *awskms.Config) { c.AccessKeyID, c.SecretAccessKey = "", "" },
		"negative timeout":  func(c *awskms.Config) { c.Timeout = -time.Second },
		"access key alone2": func(c *awskms.Config) { c.AccessKeyID = ""; c.SessionToken = "" },
	}
	for name, mod := range bad {
		c := base
		mod(&c)
		_, err := awskms.New(context.Background(), c)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		noSecrets(t, err, creds)
	}
}

// TestConfigNeverPrintsCredentials covers fmt and slog.
func TestConfigNeverPrintsCredentials(t *testing.T) {
	creds := kmstest.Credentials{AccessKeyID: "AKIAPRINTPRINTPRINT1", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", SessionToken: "FwoGZXIvYXdzEXAMPLETOKEN"}
	cfg := awskms.Config{KeyID: "alias/engram", Region: region, Endpoint: "https://kms.example.com",
		AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}
	var out bytes.Buffer
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		fmt.Fprintf(&out, f+"\n", cfg)
		fmt.Fprintf(&out, f+"\n", &cfg)
	}
	slog.New(slog.NewTextHandler(&out, nil)).Info("kek", "config", cfg)
	slog.New(slog.NewJSONHandler(&out, nil)).Info("kek", "config", cfg, "ptr", &cfg)
	text := out.String()
	for _, s := range []string{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken} {
		if strings.Contains(text, s) {
			t.Fatalf("credential printed:\n%s", text)
		}
	}
	for _, want := range []string{"alias/engram", region, "https://kms.example.com", "[REDACTED]"} {
		if !strings.Contains(text, want) {
			t.Fatalf("%q missing from:\n%s", want, text)
		}
	}
	k := open(t, cfg)
	if s := fmt.Sprintf("%v %+v %s", k, k, k); strings.Contains(s, creds.SecretAccessKey) || strings.Contains(s, creds.AccessKeyID) {
		t.Fatalf("KEK printed a credential: %s", s)
	}
}
