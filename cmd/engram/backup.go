package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/engram-memory/engram"
	"github.com/engram-memory/engram/internal/backup"
	"github.com/engram-memory/engram/internal/filemode"
	"github.com/engram-memory/engram/internal/store/sqlite"
)

// backupCmd writes a consistent copy of a node's database to one file,
// while `engram serve` keeps running on the directory. The file holds the
// database as stored (every content field sealed); the KEK is never in it
// and is backed up separately (docs/LIFECYCLE.md).
type backupCmd struct {
	To string `name:"to" required:"" type:"path" help:"Backup file to write (0600; must not exist)."`
	dataFlags
}

func (c *backupCmd) Run(ctx context.Context, s *ioStreams) error {
	if err := c.embeddedOnly("backup"); err != nil {
		return err
	}
	if _, err := os.Lstat(c.To); err == nil {
		return &exitError{code: 1, err: fmt.Errorf("%s exists: a backup never overwrites a file", c.To)}
	}
	dbPath := filepath.Join(c.Data, "engram.db")
	// Opening would create an empty store: a typo in --data must fail.
	if _, err := os.Stat(dbPath); err != nil {
		return &exitError{code: 1, err: fmt.Errorf("no database in %s: %w", c.Data, err)}
	}
	if err := filemode.CheckDir(c.Data); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// Shared, like every command safe beside serve; it waits for no one
	// but refuses to run during a kek rotate.
	lock, err := lockData(c.Data, useShared)
	if err != nil {
		return err
	}
	defer lock.Close()
	db, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()

	dir := filepath.Dir(c.To)
	work, err := os.MkdirTemp(dir, ".engram-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// Everything committed before this moment is in the copy.
	started := time.Now().UTC()
	snap := filepath.Join(work, "engram.db")
	if err := db.CopyTo(ctx, snap); err != nil {
		return err
	}
	in, err := os.Open(snap)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := filepath.Join(work, "backup")
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := backup.Write(out, backup.Header{CreatedAt: started, EngramVersion: version}, in); err != nil {
		return err
	}
	if err := out.Sync(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	if err := publish(tmp, c.To); err != nil {
		return err
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	fi, err := os.Stat(c.To)
	if err != nil {
		return err
	}
	digest, err := fileDigest(c.To)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "backup: %s (%d bytes, %s), consistent as of %s\n", c.To, fi.Size(), digest, started.Format(time.RFC3339))
	fmt.Fprintf(s.err, "the KEK is not in the backup: keep a copy of %s apart from it\n", filepath.Join(c.Data, kekFile))
	// Recorded after the copy, so the backup holds its predecessors' entry,
	// not its own. Without the directory's KEK the chain cannot be
	// written: said, not hidden; the backup itself stands.
	if err := recordNode(ctx, db, c.Data, engram.AuditNodeBackup, digest, ""); err != nil {
		fmt.Fprintf(s.err, "warning: the backup is not recorded in the audit chain: %v\n", err)
	}
	return nil
}

// recordNode appends a node.backup or node.restore entry to the system
// chain of the database db, under the directory's KEK. A directory without
// its KEK (kept elsewhere) cannot sign the entry: an error, never a new key.
func recordNode(ctx context.Context, db *sqlite.DB, dir string, act engram.AuditAction, digest, reason string) error {
	if _, err := os.Stat(filepath.Join(dir, kekFile)); err != nil {
		return fmt.Errorf("no KEK in %s: %w", dir, err)
	}
	l, err := openKeys(ctx, db, dir, nil)
	if err != nil {
		return err
	}
	return l.RecordNode(ctx, act, digest, reason)
}

// fileDigest names a backup file in the audit chain and the command's
// output: the first 16 bytes of its SHA-256, in hex.
func fileDigest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16]), nil
}

// publish gives the finished file its name. A link, unlike a rename,
// refuses a file that appeared meanwhile; filesystems without hard links
// (FAT, some network mounts) get a rename after a last check.
func publish(tmp, to string) error {
	err := os.Link(tmp, to)
	if errors.Is(err, fs.ErrExist) {
		return &exitError{code: 1, err: fmt.Errorf("%s exists: a backup never overwrites a file", to)}
	}
	if err == nil {
		return nil
	}
	if _, serr := os.Lstat(to); serr == nil {
		return &exitError{code: 1, err: fmt.Errorf("%s exists: a backup never overwrites a file", to)}
	}
	return os.Rename(tmp, to)
}

// syncDir makes a rename or link in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
