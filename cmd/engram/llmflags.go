package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/extract/llm"
	"github.com/engram-memory/engram/internal/filemode"
)

// llmFlags configure the optional LLM extractor of Observe. Without
// --llm-url, Observe extracts offline with the built-in extractor.
type llmFlags struct {
	LLMURL        string        `name:"llm-url" env:"ENGRAM_LLM_URL" help:"Base URL of an OpenAI-compatible chat completions API (e.g. http://localhost:11434/v1 for Ollama). When set, POST /v1/observe answers 202 and an LLM extracts entities and facts in the background; without it the built-in offline extractor answers 201."`
	LLMModel      string        `name:"llm-model" env:"ENGRAM_LLM_MODEL" help:"The model to ask (required with --llm-url)."`
	LLMKeyFile    string        `name:"llm-api-key-file" env:"ENGRAM_LLM_API_KEY_FILE" type:"path" help:"File holding the API key sent as a bearer token (mode 0600 or stricter); none when unset."`
	LLMWorkers    int           `name:"llm-workers" default:"2" help:"Extractions run at once."`
	LLMBudget     int           `name:"llm-budget" default:"0" help:"Extractions a tenant may start per hour (0: no cap); over it episodes wait, visibly."`
	LLMTimeout    time.Duration `name:"llm-timeout" default:"2m" help:"How long one extraction may take."`
	LLMMaxAttempt int           `name:"llm-max-attempts" default:"5" help:"Attempts before an episode fails for good (transient failures only)."`
}

// option returns the engine option of the flags, or nil without --llm-url.
func (f *llmFlags) option() (engine.Option, error) {
	if f.LLMURL == "" {
		return nil, nil
	}
	if f.LLMModel == "" {
		return nil, fmt.Errorf("--llm-model is required with --llm-url")
	}
	if f.LLMWorkers <= 0 || f.LLMWorkers > 64 || f.LLMBudget < 0 || f.LLMTimeout <= 0 || f.LLMMaxAttempt <= 0 {
		return nil, fmt.Errorf("--llm-workers (1-64), --llm-budget (≥ 0), --llm-timeout and --llm-max-attempts (> 0) must be valid")
	}
	key := ""
	if f.LLMKeyFile != "" {
		if err := filemode.CheckFile(f.LLMKeyFile); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(f.LLMKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read --llm-api-key-file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	x, err := llm.New(llm.Config{BaseURL: f.LLMURL, Model: f.LLMModel, APIKey: key, Timeout: f.LLMTimeout})
	if err != nil {
		return nil, err
	}
	return engine.WithLLMExtractor(engine.LLMOptions{Extractor: x, Name: "llm:" + f.LLMModel, Workers: f.LLMWorkers,
		Budget: f.LLMBudget, Timeout: f.LLMTimeout, MaxAttempts: f.LLMMaxAttempt}), nil
}
