package postgres_test

import (
	"database/sql"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/postgres"
	"github.com/engram-memory/engram/internal/store/postgres/postgrestest"
)

// TestTLS connects over TCP with sslmode=verify-full and a client
// certificate (scripts/pgtest's cluster accepts TCP only that way), and
// checks that without the certificate, without TLS, or trusting another CA
// the store does not open.
func TestTLS(t *testing.T) {
	tlsDSN := os.Getenv("ENGRAM_TEST_POSTGRES_TLS")
	if tlsDSN == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("ENGRAM_TEST_POSTGRES_TLS is not set: scripts/pgtest sets it when openssl is installed")
		}
		t.Skip("ENGRAM_TEST_POSTGRES_TLS is not set (scripts/pgtest, with openssl)")
	}
	dbURL, err := url.Parse(postgrestest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(tlsDSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = dbURL.Path
	with := func(change func(q url.Values)) string {
		v := *u
		q := v.Query()
		change(q)
		v.RawQuery = q.Encode()
		return v.String()
	}

	ctx := t.Context()
	db, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("Open over TLS: %v", err)
	}
	defer db.Close()
	if err := db.Write(ctx, func(tx store.Tx) error {
		return tx.CreateTenant(ctx, &store.Tenant{ID: newID(), Name: "tls", CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var ssl bool
	var dn string
	if err := raw.QueryRowContext(ctx, `SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl, &dn); err != nil {
		t.Fatal(err)
	}
	if !ssl || !strings.Contains(dn, "CN=engram") {
		t.Fatalf("connection: ssl %v, client %q", ssl, dn)
	}

	for name, dsn := range map[string]string{
		"without a client certificate": with(func(q url.Values) { q.Del("sslcert"); q.Del("sslkey") }),
		"without TLS":                  with(func(q url.Values) { q.Set("sslmode", "disable") }),
		"trusting another CA":          with(func(q url.Values) { q.Set("sslrootcert", q.Get("sslcert")) }),
	} {
		if db, err := postgres.Open(ctx, dsn); err == nil {
			db.Close()
			t.Errorf("Open %s succeeded", name)
		}
	}
}
