package postgres

import (
	"testing"
	"time"
)

func TestPoolParams(t *testing.T) {
	def := poolConfig{maxConns: defaultMaxConns, maxWriters: defaultMaxConns / 2, idleTime: 5 * time.Minute}
	for _, tc := range []struct {
		in, dsn string
		pc      poolConfig
		fail    bool
	}{
		{"postgres://u@h/db?sslmode=verify-full", "postgres://u@h/db?sslmode=verify-full", def, false},
		{"postgres://u@h/db?pool_max_conns=40&sslmode=verify-full", "postgres://u@h/db?sslmode=verify-full",
			poolConfig{maxConns: 40, maxWriters: 20, idleTime: 5 * time.Minute}, false},
		{"postgres://u@h/db?pool_max_conns=4&pool_max_writers=1&pool_max_conn_idle_time=30s&pool_max_conn_lifetime=1h",
			"postgres://u@h/db", poolConfig{maxConns: 4, maxWriters: 1, idleTime: 30 * time.Second, lifetime: time.Hour}, false},
		{"postgresql://u@h/db?pool_max_conns=1", "", poolConfig{}, true},
		{"postgres://u@h/db?pool_max_conns=x", "", poolConfig{}, true},
		{"postgres://u@h/db?pool_max_conns=4&pool_max_writers=4", "", poolConfig{}, true},
		{"postgres://u@h/db?pool_max_writers=0", "", poolConfig{}, true},
		{"postgres://u@h/db?pool_max_conn_idle_time=5", "", poolConfig{}, true},
		{"postgres://u@h/db?pool_max_conn_lifetime=-1m", "", poolConfig{}, true},
		{"host=h dbname=db pool_max_conns=4", "host=h dbname=db pool_max_conns=4", def, false},
	} {
		dsn, pc, err := poolParams(tc.in)
		if (err != nil) != tc.fail || dsn != tc.dsn || pc != tc.pc {
			t.Errorf("poolParams(%q) = %q, %+v, %v", tc.in, dsn, pc, err)
		}
	}
}

func TestRebind(t *testing.T) {
	got := rebind(`SELECT a FROM t WHERE x = ? AND y = '?' AND z IN (?,?)`)
	want := `SELECT a FROM t WHERE x = $1 AND y = '?' AND z IN ($2,$3)`
	if got != want {
		t.Errorf("rebind = %q, want %q", got, want)
	}
}

func TestReadOnly(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT id FROM tenants WHERE name = ?":                         true,
		"\n\t\tselect id\n\t\tfrom api_keys":                            true,
		"SELECT id FROM oauth_codes WHERE digest = ?\n\tFOR UPDATE":     false,
		"SELECT id FROM t FOR\nSHARE":                                   false,
		"UPDATE api_keys SET last_used_at = ? WHERE id = ?":             false,
		"INSERT INTO tenants (id) VALUES (?)":                           false,
		"WITH d AS (DELETE FROM t RETURNING id) SELECT count(*) FROM d": false,
		"SELECTED": false,
	} {
		if got := readOnly(q); got != want {
			t.Errorf("readOnly(%q) = %v", q, got)
		}
	}
}
