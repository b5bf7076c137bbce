//go:build unix

package lease

import (
	"math"

	"golang.org/x/sys/unix"
)

// pidAlive reports whether a process with pid runs on this host: kill(2)
// with signal 0 checks without sending anything. EPERM means it runs
// under another user. Used only to remove crashed processes' claim files
// sooner; see Config.PidAlive in internal/proto.
func pidAlive(pid int) bool {
	if pid <= 0 || pid > math.MaxInt32 {
		// kill(2) takes a 32-bit pid_t: a larger value would be
		// truncated, possibly to 0 or -1 (a process group, or every
		// process). Unknown counts as alive.
		return true
	}
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}
