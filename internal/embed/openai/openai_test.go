package openai_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/embed/openai"
	"github.com/engram-memory/engram/internal/embed/openai/openaitest"
)

const testKey = "sk-test-0123456789abcdefghijklmnopqrstuv"

func newClient(t *testing.T, srv *openaitest.Server, mod func(*openai.Config)) *openai.Client {
	t.Helper()
	cfg := openai.Config{BaseURL: srv.BaseURL, APIKey: testKey, Model: openaitest.DefaultModel}
	if mod != nil {
		mod(&cfg)
	}
	c, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.CloseIdleConnections)
	return c
}

// unit is openaitest.Vector normalised: what the client must return.
func unit(text string, dim int) []float32 {
	v := openaitest.Vector(text, dim)
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	out := make([]float32, dim)
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(ss))
	}
	return out
}

func checkVectors(t *testing.T, texts []string, got [][]float32, dim int) {
	t.Helper()
	if len(got) != len(texts) {
		t.Fatalf("%d vectors for %d texts", len(got), len(texts))
	}
	for i, text := range texts {
		want := unit(text, dim)
		if len(got[i]) != dim {
			t.Fatalf("vector %d has length %d, want %d", i, len(got[i]), dim)
		}
		var norm float64
		for j := range want {
			norm += float64(got[i][j]) * float64(got[i][j])
			if math.Abs(float64(got[i][j]-want[j])) > 1e-6 {
				t.Fatalf("vector %d (%q) differs at %d: got %v want %v", i, text, j, got[i][j], want[j])
			}
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Fatalf("vector %d has norm² %v", i, norm)
		}
	}
}

func texts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("memory number %d about topic %d and colour %d", i, i%7, i%13)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c := newClient(t, srv, nil)
	if c.Model() != "openai:"+openaitest.DefaultModel {
		t.Fatalf("Model() = %q", c.Model())
	}
	if c.Dim() != 0 {
		t.Fatalf("Dim() before any answer = %d, want 0", c.Dim())
	}
	in := []string{"Alice likes green tea", "Bob moved to Lisbon", "Alice likes green tea", "ünïcödé and emoji 🎉"}
	got, err := c.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, in, got, 64)
	if c.Dim() != 64 {
		t.Fatalf("Dim() after first answer = %d, want 64", c.Dim())
	}
	if out, err := c.Embed(context.Background(), nil); err != nil || len(out) != 0 {
		t.Fatalf("empty input: %v %v", out, err)
	}
	if srv.Requests() != 1 {
		t.Fatalf("requests = %d, want 1 (no request for empty input)", srv.Requests())
	}
	if d, err := c.Probe(context.Background()); err != nil || d != 64 {
		t.Fatalf("Probe = %d, %v", d, err)
	}
}

func TestNoKeyServer(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{})
	c := newClient(t, srv, func(cfg *openai.Config) { cfg.APIKey = "" })
	got, err := c.Embed(context.Background(), []string{"local ollama"})
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, []string{"local ollama"}, got, 64)
}

func TestBatchingAndOrder(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c := newClient(t, srv, func(cfg *openai.Config) { cfg.BatchSize = 16 })
	in := texts(16*3 + 5)
	got, err := c.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	// The server shuffles data[]; the vectors must still come back in
	// input order, which checkVectors verifies text by text.
	checkVectors(t, in, got, 64)
	if b := srv.Batches(); fmt.Sprint(b) != "[16 16 16 5]" {
		t.Fatalf("batches = %v", b)
	}

	def := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c = newClient(t, def, nil)
	in = texts(130)
	got, err = c.Embed(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, in, got, 64)
	if b := def.Batches(); fmt.Sprint(b) != "[64 64 2]" {
		t.Fatalf("default batches = %v", b)
	}
}

func TestOrderingByIndexManyRequests(t *testing.T) {
	// Every answer is shuffled with a different permutation; run enough
	// two-text requests that both orders occur.
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c := newClient(t, srv, nil)
	for i := range 20 {
		in := []string{fmt.Sprintf("first %d", i), fmt.Sprintf("second text %d", i)}
		got, err := c.Embed(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		checkVectors(t, in, got, 64)
	}
}

func TestAuthFailure(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	for _, key := range []string{"", "sk-wrong-key-9876543210zyxwvutsrq"} {
		c := newClient(t, srv, func(cfg *openai.Config) { cfg.APIKey = key })
		_, err := c.Embed(context.Background(), []string{"private note"})
		var ae *openai.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
			t.Fatalf("key %q: err = %v, want a 401 APIError", key, err)
		}
		if key != "" && (ae.Code != "invalid_api_key" || !strings.Contains(err.Error(), "Incorrect API key provided")) {
			t.Fatalf("error lost the server's explanation: %v", err)
		}
		if key != "" && (strings.Contains(err.Error(), key) || strings.Contains(err.Error(), key[len(key)-4:])) {
			t.Fatalf("error shows the key: %v", err)
		}
	}
	if srv.Requests() != 2 {
		t.Fatalf("requests = %d: a 401 must not be retried", srv.Requests())
	}
}

func TestModelNotFound(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c := newClient(t, srv, func(cfg *openai.Config) { cfg.Model = "no-such-model" })
	_, err := c.Embed(context.Background(), []string{"x"})
	var ae *openai.APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Code != "model_not_found" || !strings.Contains(ae.Message, "no-such-model") {
		t.Fatalf("err = %v", err)
	}
}

func TestRetry429(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, retryAfter, retryAfterMs string
		minWait                        time.Duration
	}{
		{"retry-after-ms", "", "40", 80 * time.Millisecond},
		{"Retry-After seconds", "1", "", time.Second},
		{"no header backoff", "", "", 250 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
			c := newClient(t, srv, nil)
			n := 2
			if tc.retryAfter != "" {
				n = 1 // keep the test short: one one-second wait
			}
			srv.Throttle(n, tc.retryAfter, tc.retryAfterMs)
			start := time.Now()
			got, err := c.Embed(context.Background(), []string{"after the storm"})
			if err != nil {
				t.Fatal(err)
			}
			checkVectors(t, []string{"after the storm"}, got, 64)
			if srv.Requests() != n+1 {
				t.Fatalf("requests = %d, want %d", srv.Requests(), n+1)
			}
			if el := time.Since(start); el < tc.minWait {
				t.Fatalf("retried after %v, before the server's %v", el, tc.minWait)
			}
		})
	}
}

func TestRetryGivesUp(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c := newClient(t, srv, nil)
	srv.Throttle(10, "", "1")
	_, err := c.Embed(context.Background(), []string{"x"})
	var ae *openai.APIError
	if !errors.As(err, &ae) || ae.Status != 429 || ae.Code != "rate_limit_exceeded" {
		t.Fatalf("err = %v", err)
	}
	if srv.Requests() != 3 {
		t.Fatalf("requests = %d, want 3 (two retries)", srv.Requests())
	}

	// A Retry-After beyond what a caller can wait fails at once.
	srv2 := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c2 := newClient(t, srv2, nil)
	srv2.Throttle(1, "3600", "")
	start := time.Now()
	if _, err := c2.Embed(context.Background(), []string{"x"}); !errors.As(err, &ae) || ae.Status != 429 {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 5*time.Second || srv2.Requests() != 1 {
		t.Fatalf("waited %v over %d requests for a one-hour Retry-After", time.Since(start), srv2.Requests())
	}
}

func TestRetry5xx(t *testing.T) {
	t.Parallel()
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c := newClient(t, srv, nil)
	srv.Fail(503, 500)
	got, err := c.Embed(context.Background(), []string{"flaky backend"})
	if err != nil {
		t.Fatal(err)
	}
	checkVectors(t, []string{"flaky backend"}, got, 64)
	srv.Fail(502, 502, 502)
	_, err = c.Embed(context.Background(), []string{"flaky backend"})
	var ae *openai.APIError
	if !errors.As(err, &ae) || ae.Status != 502 {
		t.Fatalf("err = %v", err)
	}
}

func TestDimensionEnforcement(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})

	// Configured: a server answering another length is refused.
	c := newClient(t, srv, func(cfg *openai.Config) { cfg.Dim = 128 })
	if c.Dim() != 128 {
		t.Fatalf("Dim() = %d", c.Dim())
	}
	if _, err := c.Embed(context.Background(), []string{"x"}); !errors.Is(err, openai.ErrDimension) {
		t.Fatalf("err = %v, want ErrDimension", err)
	}

	// Learnt: the first answer fixes it; a model swapped behind the same
	// name is refused afterwards.
	c = newClient(t, srv, nil)
	if _, err := c.Embed(context.Background(), []string{"x"}); err != nil {
		t.Fatal(err)
	}
	srv.SwitchDim(32)
	if _, err := c.Embed(context.Background(), []string{"x"}); !errors.Is(err, openai.ErrDimension) {
		t.Fatalf("err = %v, want ErrDimension", err)
	}
	if c.Dim() != 64 {
		t.Fatalf("Dim() changed to %d", c.Dim())
	}
}

func TestConcurrentLearning(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c := newClient(t, srv, func(cfg *openai.Config) { cfg.BatchSize = 3 })
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			in := texts(7 + i)
			got, err := c.Embed(context.Background(), in)
			if err == nil && len(got) != len(in) {
				err = fmt.Errorf("%d vectors for %d texts", len(got), len(in))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if c.Dim() != 64 {
		t.Fatalf("Dim() = %d", c.Dim())
	}
}

func TestNoSecretsInErrors(t *testing.T) {
	secretText := "my diagnosis is confidential: stage two, do not tell anyone " + strings.Repeat("word ", 40)
	cases := []struct {
		name string
		opts openaitest.Options
		key  string
		in   []string
	}{
		{"token limit", openaitest.Options{APIKey: testKey, MaxInputWords: 20}, testKey, []string{"short one", secretText}},
		{"token limit leaky", openaitest.Options{APIKey: testKey, MaxInputWords: 20, Leaky: true}, testKey, []string{"short one", secretText}},
		{"wrong key", openaitest.Options{APIKey: testKey}, "sk-live-SUPERSECRET-abcdefghijklmnop", []string{secretText}},
		{"wrong key leaky", openaitest.Options{APIKey: testKey, Leaky: true}, "sk-live-SUPERSECRET-abcdefghijklmnop", []string{secretText}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := openaitest.Start(t, tc.opts)
			c := newClient(t, srv, func(cfg *openai.Config) { cfg.APIKey = tc.key })
			_, err := c.Embed(context.Background(), tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, leak := range []string{tc.key, tc.key[:12], tc.key[len(tc.key)-6:], "SUPERSECRET", "diagnosis", "confidential", "stage two"} {
				if strings.Contains(msg, leak) {
					t.Fatalf("error leaks %q: %s", leak, msg)
				}
			}
			var ae *openai.APIError
			if !errors.As(err, &ae) || ae.Message == "" {
				t.Fatalf("server message lost: %v", err)
			}
			if strings.HasPrefix(tc.name, "token limit") && (ae.Status != 400 || ae.Code != "context_length_exceeded" || !strings.Contains(msg, "maximum context length is 20 tokens")) {
				t.Fatalf("token-limit error not explained: %s", msg)
			}
			t.Log(msg)
		})
	}
}

func TestContextCancel(t *testing.T) {
	srv := openaitest.Start(t, openaitest.Options{APIKey: testKey})
	c := newClient(t, srv, nil)

	srv.Delay(5 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Embed(ctx, []string{"slow"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want context.DeadlineExceeded", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("Embed ignored the deadline for %v", time.Since(start))
	}
	srv.Delay(0)

	// Cancelled while waiting to retry.
	srv.Throttle(5, "10", "")
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if _, err := c.Embed(ctx, []string{"x"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("backoff ignored cancellation for %v", time.Since(start))
	}

	// Per-request timeout from Config.
	srv.Throttle(0, "", "")
	srv.Delay(5 * time.Second)
	c = newClient(t, srv, func(cfg *openai.Config) { cfg.Timeout = 100 * time.Millisecond })
	if _, err := c.Embed(context.Background(), []string{"x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestNewValidates(t *testing.T) {
	for _, cfg := range []openai.Config{
		{BaseURL: "", Model: "m"},
		{BaseURL: "ftp://host/v1", Model: "m"},
		{BaseURL: "127.0.0.1:11434/v1", Model: "m"},
		{BaseURL: "http://h/v1?x=1", Model: "m"},
		{BaseURL: "http://h/v1", Model: ""},
		{BaseURL: "http://h/v1", Model: "m", Dim: -1},
	} {
		if _, err := openai.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := openai.New(openai.Config{BaseURL: "https://api.openai.com/v1/", Model: "text-embedding-3-small"}); err != nil {
		t.Fatal(err)
	}
}
