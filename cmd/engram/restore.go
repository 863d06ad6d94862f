package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/audit"
	"github.com/engram-memory/engram/internal/backup"
	"github.com/engram-memory/engram/internal/engine"
	"github.com/engram-memory/engram/internal/filemode"
	"github.com/engram-memory/engram/internal/kek/kekconfig"
	"github.com/engram-memory/engram/internal/kek/local"
	"github.com/engram-memory/engram/internal/keys"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// Exit codes of restore beyond 0 (restored, chains intact) and 1
// (refused, nothing changed).
const exitRollback = 3

// restoreCmd puts a backup's database in a data directory. Everything is
// checked on a temporary file in that directory before it replaces
// anything: the file's hash, that the KEK opens it, that its audit chains
// are intact, and that they reach every checkpoint kept outside.
type restoreCmd struct {
	From          string   `name:"from" required:"" type:"existingfile" help:"Backup file written by engram backup."`
	KEK           string   `name:"kek" type:"existingfile" help:"The node's KEK file (its kek.key, backed up separately); installed as DIR/kek.key. Needed unless DIR already holds the right one."`
	Checkpoint    []string `name:"checkpoint" type:"existingfile" help:"A signed audit checkpoint published before the backup was restored (GET /v1/audit/checkpoint); repeatable. A restored chain shorter than one is a rollback."`
	AllowRollback bool     `name:"allow-rollback" help:"Install a backup older than a kept checkpoint anyway (still reported)."`
	Force         bool     `name:"force" help:"Replace the database of a data directory that is not empty (no server may run on it)."`
	dataFlags
}

func (c *restoreCmd) Run(ctx context.Context, s *ioStreams) error {
	if err := c.embeddedOnly("restore"); err != nil {
		return err
	}
	refuse := func(format string, args ...any) error {
		return &exitError{code: 1, err: fmt.Errorf("restore refused: "+format, args...)}
	}
	entries, err := os.ReadDir(c.Data)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if !onlyLocks(entries) && !c.Force {
		return refuse("%s is not empty: pass --force to replace its database", c.Data)
	}
	f, err := os.Open(c.From)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := backup.Open(f)
	if err != nil {
		return refuse("%s: %v", c.From, err)
	}
	kekPath := c.KEK
	if kekPath == "" {
		kekPath = filepath.Join(c.Data, kekFile)
		if _, err := os.Stat(kekPath); err != nil {
			return refuse("no KEK: pass --kek FILE, the kek.key of the node this backup came from (kept apart from backups)")
		}
	}
	if err := filemode.CheckFile(kekPath); err != nil {
		return refuse("KEK: %v", err)
	}
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return err
	}
	if err := filemode.CheckDir(c.Data); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// Exclusive: a server on the directory would keep serving the
	// database it has open, and its caches.
	lock, err := lockData(c.Data, useExclusive)
	if err != nil {
		return err
	}
	defer lock.Close()

	tmp, err := receive(c.Data, r)
	if err != nil {
		return refuse("%s: %v", c.From, err)
	}
	defer removeDB(tmp)
	res, err := checkRestored(ctx, tmp, kekPath, c.Checkpoint)
	if err != nil {
		return refuse("%v", err)
	}
	h := r.Header
	if res.rollback != nil && !c.AllowRollback {
		fmt.Fprintf(s.err, "ROLLBACK: %v\n", res.rollback)
		return &exitError{code: exitRollback, err: fmt.Errorf("restore refused: the backup (taken %s) is older than an audit checkpoint already published: restoring it would silently drop audited history; nothing was changed (--allow-rollback installs it anyway)", h.CreatedAt.Format(time.RFC3339))}
	}
	digest, err := fileDigest(c.From)
	if err != nil {
		return err
	}
	if err := install(c.Data, tmp, c.KEK); err != nil {
		return err
	}
	// The restore is itself recorded, in the restored chain: a rollback
	// installed with --allow-rollback stays visible to every later reader.
	reason := ""
	switch {
	case res.rollback != nil:
		reason = "rollback"
	case len(c.Checkpoint) == 0:
		reason = "unchecked"
	}
	if err := recordRestore(ctx, c.Data, digest, reason); err != nil {
		return fmt.Errorf("restore installed, but its audit entry failed: %w", err)
	}
	fmt.Fprintf(s.out, "restore: %s from %s (taken %s by engram %s)\n", filepath.Join(c.Data, "engram.db"), c.From, h.CreatedAt.Format(time.RFC3339), h.EngramVersion)
	fmt.Fprintf(s.out, "audit: %d chain(s), %d entries: intact\n", res.chains, res.entries)
	switch {
	case res.rollback != nil:
		fmt.Fprintf(s.err, "WARNING: ROLLBACK installed (--allow-rollback): %v\n", res.rollback)
	case len(c.Checkpoint) == 0:
		fmt.Fprintln(s.err, "warning: no --checkpoint given: a rollback to an older state cannot be detected; pass the newest checkpoint published (GET /v1/audit/checkpoint)")
	default:
		fmt.Fprintf(s.out, "audit: reaches the %d kept checkpoint(s): no rollback\n", len(c.Checkpoint))
	}
	return nil
}

// onlyLocks: a directory holding nothing but lock files (a refused restore
// leaves them) holds no data to lose.
func onlyLocks(entries []os.DirEntry) bool {
	for _, e := range entries {
		if n := e.Name(); n != dataLockFile && n != serveLockFile {
			return false
		}
	}
	return true
}

// receive streams the payload into a 0600 temporary file in dir and
// returns its path once the hash matched.
func receive(dir string, r *backup.Reader) (string, error) {
	f, err := os.CreateTemp(dir, ".engram.db.restore-")
	if err != nil {
		return "", err
	}
	path := f.Name()
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		removeDB(path)
		return "", err
	}
	return path, nil
}

// removeDB removes a database file and what SQLite kept beside it.
func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
}

// restoreCheck is what checkRestored found.
type restoreCheck struct {
	chains   int
	entries  uint64
	rollback error // a kept checkpoint the chains do not reach
}

// checkRestored opens the restored database under the KEK (which must open
// its key hierarchy), verifies every audit chain as `engram audit verify`
// does, then again against the kept checkpoints. Damage is an error; a
// chain that falls short of (or departs from) a kept checkpoint only, with
// its own records intact, is a rollback. The log is folded in and emptied
// before it returns, so that the file alone is the database.
func checkRestored(ctx context.Context, path, kekPath string, kept []string) (res restoreCheck, err error) {
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return res, fmt.Errorf("the backup's database does not open: %w", err)
	}
	defer func() {
		if cerr := db.Checkpoint(ctx); err == nil && cerr != nil {
			err = cerr
		}
		if cerr := db.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	k, err := local.OpenOrCreate(kekPath)
	if err != nil {
		return res, err
	}
	e := engine.New(db, keys.New(db, k, nil, keys.WithTenantKEKs(kekconfig.Open)), nil)
	if err := e.Start(ctx); err != nil {
		return res, fmt.Errorf("the KEK %s does not open this backup (is it the kek.key of the node it came from, after its last kek rotate?): %w", kekPath, err)
	}
	reports, err := e.VerifyAuditTrail(ctx, "", true)
	if err != nil {
		return res, err
	}
	for _, r := range reports {
		if p := r.Problem; p != nil {
			return res, fmt.Errorf("the backup's audit chain of tenant %q is damaged at entry %d: %s: %s", r.TenantID, p.Seq, p.Kind, p.Detail)
		}
		res.chains++
		res.entries += r.Entries
	}
	var cps []audit.Checkpoint
	for _, file := range kept {
		b, err := os.ReadFile(file)
		if err != nil {
			return res, err
		}
		// The note itself or the JSON of GET /v1/audit/checkpoint.
		var info engram.AuditCheckpointInfo
		if json.Unmarshal(b, &info) == nil && info.Checkpoint != "" {
			b = []byte(info.Checkpoint)
		}
		cp, _, err := e.KeptCheckpoint(ctx, b)
		if err != nil {
			// Signed by a key the backup does not know: a checkpoint key
			// rotated after the backup was taken, or another deployment's.
			res.rollback = fmt.Errorf("checkpoint %s does not verify under the backup's keys (newer than the backup, or another deployment's): %v", file, err)
			return res, nil
		}
		cps = append(cps, cp)
	}
	if len(cps) == 0 {
		return res, nil
	}
	// Each kept checkpoint speaks only for its own tenant's chain.
	reports, err = e.VerifyAuditTrail(ctx, "", true, cps...)
	if err != nil {
		return res, err
	}
	for _, r := range reports {
		if p := r.Problem; p != nil {
			res.rollback = fmt.Errorf("audit chain of tenant %q: %s", r.TenantID, p.Detail)
			return res, nil
		}
	}
	return res, nil
}

// install moves the checked database (and the KEK, when one was given)
// into place. The old log and index go first: SQLite would replay a stale
// log over the new file. A kek.key.next left by an interrupted rotation
// belonged to the old database and would be tried against the new one.
func install(dir, tmp, kekFrom string) error {
	if kekFrom != "" {
		b, err := os.ReadFile(kekFrom)
		if err != nil {
			return err
		}
		if err := writeSecretFile(filepath.Join(dir, kekFile), string(b)); err != nil {
			return fmt.Errorf("install KEK: %w", err)
		}
	}
	dbPath := filepath.Join(dir, "engram.db")
	for _, p := range []string{filepath.Join(dir, kekFile+".next"), dbPath + "-wal", dbPath + "-shm", tmp + "-wal", tmp + "-shm"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return err
	}
	return syncDir(dir)
}

// recordRestore appends the node.restore entry to the installed database.
func recordRestore(ctx context.Context, dir, digest, reason string) (err error) {
	db, err := sqlite.Open(ctx, filepath.Join(dir, "engram.db"))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	return recordNode(ctx, db, dir, engram.AuditNodeRestore, digest, reason)
}
