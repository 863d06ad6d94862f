package httpapi_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves goroutines behind (server
// loops, store pools, key caches).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
