// Package postgrestest gives tests a database of their own on the
// PostgreSQL server named by ENGRAM_TEST_POSTGRES (scripts/pgtest starts a
// throwaway one). Without it tests skip locally and fail in CI (CI=true),
// where a skipped store would be a hole in the suite.
package postgrestest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Env is the variable that names the test server.
const Env = "ENGRAM_TEST_POSTGRES"

// ServerDSN returns the test server's DSN, or skips (fails in CI).
func ServerDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(Env)
	if dsn == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(Env + " is not set: run the tests under scripts/pgtest")
		}
		t.Skip(Env + " is not set (scripts/pgtest go test ./...)")
	}
	return dsn
}

// Role is the role the tests connect as: an ordinary one (no superuser,
// no BYPASSRLS) that owns its databases, as Engram's role must be in
// production, so that row-level security applies to it.
const Role = "engram_app"

// NewDatabase creates an empty database for one test, owned by Role,
// dropped (with any connection still open to it) when the test ends, and
// returns the DSN that connects to it as Role.
// Register the cleanup that closes a store on it after calling NewDatabase,
// so that it runs first.
func NewDatabase(t testing.TB) string {
	t.Helper()
	dsn := ServerDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "engram_test_" + hex.EncodeToString(b)
	// Tests in several processes may create the role at once: whoever
	// loses the race sees it taken, which is as good.
	if _, err := admin.ExecContext(t.Context(), `DO $$ BEGIN
		CREATE ROLE `+Role+` LOGIN NOSUPERUSER NOBYPASSRLS;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`); err != nil {
		_ = admin.Close()
		t.Fatalf("create role: %v", err)
	}
	if _, err := admin.ExecContext(t.Context(), `CREATE DATABASE `+name+` OWNER `+Role); err != nil {
		_ = admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database: %v", err)
		}
		_ = admin.Close()
	})
	u.Path = "/" + name
	u.User = url.User(Role)
	return u.String()
}
