package bench

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Nodes are N `engram serve` child processes sharing one store and one
// kek.key: the first starts alone (migrates the store, bootstraps the
// owner key), the others start after it with a copy of its key file, as
// docs/OPERATIONS.md tells operators to do. Close stops them all.
type Nodes struct {
	Procs []*ServeProcess
	Key   string // the owner key, made by the first node

	bin, store string
}

// StartNodes starts n nodes of bin on store (a PostgreSQL URL; "" is each
// node's own embedded store, which only makes sense for n = 1) with the
// extra serve flags.
func StartNodes(ctx context.Context, bin string, extra []string, store string, n int) (*Nodes, error) {
	if n < 1 {
		return nil, errors.New("at least one node")
	}
	if n > 1 && store == "" {
		return nil, errors.New("several nodes need a shared store")
	}
	first, err := startServe(ctx, bin, extra, nodeSetup{store: store})
	if err != nil {
		return nil, err
	}
	ns := &Nodes{Procs: []*ServeProcess{first}, Key: first.Key, bin: bin, store: store}
	kek, err := os.ReadFile(filepath.Join(first.dir, "kek.key"))
	if err != nil {
		ns.Close()
		return nil, err
	}
	for range n - 1 {
		p, err := startServe(ctx, bin, extra, nodeSetup{store: store, kek: kek})
		if err != nil {
			ns.Close()
			return nil, err
		}
		ns.Procs = append(ns.Procs, p)
	}
	return ns, nil
}

// CreateTenant runs `engram tenants create NAME` on the first node's data
// directory and store while the nodes serve (as an operator would), and
// returns the new tenant's owner key.
func (ns *Nodes) CreateTenant(ctx context.Context, name string) (string, error) {
	cmd := exec.CommandContext(ctx, ns.bin, "tenants", "create", name, "--data", ns.Procs[0].dir)
	cmd.Env = childEnv(ns.store)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("tenants create: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Fields(string(out))
	if len(lines) == 0 {
		return "", errors.New("tenants create: no key printed")
	}
	return lines[len(lines)-1], nil
}

// URLs are the nodes' base URLs, in start order.
func (ns *Nodes) URLs() []string {
	u := make([]string, len(ns.Procs))
	for i, p := range ns.Procs {
		u[i] = p.URL
	}
	return u
}

// CPU is the nodes' CPU seconds so far, summed (not the database's).
func (ns *Nodes) CPU() (float64, error) {
	var sum float64
	for _, p := range ns.Procs {
		c, err := p.CPU()
		if err != nil {
			return 0, err
		}
		sum += c
	}
	return sum, nil
}

// Close stops every node (the later ones first) and removes their data
// directories.
func (ns *Nodes) Close() error {
	var errs []error
	for i := len(ns.Procs) - 1; i >= 0; i-- {
		errs = append(errs, ns.Procs[i].Close())
	}
	return errors.Join(errs...)
}

// ScratchDatabase is a PostgreSQL database made for one benchmark setup
// and dropped after it, so every setup starts on an empty store.
type ScratchDatabase struct {
	DSN  string // the new database, reached as the admin URL's role
	name string
	adm  *sql.DB
}

// NewScratchDatabase creates an empty database through admin (a
// postgres:// URL whose role may CREATE DATABASE); the new database is
// owned by that role, which Engram's nodes then use. Warn is set when the
// role is a superuser or has BYPASSRLS: row-level security does not bind
// it, so such a measurement leaves out the policies' cost (and is not
// how Engram should run).
func NewScratchDatabase(ctx context.Context, admin string) (_ *ScratchDatabase, warn string, _ error) {
	u, err := url.Parse(admin)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, "", errors.New("--postgres: want a postgres:// URL") // never echo it: it may hold a password
	}
	adm, err := sql.Open("pgx", admin)
	if err != nil {
		return nil, "", fmt.Errorf("postgres: %w", err)
	}
	var bypass bool
	if err := adm.QueryRowContext(ctx, `SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).Scan(&bypass); err != nil {
		adm.Close()
		return nil, "", fmt.Errorf("postgres: %w", err)
	}
	if bypass {
		warn = "the --postgres role is a superuser or has BYPASSRLS: row-level security does not apply to it, so its cost is not measured"
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "engram_bench_" + hex.EncodeToString(b)
	if _, err := adm.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		adm.Close()
		return nil, "", fmt.Errorf("create database: %w", err)
	}
	u.Path = "/" + name
	return &ScratchDatabase{DSN: u.String(), name: name, adm: adm}, warn, nil
}

// Drop removes the database, closing any connection still open to it.
func (d *ScratchDatabase) Drop(ctx context.Context) error {
	_, err := d.adm.ExecContext(ctx, `DROP DATABASE IF EXISTS `+d.name+` WITH (FORCE)`)
	return errors.Join(err, d.adm.Close())
}

// Setup is one server arrangement of a comparison: a store ("sqlite", the
// embedded store, or "postgres") and how many nodes share it.
type Setup struct {
	Store string
	Nodes int
}

func (s Setup) String() string {
	if s.Nodes == 1 {
		return s.Store + ", 1 node"
	}
	return fmt.Sprintf("%s, %d nodes", s.Store, s.Nodes)
}

// Setups crosses stores with node counts; the embedded store is one
// process's file, so it appears once, with one node, whatever nodes asks.
func Setups(stores []string, nodes []int) ([]Setup, error) {
	var out []Setup
	seen := map[Setup]bool{}
	for _, st := range stores {
		st = strings.TrimSpace(st)
		if st != "sqlite" && st != "postgres" {
			return nil, fmt.Errorf("store %q: want sqlite or postgres", st)
		}
		for _, n := range nodes {
			if n < 1 || n > MaxLoadNodes {
				return nil, fmt.Errorf("nodes must be from 1 to %d", MaxLoadNodes)
			}
			s := Setup{Store: st, Nodes: n}
			if st == "sqlite" {
				s.Nodes = 1
			}
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no setup")
	}
	return out, nil
}

// MaxLoadNodes bounds the child servers of one setup.
const MaxLoadNodes = 16
