package engine

import "github.com/engram-memory/engram"

// A key with memories:write but not memories:read may change memories
// without reading them. What a write answers is bounded the same way: ids,
// events and what the caller itself sent, never anything read from the
// store (old metadata, scope ids, times, whether a text already exists).
// The engine enforces it, so REST and MCP answer alike.

// sentOnly is an updated memory as a write-only caller sees it: its id,
// the text and metadata the caller sent; scope fields empty and times
// zero, because they come from the stored record.
func sentOnly(id, content string, metadata map[string]any) *engram.Memory {
	return &engram.Memory{ID: id, Content: content, Metadata: metadata}
}
