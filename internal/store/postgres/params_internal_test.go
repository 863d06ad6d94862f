package postgres

import "testing"

func TestPoolParams(t *testing.T) {
	for _, tc := range []struct {
		in, dsn string
		n       int
		fail    bool
	}{
		{"postgres://u@h/db?sslmode=verify-full", "postgres://u@h/db?sslmode=verify-full", defaultMaxConns, false},
		{"postgres://u@h/db?pool_max_conns=40&sslmode=verify-full", "postgres://u@h/db?sslmode=verify-full", 40, false},
		{"postgresql://u@h/db?pool_max_conns=1", "", 0, true},
		{"postgres://u@h/db?pool_max_conns=x", "", 0, true},
		{"host=h dbname=db pool_max_conns=4", "host=h dbname=db pool_max_conns=4", defaultMaxConns, false},
	} {
		dsn, n, err := poolParams(tc.in)
		if (err != nil) != tc.fail || dsn != tc.dsn || n != tc.n {
			t.Errorf("poolParams(%q) = %q, %d, %v", tc.in, dsn, n, err)
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
