package llm

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

const (
	testKey   = "sk-test-secret-key"
	testModel = "llama3.1:8b"
)

// reply is one canned answer: a completion's content with status 200, or an
// error status with a body, or a hang until the client gives up.
type reply struct {
	status     int
	content    string // the assistant message's content when status is 200
	body       string // raw body for non-200 (or a broken 200 when set)
	retryAfter string
	hang       bool
}

// fakeServer is an OpenAI-compatible chat completions endpoint on 127.0.0.1
// that checks every request the way a strict server would and answers from a script.
type fakeServer struct {
	t       *testing.T
	srv     *httptest.Server
	mu      sync.Mutex
	script  []reply
	formats []string // response_format.type of each request, in order
	schemaV *jsonschema.Schema
	// noAuth expects no Authorization header (an extractor without a key).
	noAuth bool
	// rejectSchema answers json_schema requests with 400 as servers without it do.
	rejectSchema bool
}

func newFakeServer(t *testing.T, script ...reply) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, script: script}
	f.srv = httptest.NewServer(http.HandlerFunc(f.handle))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeServer) url() string { return f.srv.URL + "/v1" }

func (f *fakeServer) handle(w http.ResponseWriter, r *http.Request) {
	t := f.t
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		t.Errorf("request %s %s, want POST /v1/chat/completions", r.Method, r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	want := "Bearer " + testKey
	if f.noAuth {
		want = ""
	}
	if got := r.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization header %q", got)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
		return
	}
	var req struct {
		Model    string `json:"model"`
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
		MaxTokens      int `json:"max_tokens"`
		ResponseFormat struct {
			Type       string `json:"type"`
			JSONSchema *struct {
				Name   string          `json:"name"`
				Strict bool            `json:"strict"`
				Schema json.RawMessage `json:"schema"`
			} `json:"json_schema"`
		} `json:"response_format"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		t.Errorf("request is not JSON: %v", err)
		return
	}
	if req.Model != testModel {
		t.Errorf("model %q", req.Model)
	}
	if req.MaxTokens <= 0 {
		t.Errorf("max_tokens %d", req.MaxTokens)
	}
	if len(req.Messages) != 2 || req.Messages[0].Role != "system" || req.Messages[1].Role != "user" {
		t.Errorf("messages: want system then user, got %d", len(req.Messages))
	} else {
		var doc struct {
			Conversation []map[string]any `json:"conversation"`
		}
		if err := json.Unmarshal([]byte(req.Messages[1].Content), &doc); err != nil || len(doc.Conversation) == 0 {
			t.Errorf("user message is not the conversation as JSON: %v", err)
		}
		if !strings.Contains(req.Messages[0].Content, "untrusted") {
			t.Errorf("system prompt does not frame the conversation as untrusted")
		}
	}
	f.mu.Lock()
	f.formats = append(f.formats, req.ResponseFormat.Type)
	f.mu.Unlock()
	switch req.ResponseFormat.Type {
	case "json_schema":
		js := req.ResponseFormat.JSONSchema
		if js == nil || js.Name == "" || !js.Strict {
			t.Errorf("json_schema: want a name and strict true")
			return
		}
		f.compile(js.Schema)
		if f.rejectSchema {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"response_format type json_schema is not supported","type":"invalid_request_error","param":"response_format","code":null}}`)
			return
		}
	case "json_object":
	default:
		t.Errorf("response_format.type %q", req.ResponseFormat.Type)
	}

	f.mu.Lock()
	if len(f.script) == 0 {
		f.mu.Unlock()
		t.Errorf("unexpected extra request")
		http.Error(w, "no more replies", http.StatusTeapot)
		return
	}
	rep := f.script[0]
	if len(f.script) > 1 { // the last reply repeats
		f.script = f.script[1:]
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case rep.hang:
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		return
	case rep.status != 0 && rep.status != 200:
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
		return
	case rep.body != "":
		io.WriteString(w, rep.body)
		return
	}
	out, _ := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion", "created": 1733360000, "model": req.Model,
		"choices": []any{map[string]any{
			"index": 0, "finish_reason": "stop",
			"message": map[string]any{"role": "assistant", "content": rep.content},
		}},
		"usage": map[string]any{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
	})
	w.Write(out)
}

// compile checks that the request's schema is a valid JSON Schema (draft 2020-12)
// and keeps it so tests can check canned answers against it.
func (f *fakeServer) compile(raw json.RawMessage) {
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(string(raw)))
	if err != nil {
		f.t.Errorf("schema is not JSON: %v", err)
		return
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("engram.json", doc); err != nil {
		f.t.Errorf("schema: %v", err)
		return
	}
	s, err := c.Compile("engram.json")
	if err != nil {
		f.t.Errorf("schema does not compile: %v", err)
		return
	}
	f.mu.Lock()
	f.schemaV = s
	f.mu.Unlock()
}

func (f *fakeServer) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.formats...)
}
