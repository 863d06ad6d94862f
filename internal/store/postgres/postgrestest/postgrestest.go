// Package postgrestest gives tests a database of their own on the
// PostgreSQL server named by ENGRAM_TEST_POSTGRES (scripts/pgtest starts a
// throwaway one). Without it tests skip locally and fail in CI (CI=true),
// where a skipped store would be a hole in the suite.
package postgrestest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/engram-memory/engram/internal/store/postgres"
)

// Env is the variable that names the test server.
const Env = "ENGRAM_TEST_POSTGRES"

// Role is the role the tests connect as: an ordinary one (no superuser,
// no BYPASSRLS) that owns its databases, as Engram's role must be in
// production, so that row-level security applies to it.
const Role = "engram_app"

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

// NewDatabase creates a database for one test with the schema already
// migrated (a copy of a template database made once per schema), owned by
// Role, dropped (with any connection still open to it) when the test
// ends, and returns the DSN that connects to it as Role. Register the
// cleanup that closes a store on it after calling NewDatabase, so that it
// runs first.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, true)
}

// NewEmptyDatabase is NewDatabase without the schema: for tests of the
// migrations themselves.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, false)
}

func newDatabase(t testing.TB, migrated bool) string {
	t.Helper()
	dsn := ServerDSN(t)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	if err := createRole(t.Context(), admin); err != nil {
		_ = admin.Close()
		t.Fatal(err)
	}
	from := "template1"
	if migrated {
		tmplOnce.Do(func() { tmplName, tmplErr = makeTemplate(dsn, admin) })
		if tmplErr != nil {
			_ = admin.Close()
			t.Fatalf("template database: %v", tmplErr)
		}
		from = tmplName
	}
	name := "engram_test_" + randomHex(8)
	if _, err := admin.ExecContext(t.Context(), `CREATE DATABASE `+name+` OWNER `+Role+` TEMPLATE `+from); err != nil {
		_ = admin.Close()
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("drop database: %v", err)
		}
		_ = admin.Close()
	})
	return roleDSN(t, dsn, name)
}

func roleDSN(t testing.TB, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	u.Path = "/" + name
	u.User = url.User(Role)
	return u.String()
}

// createRole creates Role. Tests in several processes may create it at
// once: whoever loses the race finds it taken, which is as good.
func createRole(ctx context.Context, admin *sql.DB) error {
	_, err := admin.ExecContext(ctx, `DO $$ BEGIN
		CREATE ROLE `+Role+` LOGIN NOSUPERUSER NOBYPASSRLS;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`)
	if err != nil {
		return fmt.Errorf("create role: %w", err)
	}
	return nil
}

var (
	tmplOnce sync.Once
	tmplName string
	tmplErr  error
)

// makeTemplate returns the template database of this binary's schema,
// named by a hash of the migrations, creating and migrating it when the
// cluster does not have it yet. Processes testing at once take turns
// under an advisory lock; the template is left in the cluster for later
// runs (scripts/pgtest's cluster is thrown away whole).
func makeTemplate(dsn string, admin *sql.DB) (string, error) {
	ctx := context.Background()
	h := sha256.New()
	err := fs.WalkDir(postgres.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(postgres.Migrations(), path)
		fmt.Fprintf(h, "%s\x00%d\x00", path, len(b))
		h.Write(b)
		return err
	})
	if err != nil {
		return "", err
	}
	name := "engram_tmpl_" + hex.EncodeToString(h.Sum(nil))[:16]

	conn, err := admin.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	const lockKey = 0x656e6774706c // "engtpl"
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(lockKey)); err != nil {
		return "", err
	}
	defer func() { _, _ = conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, int64(lockKey)) }()
	var exists bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	// Made under another name and renamed when complete, so that a run
	// killed halfway leaves no half-migrated template behind that name.
	work := "engram_tmplwork_" + randomHex(8)
	if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+work+` OWNER `+Role); err != nil {
		return "", err
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	u.Path, u.User = "/"+work, url.User(Role)
	db, err := postgres.Open(ctx, u.String())
	if err == nil {
		err = db.Close()
	}
	if err == nil {
		_, err = conn.ExecContext(ctx, `ALTER DATABASE `+work+` RENAME TO `+name)
	}
	if err != nil {
		_, _ = conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+work+` WITH (FORCE)`)
		return "", fmt.Errorf("migrate the template: %w", err)
	}
	return name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
