//go:build !unix

package diskspace

import "errors"

// Outside Unix, Engram does not measure free space: every reading fails,
// /healthz says storage "unknown", and the Guard allows growth (SQLite's
// "disk full" is still answered 507). OPERATIONS.md says so.
func statfs(string) (Space, error) {
	return Space{}, errors.New("free space is not measured on this platform")
}
