// Package openaitest is a stand-in for an OpenAI-compatible embeddings
// server that tests run in-process on 127.0.0.1, so that the openai
// client is tested over real HTTP against the real wire protocol.
//
// It implements POST /v1/embeddings as OpenAI documents it: a JSON body
// {"model", "input" (a string or an array of strings), "encoding_format"
// ("float" or "base64")}, Bearer authentication, and an answer
// {"object":"list","data":[{"object":"embedding","index","embedding"}],
// "model","usage"}. Like a real server under load it lists data out of
// order (shuffled; clients must sort by index). Errors are OpenAI-shaped,
// {"error":{"message","type","param","code"}}, with OpenAI's status codes
// and codes: 401 invalid_api_key, 404 model_not_found, 400 for an empty
// input or one longer than the model's context (OpenAI counts tokens; this
// server counts words), 429 rate_limit_exceeded with Retry-After and
// retry-after-ms, and 500/503 on demand.
//
// Vectors are deterministic: a hashed bag of words (see Vector), not
// normalised, so that tests can predict them and check the client's
// normalisation.
package openaitest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
)

// Options configure a server. Zero values take the defaults.
type Options struct {
	// APIKey is the only key accepted. Empty: no authentication.
	APIKey string
	// Models maps each served model to its dimension. Default:
	// {"hash-embed-64": 64}.
	Models map[string]int
	// MaxInputWords is the longest input accepted, in words (default
	// 512): longer inputs get OpenAI's context-length 400.
	MaxInputWords int
	// MaxBatch is the most inputs one request may carry (default 2048, as
	// OpenAI).
	MaxBatch int
	// Leaky makes error messages quote the offending input and the
	// presented key in full, as some self-hosted servers' validation
	// errors do, to test that clients keep them out of their own errors.
	Leaky bool
}

// DefaultModel is the model a server with default options serves.
const DefaultModel = "hash-embed-64"

// Server is a running fake embeddings server.
type Server struct {
	// BaseURL is the API root a client is configured with,
	// http://127.0.0.1:<port>/v1.
	BaseURL string

	opts Options
	hs   *httptest.Server

	mu         sync.Mutex
	requests   int
	batches    []int
	throttle   int
	retryAfter string // Retry-After header value
	retryMs    string // retry-after-ms header value
	fail       []int  // statuses to answer the next requests with
	delay      time.Duration
	dimOver    int // answer with this many dimensions instead, when > 0
	rng        *rand.Rand
}

// Start runs a server on 127.0.0.1 and closes it when the test ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	if opts.Models == nil {
		opts.Models = map[string]int{DefaultModel: 64}
	}
	if opts.MaxInputWords == 0 {
		opts.MaxInputWords = 512
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 2048
	}
	s := &Server{opts: opts, rng: rand.New(rand.NewPCG(1, 2))}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/embeddings", s.embeddings)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "invalid_request_error", "", fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path))
	})
	s.hs = httptest.NewServer(mux)
	s.BaseURL = s.hs.URL + "/v1"
	tb.Cleanup(s.hs.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// Requests counts the requests to /v1/embeddings, refused ones included.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Batches lists the number of inputs of each request answered with 200.
func (s *Server) Batches() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.batches...)
}

// Throttle answers the next n requests with 429 rate_limit_exceeded and
// the given headers (empty: header left out): retryAfter as Retry-After
// (seconds or an HTTP date), retryAfterMs as retry-after-ms.
func (s *Server) Throttle(n int, retryAfter, retryAfterMs string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle, s.retryAfter, s.retryMs = n, retryAfter, retryAfterMs
}

// Fail answers the next requests with these statuses (500, 502, 503...),
// one each, in an OpenAI-shaped error.
func (s *Server) Fail(statuses ...int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, statuses...)
}

// Delay holds every answer back by d, or until the client goes away.
func (s *Server) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SwitchDim makes the server answer with dim dimensions whatever the
// model (a model swapped behind the same name); 0 restores.
func (s *Server) SwitchDim(dim int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dimOver = dim
}

type embeddingRequest struct {
	Model          string          `json:"model"`
	Input          json.RawMessage `json:"input"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
}

type embedding struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"`
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	delay := s.delay
	s.mu.Unlock()
	// Read the body first: only then does net/http notice a client that
	// hangs up, which cancels r.Context().
	body, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "We could not read the body of your request.")
		return
	}
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}

	if s.opts.APIKey != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		switch {
		case !ok || got == "":
			writeError(w, http.StatusUnauthorized, "invalid_request_error", "",
				"You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
			return
		case got != s.opts.APIKey:
			shown := mask(got)
			if s.opts.Leaky {
				shown = got
			}
			writeError(w, http.StatusUnauthorized, "invalid_request_error", "invalid_api_key",
				"Incorrect API key provided: "+shown+". You can find your API key at https://platform.openai.com/account/api-keys.")
			return
		}
	}

	s.mu.Lock()
	if len(s.fail) > 0 {
		status := s.fail[0]
		s.fail = s.fail[1:]
		s.mu.Unlock()
		writeError(w, status, "server_error", "", "The server had an error while processing your request. Sorry about that!")
		return
	}
	if s.throttle > 0 {
		s.throttle--
		ra, ms := s.retryAfter, s.retryMs
		s.mu.Unlock()
		if ra != "" {
			w.Header().Set("Retry-After", ra)
		}
		if ms != "" {
			w.Header().Set("Retry-After-Ms", ms)
		}
		writeError(w, http.StatusTooManyRequests, "requests", "rate_limit_exceeded",
			"Rate limit reached for requests. Please try again shortly.")
		return
	}
	dimOver := s.dimOver
	s.mu.Unlock()

	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "Content-Type must be application/json.")
		return
	}
	var req embeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "",
			"We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)")
		return
	}
	dim, ok := s.opts.Models[req.Model]
	if !ok {
		writeError(w, http.StatusNotFound, "invalid_request_error", "model_not_found",
			fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", req.Model))
		return
	}
	if dimOver > 0 {
		dim = dimOver
	}
	inputs, ok := decodeInput(req.Input)
	if !ok {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.")
		return
	}
	if len(inputs) == 0 || len(inputs) > s.opts.MaxBatch {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "",
			fmt.Sprintf("'$.input' must hold between 1 and %d items.", s.opts.MaxBatch))
		return
	}
	for i, in := range inputs {
		if in == "" {
			writeError(w, http.StatusBadRequest, "invalid_request_error", "", fmt.Sprintf("'$.input[%d]' is invalid: an input cannot be an empty string.", i))
			return
		}
		if n := len(strings.Fields(in)); n > s.opts.MaxInputWords {
			msg := fmt.Sprintf("This model's maximum context length is %d tokens, however you requested %d tokens (%d in your prompt; 0 for the completion). Please reduce your prompt; or completion length.",
				s.opts.MaxInputWords, n, n)
			if s.opts.Leaky {
				msg += fmt.Sprintf(" Offending input[%d]: %q", i, in)
			}
			writeError(w, http.StatusBadRequest, "invalid_request_error", "context_length_exceeded", msg)
			return
		}
	}
	format := req.EncodingFormat
	if format == "" {
		format = "float"
	}
	if format != "float" && format != "base64" {
		writeError(w, http.StatusBadRequest, "invalid_request_error", "", "'encoding_format' must be one of 'float' or 'base64'.")
		return
	}

	data := make([]embedding, len(inputs))
	tokens := 0
	for i, in := range inputs {
		v := Vector(in, dim)
		tokens += len(strings.Fields(in))
		var e any = v
		if format == "base64" {
			b := make([]byte, 4*len(v))
			for j, f := range v {
				binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(f))
			}
			e = base64.StdEncoding.EncodeToString(b)
		}
		data[i] = embedding{Object: "embedding", Index: i, Embedding: e}
	}
	s.mu.Lock()
	s.rng.Shuffle(len(data), func(i, j int) { data[i], data[j] = data[j], data[i] })
	s.batches = append(s.batches, len(inputs))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"object": "list",
		"data":   data,
		"model":  req.Model,
		"usage":  map[string]int{"prompt_tokens": tokens, "total_tokens": tokens},
	})
}

// decodeInput accepts a string or an array of strings (token arrays are
// not supported here).
func decodeInput(raw json.RawMessage) ([]string, bool) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}, true
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil && many != nil {
		return many, true
	}
	return nil, false
}

// Vector is the embedding the server returns for text: each lowercase word
// (letters and digits) hashed into one of dim buckets with a hashed sign,
// plus 0.5 in bucket 0 so that no vector is zero. It is not normalised.
func Vector(text string, dim int) []float32 {
	v := make([]float32, dim)
	v[0] = 0.5
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		h := fnv.New64a()
		h.Write([]byte(w))
		x := h.Sum64()
		sign := float32(1)
		if x>>63 == 1 {
			sign = -1
		}
		v[x%uint64(dim)] += sign
	}
	return v
}

func mask(key string) string {
	if len(key) <= 8 {
		return "****"
	}
	return key[:5] + strings.Repeat("*", len(key)-9) + key[len(key)-4:]
}

func writeError(w http.ResponseWriter, status int, typ, code, msg string) {
	var c any
	if code != "" {
		c = code
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"message": msg, "type": typ, "param": nil, "code": c,
	}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}
