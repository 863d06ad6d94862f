package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/extract/llm"
	"github.com/engram-memory/engram/internal/testserver"
)

// asyncServer is a node whose Observe is asynchronous (an LLM extractor
// at chatCompletions).
func asyncServer(t *testing.T) *testserver.Server {
	t.Helper()
	x, err := llm.New(llm.Config{BaseURL: chatCompletions(t), Model: "test-model", MaxRetries: 0})
	if err != nil {
		t.Fatal(err)
	}
	return testserver.StartWith(t, testserver.Options{EngineOptions: []engine.Option{engine.WithLLMExtractor(engine.LLMOptions{
		Extractor: x, Name: "llm:test-model", Workers: 1, Poll: 10 * time.Millisecond})}})
}

// chatCompletions is a model server at the network edge: it speaks the
// OpenAI chat completions protocol and answers every request with one
// extraction (Mira moved to Berlin).
func chatCompletions(t *testing.T) string {
	t.Helper()
	const content = `{"entities":[{"name":"Mira","type":"person","message":0},{"name":"Berlin","type":"place","message":0}],
"facts":[{"subject":"Mira","subject_type":"person","predicate":"lives_in","object":"Berlin","object_type":"place","value":"",
"negated":false,"valid_at":"","message":0,"sentence":"I moved to Berlin."}]}`
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model string `json:"model"`
		}
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/chat/completions" || json.Unmarshal(body, &req) != nil {
			http.NotFound(w, r)
			return
		}
		out, _ := json.Marshal(map[string]any{"id": "c1", "object": "chat.completion", "created": 1, "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
				"message": map[string]any{"role": "assistant", "content": content}}}})
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	}))
	t.Cleanup(hs.Close)
	return hs.URL + "/v1"
}

// TestObserveAsync: with an LLM extractor POST /v1/observe answers 202
// {"episode_id", "status": "pending"} (and nothing else), the Go client
// returns a pending episode, and GET /v1/episodes/{id} shows it done once
// a worker has extracted it.
func TestObserveAsync(t *testing.T) {
	s := asyncServer(t)
	key, c := tenant(t, s, "acme")

	status, raw := call(t, s, key, "POST", "/v1/observe", `{"messages": [{"role": "user", "name": "Mira", "content": "I moved to Berlin."}], "user_id": "mira"}`)
	var answer map[string]any
	if err := json.Unmarshal([]byte(raw), &answer); err != nil {
		t.Fatal(err)
	}
	if status != http.StatusAccepted || len(answer) != 2 || answer["status"] != engram.EpisodePending || answer["episode_id"] == "" {
		t.Fatalf("observe with an LLM extractor: %d %s", status, raw)
	}
	ep, err := c.Observe(context.Background(), engram.ObserveRequest{Scope: engram.Scope{UserID: "mira"},
		Messages: []engram.ObserveMessage{{Role: "user", Name: "Mira", Content: "I moved to Berlin."}}})
	if err != nil || ep.Status != engram.EpisodePending || ep.ID == "" {
		t.Fatalf("client: %+v %v", ep, err)
	}

	// Wait for the worker: polling, as a client would.
	var got *engram.Episode
	for range 1000 {
		if got, err = c.Episode(context.Background(), ep.ID); err != nil {
			t.Fatal(err)
		}
		if got.Status != engram.EpisodePending {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got.Status != engram.EpisodeDone || got.Extractor != "llm:test-model" || len(got.Facts) == 0 {
		t.Fatalf("episode after extraction: %+v", got)
	}
	fs, err := c.Facts(context.Background(), engram.FactQuery{UserID: "mira"})
	if err != nil || len(fs) != 1 || what(fs[0]) != "Berlin" {
		t.Fatalf("facts: %v %v", triples(fs), err)
	}
}
