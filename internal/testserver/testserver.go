// Package testserver starts a complete Engram node for tests: the embedded
// store in a temporary data directory, the local KEK, the engine and the
// REST API (with MCP at /mcp) on a real listener at 127.0.0.1:0. Nothing is mocked.
package testserver

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/client"
	"github.com/engram-memory/engram/internal/diskspace"
	"github.com/engram-memory/engram/internal/embed"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/httpapi"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/mcp"
	"github.com/engram-memory/engram/internal/password"
	"github.com/engram-memory/engram/internal/seal"
	"github.com/engram-memory/engram/internal/store"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// Clock is a settable clock; it starts at the real time.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Server is a running node.
type Server struct {
	URL     string
	DataDir string
	DBPath  string
	Engine  *engine.Engine
	Clock   *Clock
	// Log receives the server's JSON logs (to check what they hold).
	Log *SyncBuffer

	srv *httptest.Server
	db  *sqlite.DB
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written.
func (b *SyncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}

// Options change how Start builds the node.
type Options struct {
	// TenantKEKs lets tenants bring their own KEK (kekconfig.Open).
	TenantKEKs keys.KEKFactory
	// Embedder enables semantic and hybrid search.
	Embedder embed.Embedder
	// PublicURL is httpapi.Config.PublicURL.
	PublicURL string
	// Storage, when set, is the free-space floor (engine and /healthz).
	Storage *diskspace.Guard
	// RequestTimeout is httpapi.Config.RequestTimeout.
	RequestTimeout time.Duration
	// Limits are the rate limits; nil is none. Suites that fire hundreds
	// of requests in a burst would otherwise pass or fail with the speed of
	// the machine; the limits themselves are tested with small explicit
	// ones, and `engram serve`'s defaults through the binary.
	Limits *httpapi.Limits
	// ImportMaxBytes is httpapi.Config.ImportMaxBytes.
	ImportMaxBytes int64
	// EngineOptions are added to the engine's (e.g. an LLM extractor,
	// whose workers run until the test ends).
	EngineOptions []engine.Option
	// Identity configures sign-in (a mailer, session lifetimes). Its
	// password hashing defaults to TestPasswordParams.
	Identity engine.IdentityOptions
}

// TestPasswordParams make argon2id cheap (64 KiB, one pass) so suites that
// sign many people in stay fast under the race detector. Production uses
// password.OWASP; the hashing itself is tested in internal/password.
var TestPasswordParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Start runs a node until the test ends.
func Start(t testing.TB) *Server { return StartWith(t, Options{}) }

// StartWith runs a node built with opts until the test ends.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	dbPath := filepath.Join(dir, "engram.db")
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	clock := &Clock{now: time.Now()}
	var ringOpts []keys.Option
	if opts.TenantKEKs != nil {
		ringOpts = append(ringOpts, keys.WithTenantKEKs(opts.TenantKEKs))
	}
	var engineOpts []engine.Option
	if opts.Embedder != nil {
		engineOpts = append(engineOpts, engine.WithEmbedder(opts.Embedder, 64<<20))
	}
	var storage func() string
	if opts.Storage != nil {
		engineOpts = append(engineOpts, engine.WithStorageGuard(opts.Storage.Room))
		storage = opts.Storage.Health
	}
	if opts.Identity.PasswordParams == nil {
		opts.Identity.PasswordParams = &TestPasswordParams
	}
	engineOpts = append(engineOpts, engine.WithIdentity(opts.Identity))
	engineOpts = append(engineOpts, opts.EngineOptions...)
	e := engine.New(db, keys.New(db, k, clock.Now, ringOpts...), clock.Now, engineOpts...)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	xctx, xstop := context.WithCancel(context.Background())
	xwait := e.StartExtraction(xctx)
	logs := &SyncBuffer{}
	var limits httpapi.Limits
	if opts.Limits != nil {
		limits = *opts.Limits
	}
	h := httpapi.New(httpapi.Config{
		Memories: e, Keys: e, Privacy: e, Auth: e, Audit: e, AuditProofs: e, Export: e, Import: e, Scopes: e, Observe: e, Graph: e, Identity: e, Version: "test",
		SSO: e, SSOSignIn: e, Deletion: e,
		Logger:    slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Health:    map[string]string{"crypto_profile": seal.Profile()},
		MCP:       mcp.HTTPHandler(mcp.New(e, mcp.Options{Version: "test", Observe: e, Graph: e})),
		OAuth:     e,
		PublicURL: opts.PublicURL,
		Storage:   storage,

		RequestTimeout: opts.RequestTimeout,
		Limits:         limits,
		ImportMaxBytes: opts.ImportMaxBytes,
	})
	srv := httptest.NewServer(h)
	s := &Server{URL: srv.URL, DataDir: dir, DBPath: dbPath, Engine: e, Clock: clock, Log: logs, srv: srv, db: db}
	t.Cleanup(func() {
		srv.Close()
		xstop()
		xwait()
		if err := db.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return s
}

// Tenant creates a tenant and returns a client holding its owner key.
func (s *Server) Tenant(t testing.TB, name string) *client.Client {
	t.Helper()
	nt, err := s.Engine.CreateTenant(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return s.Client(nt.Key.Secret)
}

// Client returns a client for the server with the given key.
func (s *Server) Client(key string) *client.Client { return client.New(s.URL, key) }

// NewEngine opens an engine without a server: a fresh data directory
// (returned) with the embedded store and a local KEK, closed when the test
// ends. Benchmarks and engine-level tests use it.
func NewEngine(t testing.TB, opts ...engine.Option) (*engine.Engine, string) {
	t.Helper()
	dir := t.TempDir()
	return OpenEngine(t, dir, nil, opts...), dir
}

// OpenEngine opens an engine on the data directory dir (created or
// reopened: several engines may open the same one, as processes do) on
// the clock now (nil: time.Now); the store closes when the test ends.
func OpenEngine(t testing.TB, dir string, now engram.Clock, opts ...engine.Option) *engine.Engine {
	t.Helper()
	return OpenEngineOver(t, dir, now, nil, opts...)
}

// OpenEngineOver is OpenEngine with the store seen through wrap (nil: as
// is), for tests that observe what the engine asks of the store.
func OpenEngineOver(t testing.TB, dir string, now engram.Clock, wrap func(store.Store) store.Store, opts ...engine.Option) *engine.Engine {
	t.Helper()
	ctx := context.Background()
	k, err := local.OpenOrCreate(filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var st store.Store = db
	if wrap != nil {
		st = wrap(db)
	}
	e := engine.New(st, keys.New(st, k, now), now, opts...)
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}
