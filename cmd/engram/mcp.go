package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/mcp"
)

// mcpCmd is an MCP server on stdio for desktop agents (Claude Desktop,
// Claude Code, Cursor). It is a thin proxy: the same tools as /mcp, run
// against a remote server through the REST client with the user's key, so
// the server alone authenticates, authorizes and audits.
type mcpCmd struct {
	URL    string `name:"url" env:"ENGRAM_URL" default:"http://127.0.0.1:8420" help:"Engram server URL."`
	APIKey string `name:"api-key" env:"ENGRAM_API_KEY" placeholder:"KEY" help:"API key. Set ENGRAM_API_KEY instead (in the MCP host's env block): flags show up in process lists."`
}

func (c *mcpCmd) Run(ctx context.Context, s *ioStreams) error {
	if c.APIKey == "" {
		return &exitError{code: 2, err: errors.New("mcp: ENGRAM_API_KEY is not set; put an API key in the MCP server's environment (engram keys create NAME)")}
	}
	cl := client.New(c.URL, c.APIKey)
	if err := checkKey(ctx, cl, c.URL); err != nil {
		return &exitError{code: 1, err: err}
	}
	// stdout carries the protocol; anything for people goes to stderr.
	log := slog.New(slog.NewTextHandler(s.err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := mcp.New(cl.Memories(), mcp.Options{Version: version, Logger: log, Observe: cl, Graph: cl})
	err := srv.Run(ctx, &sdk.StdioTransport{})
	if ctx.Err() != nil {
		return nil // stopped by a signal: a normal end
	}
	return err
}

// checkKey refuses to start with a key the server does not accept, so that
// a host shows a clear error at start instead of failing every tool call.
// A key without memories:read is still a valid key: it starts, and its
// tool calls answer forbidden.
func checkKey(ctx context.Context, cl *client.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err := cl.List(ctx, client.ListRequest{Limit: 1})
	var ce *client.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce) && ce.Status == http.StatusUnauthorized:
		return fmt.Errorf("mcp: the server at %s refused the API key in ENGRAM_API_KEY (missing, wrong, revoked or expired)", url)
	case errors.As(err, &ce) && ce.Status == http.StatusForbidden:
		return nil
	case errors.As(err, &ce):
		return fmt.Errorf("mcp: the server at %s answered %d %s; is ENGRAM_URL an Engram server?", url, ce.Status, ce.Code)
	default:
		return fmt.Errorf("mcp: cannot reach the Engram server at %s (set ENGRAM_URL): %w", url, err)
	}
}
