package main

import (
	"context"
	"fmt"
	"os"

	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/embed/batcher"
	"github.com/engram-memory/engram/internal/embed/openai"
	"github.com/engram-memory/engram/internal/embed/uselite"
	"github.com/engram-memory/engram/internal/engine"
)

// embedFlags choose the embedding model of semantic search.
type embedFlags struct {
	Embedder     string `name:"embedder" env:"ENGRAM_EMBEDDER" enum:"builtin,openai,none" default:"builtin" help:"Embedding model: builtin (offline USE-lite, in the binary), openai (any OpenAI-compatible /v1/embeddings server), none (keyword search only)."`
	OpenAIURL    string `name:"openai-url" env:"ENGRAM_OPENAI_URL" help:"Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1 (key in ENGRAM_OPENAI_API_KEY)."`
	OpenAIModel  string `name:"openai-model" env:"ENGRAM_OPENAI_MODEL" help:"Embedding model name on that server."`
	EmbedContext string `name:"embed-context" env:"ENGRAM_EMBED_CONTEXT" enum:"auto,text,vector" default:"auto" help:"How a memory's vector takes in the turns written just before it. auto (default): vector with the built-in model, text with openai. vector: each text embedded once; with the built-in model the turns' tokens are pooled together before its last layer (recall equal to text's on LoCoMo); with openai their own embeddings are added to the memory's (R@10 about 0.007 lower with the built-in model). text: embed them again with it (every text three times)."`
	VectorBudget int64  `name:"vector-memory" env:"ENGRAM_VECTOR_MEMORY" default:"1073741824" help:"Bytes of decrypted vectors kept in memory across tenants (least recently used tenants are evicted)."`
	// Here rather than beside the store flags because every command that
	// builds an engine with these flags searches.
	KeywordBudget int64 `name:"keyword-memory" env:"ENGRAM_KEYWORD_MEMORY" default:"536870912" help:"Bytes of blind keyword postings kept in memory across tenants (least recently used tenants are evicted; 0: keyword search reads the store)."`
}

// options returns the engine options for the chosen embedder.
func (f *embedFlags) options(ctx context.Context) ([]engine.Option, error) {
	kw := engine.WithKeywordBudget(f.KeywordBudget)
	var emb embed.Embedder
	switch f.Embedder {
	case "none":
		return []engine.Option{kw}, nil
	case "builtin":
		m, err := uselite.New()
		if err != nil {
			return nil, fmt.Errorf("built-in embedding model: %w", err)
		}
		emb = m
	case "openai":
		c, err := openai.New(openai.Config{BaseURL: f.OpenAIURL, Model: f.OpenAIModel, APIKey: os.Getenv("ENGRAM_OPENAI_API_KEY")})
		if err != nil {
			return nil, err
		}
		if _, err := c.Probe(ctx); err != nil {
			return nil, fmt.Errorf("embedding server: %w", err)
		}
		emb = c
	}
	// Concurrent requests share the model's passes (one pass of many
	// texts uses the cores far better than many passes of one).
	opts := []engine.Option{kw, engine.WithEmbedder(batcher.New(emb, 0), f.VectorBudget)}
	switch f.EmbedContext {
	case "vector":
		opts = append(opts, engine.WithVectorContext())
	case "text":
		opts = append(opts, engine.WithTextContext())
	} // auto: the engine's default, vector when the embedder has pooled states

	return opts, nil
}
