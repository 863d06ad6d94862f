//go:build unix

package diskspace

import (
	"fmt"
	"syscall"
)

// statfs reads the filesystem holding dir. Avail is what an unprivileged
// process may use (f_bavail), not what root could (f_bfree).
func statfs(dir string) (Space, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Space{}, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := uint64(st.Bsize)
	return Space{Avail: uint64(st.Bavail) * bs, Total: uint64(st.Blocks) * bs}, nil
}
