package testserver

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/store"
)

// Member is an account of a tenant made for a test, with an API key that
// holds every scope its role may hold.
type Member struct {
	AccountID string
	Role      engram.Role
	Key       string // the API key's secret
	// Session is the context of the account's own session (a principal
	// with a session id, as a signed-in person's): what may do the
	// operations a key may not (creating its own keys).
	Session context.Context
}

// AddMember adds an account with role to tenantID, straight into the store
// (invitations and sign-in are another part's), and gives it an API key
// created by its own session, as a person would, so the key holds every
// scope of the role (rbac.KeyScopes with none requested).
func AddMember(t testing.TB, e *engine.Engine, st store.Store, tenantID string, role engram.Role) *Member {
	t.Helper()
	ctx := context.Background()
	acct := &store.Account{ID: uuid.Must(uuid.NewV7()).String(), TenantID: tenantID, Role: string(role),
		KeyVersion: 1, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	acct.Subject = "a:" + acct.ID
	if err := st.Write(ctx, func(tx store.Tx) error { return tx.CreateAccount(ctx, acct) }); err != nil {
		t.Fatal(err)
	}
	m := &Member{AccountID: acct.ID, Role: role}
	m.Session = engram.WithPrincipal(ctx, &engram.Principal{TenantID: tenantID, AccountID: acct.ID, Role: role,
		SessionID: "test-session-" + acct.ID, Permissions: role.Permissions()})
	k, err := e.CreateKey(m.Session, engram.CreateKeyRequest{Name: string(role) + " key"})
	if err != nil {
		t.Fatalf("key for a %s: %v", role, err)
	}
	m.Key = k.Secret
	return m
}

// Context returns a context holding the principal of the member's key,
// as Authenticate makes it.
func (m *Member) Context(t testing.TB, e *engine.Engine) context.Context {
	t.Helper()
	p, err := e.Authenticate(context.Background(), m.Key)
	if err != nil {
		t.Fatal(err)
	}
	return engram.WithPrincipal(context.Background(), p)
}

// AddMember adds a member to the server's tenantID (see AddMember).
func (s *Server) AddMember(t testing.TB, tenantID string, role engram.Role) *Member {
	t.Helper()
	return AddMember(t, s.Engine, s.db, tenantID, role)
}

// NewEngineStore is NewEngine that also returns the engine's store, for
// tests that add records the engine has no operation for yet.
func NewEngineStore(t testing.TB, opts ...engine.Option) (*engine.Engine, store.Store) {
	t.Helper()
	var st store.Store
	e := OpenEngineOver(t, t.TempDir(), nil, func(s store.Store) store.Store { st = s; return s }, opts...)
	return e, st
}
