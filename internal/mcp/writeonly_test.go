package mcp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/mcp/mcptest"
	"github.com/engram-memory/engram/internal/testserver"
)

// TestWriteOnlyKeyOverMCP: the engine's rule for keys without
// memories:read holds on the MCP path too: a duplicate add does not
// answer NONE, and update_memory answers only the id and the text sent,
// not the stored scope or dates.
func TestWriteOnlyKeyOverMCP(t *testing.T) {
	s := testserver.Start(t)
	ctx := context.Background()
	owner, k := agentKey(t, s, client.CreateKeyRequest{Name: "agent", Scopes: []engram.Permission{engram.PermMemoriesWrite}})
	stored, err := owner.Add(ctx, client.AddRequest{Content: "Alice's PIN is 4512", UserID: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	id := stored[0].ID
	cs := open(t, s, k.Secret)

	var added struct {
		Results []struct{ ID, Event string } `json:"results"`
	}
	r := mcptest.MustCall(t, cs, "add_memory", map[string]any{"content": "Alice's PIN is 4512", "user_id": "alice"})
	r.Decode(t, &added)
	if len(added.Results) != 1 || added.Results[0].Event != string(engram.EventAdd) || added.Results[0].ID == id || strings.Contains(r.Text, id) {
		t.Fatalf("write-only duplicate add_memory: %+v %q", added, r.Text)
	}

	var out struct{ Memory mcptest.Memory }
	r = mcptest.MustCall(t, cs, "update_memory", map[string]any{"id": id, "content": "Alice's PIN changed"})
	r.Decode(t, &out)
	if out.Memory.ID != id || out.Memory.Memory != "Alice's PIN changed" || out.Memory.UserID != "" || out.Memory.CreatedAt != "" ||
		strings.Contains(r.Text, "alice") {
		t.Fatalf("write-only update_memory answered %+v %q", out.Memory, r.Text)
	}
}
