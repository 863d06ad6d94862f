package sqlstore

import (
	"context"
	"fmt"
)

// importTables names the table of each kind RecordTenant knows; never
// built from input.
var importTables = map[string]string{
	"memory":  `SELECT tenant_id FROM memories WHERE id = ?`,
	"episode": `SELECT tenant_id FROM episodes WHERE id = ?`,
	"entity":  `SELECT tenant_id FROM entities WHERE id = ?`,
	"fact":    `SELECT tenant_id FROM facts WHERE id = ?`,
}

func (t *Tx) RecordTenant(ctx context.Context, kind, id string) (string, error) {
	defer t.scopeAll()()
	q, ok := importTables[kind]
	if !ok {
		return "", fmt.Errorf("record tenant: unknown kind %q", kind)
	}
	var tenant string
	if err := t.tx.QueryRowContext(ctx, q, id).Scan(&tenant); err != nil {
		return "", t.wrapErr("record tenant", err)
	}
	return tenant, nil
}
