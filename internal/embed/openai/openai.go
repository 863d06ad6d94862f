// Package openai is an embed.Embedder for any server that speaks the OpenAI
// embeddings API (POST {base}/embeddings): OpenAI itself, Ollama, vLLM,
// LM Studio, llama.cpp's server and the like.
//
// Texts go out in batches; vectors come back ordered by the answer's
// "index" field (servers may answer out of order), are checked against the
// expected dimension and are L2-normalised, so cosine similarity is a dot
// product whatever the server returns. 429 and 5xx answers are retried a
// couple of times, honouring Retry-After.
//
// Errors never hold the API key or the texts being embedded: the server's
// own message is kept (it is what explains a 400 or 401) but is redacted
// first, because some servers quote the offending input or the key.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/engram-memory/engram/internal/embed"
)

// Defaults for the zero values of Config.
const (
	DefaultBatchSize = 64
	DefaultTimeout   = 60 * time.Second
)

const (
	attempts     = 3 // one try and two retries
	backoffBase  = 250 * time.Millisecond
	maxRetryWait = 30 * time.Second // a longer Retry-After fails now instead
	maxResponse  = 256 << 20        // bytes of one answer
	maxMessage   = 300              // characters of a server's error message kept
)

// ErrDimension is returned (wrapped) when the server's vectors do not have
// the expected length: Config.Dim, or the length learnt from the first
// answer.
var ErrDimension = errors.New("openai: embedding dimension mismatch")

// Config says which server and model to use.
type Config struct {
	// BaseURL is the API root, usually ending in /v1, e.g.
	// "http://127.0.0.1:11434/v1" (Ollama) or "https://api.openai.com/v1".
	BaseURL string
	// APIKey is sent as a Bearer token when set.
	APIKey string
	// Model is the server's model name, e.g. "text-embedding-3-small" or
	// "nomic-embed-text".
	Model string
	// Dim is the expected vector length. 0 learns it from the first
	// answer and enforces it from then on.
	Dim int
	// BatchSize is the number of texts per request (default 64).
	BatchSize int
	// Timeout bounds each HTTP request, retries apart (default 60 s).
	Timeout time.Duration
}

// Client embeds texts through an OpenAI-compatible server. It is safe for
// concurrent use.
type Client struct {
	endpoint string
	apiKey   string
	model    string
	batch    int
	timeout  time.Duration
	hc       *http.Client

	mu  sync.Mutex
	dim int // 0 until learnt when Config.Dim is 0
}

var _ embed.Embedder = (*Client)(nil)

// New checks cfg and returns a client. It does no I/O: a wrong URL, key or
// model shows on the first Embed (or Probe).
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("openai: base URL must be an absolute http or https URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("openai: base URL must not carry a query or fragment")
	}
	if strings.TrimSpace(cfg.Model) == "" {
		return nil, errors.New("openai: model is required")
	}
	if cfg.Dim < 0 || cfg.BatchSize < 0 || cfg.Timeout < 0 {
		return nil, errors.New("openai: dim, batch size and timeout must not be negative")
	}
	c := &Client{
		endpoint: strings.TrimRight(cfg.BaseURL, "/") + "/embeddings",
		apiKey:   cfg.APIKey,
		model:    cfg.Model,
		batch:    cfg.BatchSize,
		timeout:  cfg.Timeout,
		dim:      cfg.Dim,
		hc:       &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}
	if c.batch == 0 {
		c.batch = DefaultBatchSize
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

// Model is "openai:" followed by the server's model name.
func (c *Client) Model() string { return "openai:" + c.model }

// Dim is the vector length: Config.Dim, or the length learnt from the
// first answer (0 until then when Config.Dim was 0; call Probe first when
// the dimension is needed before any text is embedded).
func (c *Client) Dim() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dim
}

// Probe embeds a fixed short text, which checks the URL, key and model and
// learns the dimension, and returns the dimension.
func (c *Client) Probe(ctx context.Context) (int, error) {
	if _, err := c.Embed(ctx, []string{"engram dimension probe"}); err != nil {
		return 0, err
	}
	return c.Dim(), nil
}

// CloseIdleConnections releases the client's idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// Embed returns one unit-length vector per text, in order, sending
// Config.BatchSize texts per request. It fails as a whole: with an
// *APIError when the server refused a request (after retries for 429 and
// 5xx), with ErrDimension when vectors have the wrong length, with the
// context's error when ctx ends, or with a transport error.
func (c *Client) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += c.batch {
		batch := texts[start:min(start+c.batch, len(texts))]
		vs, err := c.embedBatch(ctx, batch)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

type request struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
}

type response struct {
	Data []struct {
		Index     *int            `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
}

func (c *Client) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(request{Model: c.model, Input: texts, EncodingFormat: "float"})
	if err != nil {
		return nil, fmt.Errorf("openai: encode request: %w", err)
	}
	var last error
	for attempt := range attempts {
		if attempt > 0 {
			wait := backoffBase << (attempt - 1)
			var ae *APIError
			if errors.As(last, &ae) && ae.retryAfter > 0 {
				wait = ae.retryAfter
			}
			if wait > maxRetryWait {
				return nil, last
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("openai: embed: %w", context.Cause(ctx))
			case <-t.C:
			}
		}
		raw, err := c.post(ctx, body, texts)
		if err == nil {
			return c.decode(raw, len(texts))
		}
		var ae *APIError
		if !errors.As(err, &ae) || !retryable(ae.Status) {
			return nil, err
		}
		last = err
	}
	return nil, last
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// post sends one request and returns the body of a 2xx answer.
func (c *Client) post(ctx context.Context, body []byte, texts []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("openai: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		// *url.Error names the method and URL (net/http strips any
		// password) and the cause; neither key nor texts are in it.
		return nil, fmt.Errorf("openai: embed: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("openai: read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newAPIError(resp, raw, c.apiKey, texts)
	}
	if len(raw) > maxResponse {
		return nil, errors.New("openai: answer too large")
	}
	return raw, nil
}

// decode checks an answer and returns its vectors, normalised, in input
// order.
func (c *Client) decode(raw []byte, n int) ([][]float32, error) {
	var r response
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("openai: decode answer: %w", err)
	}
	if len(r.Data) != n {
		return nil, fmt.Errorf("openai: answer holds %d embeddings for %d texts", len(r.Data), n)
	}
	out := make([][]float32, n)
	for _, d := range r.Data {
		if d.Index == nil || *d.Index < 0 || *d.Index >= n || out[*d.Index] != nil {
			return nil, errors.New("openai: answer has a missing, out-of-range or repeated index")
		}
		var v []float64
		if err := json.Unmarshal(d.Embedding, &v); err != nil {
			return nil, fmt.Errorf("openai: embedding %d is not an array of numbers: %w", *d.Index, err)
		}
		u, err := normalise(v)
		if err != nil {
			return nil, fmt.Errorf("openai: embedding %d: %w", *d.Index, err)
		}
		out[*d.Index] = u
	}
	for _, v := range out[1:] {
		if len(v) != len(out[0]) {
			return nil, fmt.Errorf("%w: one answer mixes lengths %d and %d", ErrDimension, len(out[0]), len(v))
		}
	}
	if err := c.checkDim(len(out[0])); err != nil {
		return nil, err
	}
	return out, nil
}

// checkDim enforces the expected dimension, learning it on first use.
func (c *Client) checkDim(got int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dim == 0 {
		c.dim = got
	}
	if got != c.dim {
		return fmt.Errorf("%w: got %d, want %d", ErrDimension, got, c.dim)
	}
	return nil
}

func normalise(v []float64) ([]float32, error) {
	if len(v) == 0 {
		return nil, errors.New("empty vector")
	}
	var ss float64
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errors.New("vector holds NaN or Inf")
		}
		ss += x * x
	}
	if ss == 0 {
		return nil, errors.New("zero vector cannot be normalised")
	}
	inv := 1 / math.Sqrt(ss)
	u := make([]float32, len(v))
	for i, x := range v {
		u[i] = float32(x * inv)
	}
	return u, nil
}

// APIError is a non-2xx answer. Message is the server's own message with
// the API key and any quoted input text redacted; Type and Code are the
// OpenAI error fields when the server sent them.
type APIError struct {
	Status  int
	Type    string
	Code    string
	Message string

	retryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "openai: server answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	} else if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// errorBody covers the shapes servers use: OpenAI and LM Studio
// {"error":{"message","type","code"}}, Ollama {"error":"..."}, vLLM
// {"object":"error","message","type","code"}.
type errorBody struct {
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

type errorDetail struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

func newAPIError(resp *http.Response, raw []byte, key string, texts []string) *APIError {
	e := &APIError{Status: resp.StatusCode, retryAfter: retryAfter(resp.Header, time.Now())}
	var b errorBody
	if json.Unmarshal(raw, &b) == nil {
		var d errorDetail
		var s string
		switch {
		case len(b.Error) > 0 && json.Unmarshal(b.Error, &d) == nil:
			e.Message, e.Type, e.Code = d.Message, d.Type, codeString(d.Code)
		case len(b.Error) > 0 && json.Unmarshal(b.Error, &s) == nil:
			e.Message = s
		default:
			e.Message, e.Type, e.Code = b.Message, b.Type, codeString(b.Code)
		}
	}
	// A body that is not JSON (a proxy's HTML page, say) is not quoted.
	e.Message = redact(e.Message, key, texts)
	e.Type = redact(e.Type, key, texts)
	e.Code = redact(e.Code, key, texts)
	return e
}

func codeString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// retryAfter reads retry-after-ms (OpenAI) or Retry-After (seconds or an
// HTTP date); 0 when absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < 1e9 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 && s < 1e6 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
