// Package llm is Engram's LLM extractor (issue 12 item 6): it asks an
// OpenAI-compatible chat completions endpoint (Ollama, vLLM, OpenAI) to read a
// conversation and returns the same extract.Result as the built-in extractor,
// so the caller treats both alike.
//
// The model is not trusted. Its answer is validated item by item against the
// schema it was asked for and the extractor's predicates (extract.Predicates); every
// name, object and value must occur in the conversation, lengths and counts
// are capped, dates must be RFC 3339. An item that fails is dropped, never
// repaired. The result carries no scope (no user, agent or tenant fields), so
// whatever the model claims, the caller's scope is the only one. Errors say
// what went wrong (status, timeout, malformed answer), never what was said:
// no prompt, no model output, no API key.
//
// The request uses response_format json_schema (strict); a server answering
// 400 about json_schema gets the same request once more with json_object, and
// the extractor remembers that for later calls.
package llm

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// Config configures an Extractor. BaseURL and Model are required.
type Config struct {
	BaseURL string // e.g. http://localhost:11434/v1 (Ollama), https://api.openai.com/v1
	Model   string
	APIKey  string // sent as a bearer token; empty sends no Authorization header. Never logged.

	Timeout    time.Duration // per attempt; default 60 s
	MaxRetries int           // extra attempts after a 429 or 5xx; default 2, at most 5
	MaxTokens  int           // completion budget; default 2048

	// Backoff is how long to wait before retry n (1-based). Default: 500 ms doubling,
	// capped at 8 s, with jitter. A server's Retry-After (seconds) wins when longer, up to 30 s.
	Backoff func(n int) time.Duration

	// HTTPClient overrides the transport (proxies, custom TLS). Default: a fresh http.Client.
	HTTPClient *http.Client

	// Per message caps; zero means the default (MaxEntitiesPerMessage, MaxFactsPerMessage).
	MaxEntities int
	MaxFacts    int
}

// Defaults and hard caps.
const (
	DefaultTimeout        = 60 * time.Second
	DefaultMaxRetries     = 2
	maxRetriesCap         = 5
	DefaultMaxTokens      = 2048
	MaxEntitiesPerMessage = 32
	MaxFactsPerMessage    = 32
	MaxNameLen            = 100  // bytes, entity names, subjects and objects
	MaxValueLen           = 200  // bytes, literal values
	MaxSentenceLen        = 1000 // bytes
	maxRetryAfter         = 30 * time.Second
	maxAnswerBytes        = 1 << 20 // a longer completion is treated as malformed
)

// Errors. They never hold text from the conversation or the model.
var (
	ErrConfig    = errors.New("llm extract: invalid configuration")
	ErrTimeout   = errors.New("llm extract: request timed out")
	ErrTransport = errors.New("llm extract: cannot reach the server")
	ErrMalformed = errors.New("llm extract: the model's answer is not the requested JSON")
	ErrRefused   = errors.New("llm extract: the model refused or returned no answer")
)

// StatusError is a non-2xx answer from the server. It holds the status only:
// provider error bodies may echo the prompt.
type StatusError struct{ Status int }

func (e *StatusError) Error() string {
	return "llm extract: server answered " + http.StatusText(e.Status) + " (" + strconv.Itoa(e.Status) + ")"
}

// Extractor calls one model. It is safe for concurrent use.
type Extractor struct {
	cfg        Config
	chat       openai.ChatCompletionService
	jsonObject atomic.Bool // the server rejected json_schema once: use json_object from now on
	sleepFn    func(context.Context, time.Duration) error
}

// New checks cfg, fills defaults and builds the client. It reads no
// environment variables (the SDK's NewClient would pick up OPENAI_API_KEY,
// OPENAI_ORG_ID and OPENAI_CUSTOM_HEADERS and could send a cloud key to a
// local server).
func New(cfg Config) (*Extractor, error) {
	if cfg.BaseURL == "" || cfg.Model == "" || cfg.Timeout < 0 || cfg.MaxRetries < 0 || cfg.MaxTokens < 0 ||
		cfg.MaxEntities < 0 || cfg.MaxFacts < 0 {
		return nil, ErrConfig
	}
	if !strings.HasPrefix(cfg.BaseURL, "http://") && !strings.HasPrefix(cfg.BaseURL, "https://") {
		return nil, ErrConfig
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	cfg.MaxRetries = min(cfg.MaxRetries, maxRetriesCap)
	if cfg.MaxTokens == 0 {
		cfg.MaxTokens = DefaultMaxTokens
	}
	if cfg.MaxEntities == 0 || cfg.MaxEntities > MaxEntitiesPerMessage {
		cfg.MaxEntities = MaxEntitiesPerMessage
	}
	if cfg.MaxFacts == 0 || cfg.MaxFacts > MaxFactsPerMessage {
		cfg.MaxFacts = MaxFactsPerMessage
	}
	if cfg.Backoff == nil {
		cfg.Backoff = defaultBackoff
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{}
	}
	base := cfg.BaseURL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	opts := []option.RequestOption{
		option.WithHTTPClient(hc),
		option.WithBaseURL(base),
		option.WithMaxRetries(0), // retries are ours: bounded, injectable backoff, no body in errors
	}
	if cfg.APIKey != "" {
		opts = append(opts, option.WithAPIKey(cfg.APIKey))
	}
	return &Extractor{cfg: cfg, chat: openai.NewChatCompletionService(opts...)}, nil
}
