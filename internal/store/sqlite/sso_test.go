package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/storetest"
)

func TestSSOConformance(t *testing.T) {
	storetest.RunSSO(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "engram.db"))
	})
}
