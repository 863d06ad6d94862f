package mcp_test

import (
	"context"
	"slices"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/mcp/mcptest"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestPrivateMemoryOverMCP: add_memory with visibility private writes a
// memory only its author (and an owner) finds through the tools:
// get_memory and memory_history answer not_found to another member,
// list_memories and search_memories leave it out; an unknown visibility
// is invalid.
func TestPrivateMemoryOverMCP(t *testing.T) {
	s := testserver.Start(t)
	ownerKey := newTenant(t, s, "acme")
	p, err := s.Engine.Authenticate(context.Background(), ownerKey)
	if err != nil {
		t.Fatal(err)
	}
	alice := open(t, s, s.AddMember(t, p.TenantID, engram.RoleMember).Key)
	bob := open(t, s, s.AddMember(t, p.TenantID, engram.RoleMember).Key)
	owner := open(t, s, ownerKey)

	var added struct {
		Results []struct{ ID, Event string } `json:"results"`
	}
	mcptest.MustCall(t, alice, "add_memory", map[string]any{"content": "the vault code is 8812", "user_id": "u1", "visibility": "private"}).Decode(t, &added)
	id := added.Results[0].ID
	shared := mcptest.Add(t, alice, "the vault is in the basement", "u1")

	var got struct {
		Memory struct {
			ID         string `json:"id"`
			Visibility string `json:"visibility"`
		} `json:"memory"`
	}
	mcptest.MustCall(t, alice, "get_memory", map[string]any{"id": id}).Decode(t, &got)
	if got.Memory.Visibility != "private" {
		t.Fatalf("author's get_memory: %+v", got)
	}
	mcptest.WantError(t, bob, engram.CodeNotFound, "get_memory", map[string]any{"id": id})
	mcptest.WantError(t, bob, engram.CodeNotFound, "memory_history", map[string]any{"id": id})
	mcptest.WantError(t, bob, engram.CodeNotFound, "update_memory", map[string]any{"id": id, "content": "x"})
	mcptest.WantError(t, bob, engram.CodeNotFound, "delete_memory", map[string]any{"id": id})
	for _, c := range []struct {
		name    string
		session *sdk.ClientSession
		sees    bool
	}{{"bob", bob, false}, {"alice", alice, true}, {"owner", owner, true}} {
		session := c.session
		list := mcptest.IDs(t, mcptest.MustCall(t, session, "list_memories", map[string]any{"user_id": "u1"}))
		found := mcptest.IDs(t, mcptest.MustCall(t, session, "search_memories", map[string]any{"query": "vault code", "user_id": "u1", "threshold": 0}))
		if slices.Contains(list, id) != c.sees || slices.Contains(found, id) != c.sees {
			t.Errorf("%s: list %v search %v; private memory %s visible: want %v", c.name, list, found, id, c.sees)
		}
		if !slices.Contains(list, shared) || !slices.Contains(found, shared) {
			t.Errorf("%s misses the shared memory", c.name)
		}
	}
	// The tool's schema lists the two values; anything else is invalid.
	mcptest.WantError(t, alice, engram.CodeInvalid, "add_memory", map[string]any{"content": "x", "visibility": "secret"})
}
