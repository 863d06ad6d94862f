package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Lock files in the data directory. engram.lock says who uses the data:
// serve and the commands that are safe beside it hold it shared; a command
// that must have the data alone (kek rotate) holds it exclusively. A
// second file keeps to one server per directory, since two servers would
// each trust their own caches. The kernel drops both locks when the
// process ends, however it ends, so a crash leaves nothing to clean up.
const (
	dataLockFile  = "engram.lock"
	serveLockFile = "serve.lock"
)

// dataUse is how a command uses the data directory.
type dataUse int

const (
	// useShared: an offline command that is safe beside a running
	// server (its writes are ordinary transactions the server sees).
	useShared dataUse = iota
	// useServe: the server. Shared with safe commands, alone among
	// servers.
	useServe
	// useExclusive: a command that changes what a server holds in
	// memory (the KEK); it refuses to run beside anything.
	useExclusive
)

// errLocked is what flock reports for a lock held elsewhere.
var errLocked = errors.New("locked")

// dataLock holds the lock files of one data directory until Close.
type dataLock struct{ files []*os.File }

// lockData takes the locks use needs, without waiting: a command that
// cannot have them says why and exits.
func lockData(dir string, use dataUse) (*dataLock, error) {
	l := &dataLock{}
	if use == useServe {
		if err := l.take(filepath.Join(dir, serveLockFile), true); err != nil {
			l.Close()
			if errors.Is(err, errLocked) {
				return nil, fmt.Errorf("another engram serve is running on %s: one server per data directory", dir)
			}
			return nil, err
		}
	}
	if err := l.take(filepath.Join(dir, dataLockFile), use == useExclusive); err != nil {
		l.Close()
		if !errors.Is(err, errLocked) {
			return nil, err
		}
		if use == useExclusive {
			return nil, fmt.Errorf("%s is in use by a running engram serve or another engram command: this command changes keys a running server holds in memory, so stop the server (and wait for other commands) first", dir)
		}
		return nil, fmt.Errorf("%s is locked by an engram command that needs it alone (kek rotate): wait for it to finish", dir)
	}
	return l, nil
}

func (l *dataLock) take(path string, exclusive bool) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open lock file: %w", err)
	}
	if err := flock(f, exclusive); err != nil {
		f.Close()
		return err
	}
	l.files = append(l.files, f)
	return nil
}

// Close releases the locks.
func (l *dataLock) Close() error {
	var errs []error
	for _, f := range l.files {
		errs = append(errs, f.Close())
	}
	l.files = nil
	return errors.Join(errs...)
}
