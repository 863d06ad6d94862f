package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/storetest"
)

// serverDSN is the PostgreSQL server the tests make their databases on
// (scripts/pgtest starts a throwaway one). Without it the tests skip
// locally and fail in CI (CI=true), where a skipped store is a hole.
func serverDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("ENGRAM_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ENGRAM_TEST_POSTGRES is not set: run the tests under scripts/pgtest")
		}
		t.Skip("ENGRAM_TEST_POSTGRES is not set (scripts/pgtest go test ./internal/store/postgres)")
	}
	return dsn
}

// newDatabase creates an empty database for one test, dropped when the
// test ends, and returns its DSN.
func newDatabase(t testing.TB) string {
	t.Helper()
	dsn := serverDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "engram_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(t.Context(), `CREATE DATABASE `+name); err != nil {
		_ = admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		// After the store's Close (storetest registers it first, so it
		// runs later: FORCE ends whatever connection is left).
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database: %v", err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("ENGRAM_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func open(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), newDatabase(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t) })
}
