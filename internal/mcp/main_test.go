package mcp_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind (MCP
// sessions, HTTP streams, server loops).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
