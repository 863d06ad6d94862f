// Package filemode checks the modes of the files and directories that hold
// Engram's secrets. Engram refuses to start on a loose mode rather than
// repairing it, like it does for kek.key: a file that others could read
// may already have been read, and the operator must learn that (and
// rotate what leaked) instead of finding the mode quietly fixed.
//
// Files must grant nothing to group or others. Directories must not be
// writable by group or others (who could then replace or delete the files
// inside); reading or searching them reveals only the names of files that
// are private themselves, so the usual 0755 of a directory made under the
// default umask is accepted.
package filemode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Permission bits that are refused.
const (
	looseFile fs.FileMode = 0o077 // any access by group or others
	looseDir  fs.FileMode = 0o022 // write by group or others
)

// CheckFile returns nil when path does not exist or grants nothing to
// group or others; otherwise an error naming the path, its mode and the
// command that fixes it. It follows symbolic links: what matters is the
// mode of what the service reads.
func CheckFile(path string) error {
	return check(path, looseFile, "must not be accessible by group or others", "600")
}

// CheckDir returns nil when the directory at path does not exist or is not
// writable by group or others; otherwise an error naming the fix.
func CheckDir(path string) error {
	return check(path, looseDir, "must not be writable by group or others", "700")
}

// CheckFiles is CheckFile on each path, failing on the first loose one.
func CheckFiles(paths ...string) error {
	for _, p := range paths {
		if err := CheckFile(p); err != nil {
			return err
		}
	}
	return nil
}

func check(path string, loose fs.FileMode, rule, fix string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode().Perm()&loose == 0 {
		return nil
	}
	return fmt.Errorf("%s has mode %04o: it %s (chmod %s %s)", path, fi.Mode().Perm(), rule, fix, path)
}
