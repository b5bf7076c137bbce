//go:build unix

package fsops

import (
	"math"

	"golang.org/x/sys/unix"
)

// killProbe checks with kill(2) and signal 0, which sends nothing, whether
// a process with pid exists in our pid namespace. other reports EPERM: it
// exists and belongs to another user.
func killProbe(pid int) (state ProcState, other bool) {
	if pid <= 0 || pid > math.MaxInt32 {
		// kill(2) takes a 32-bit pid_t: a larger value would be
		// truncated, possibly to 0 or -1 (a process group, or every
		// process). 0 and negative values name groups.
		return ProcUnknown, false
	}
	var err error
	for {
		if err = unix.Kill(pid, 0); err != unix.EINTR {
			break
		}
	}
	switch err {
	case nil:
		return ProcRunning, false
	case unix.ESRCH:
		return ProcGone, false
	case unix.EPERM:
		return ProcRunning, true
	}
	return ProcUnknown, false
}
