//go:build !unix

package diskspace

import "errors"

// statfs is not implemented here: every reading fails, and the Guard
// allows growth (SQLite's "disk full" is still answered 507).
func statfs(string) (Space, error) {
	return Space{}, errors.New("free space is not measured on this platform")
}
