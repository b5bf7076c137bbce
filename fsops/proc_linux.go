package fsops

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"sync"
)

// self is this process's identity, learned once: none of its fields can
// change while the process runs (a process cannot leave its pid
// namespace; unshare and setns affect only its children).
var self = sync.OnceValue(func() ProcID {
	id := ProcID{Pid: os.Getpid()}
	// /proc must be our pid namespace's: /proc/self of a /proc mounted for
	// another namespace shows another pid (or none), and then no pid we
	// probe there means anything.
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return id
	}
	pid, start, err := ParseStat(data)
	if err != nil || pid != id.Pid {
		return id
	}
	target, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return id
	}
	ns, ok := ParseNSLink(target)
	if !ok {
		return id
	}
	data, err = os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return id
	}
	boot, ok := ParseBootID(data)
	if !ok {
		return id
	}
	id.BootID, id.PidNS, id.Start = boot, ns, start
	return id
})

func (osProcs) Self() ProcID { return self() }

func (osProcs) Probe(pid int) (ProcState, uint64) {
	state, other := killProbe(pid)
	if state != ProcRunning || other {
		return state, 0
	}
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		// It ran an instant ago; whether it still does, and which
		// process it is, is unknown: running, start unknown.
		return ProcRunning, 0
	}
	p, start, err := ParseStat(data)
	if err != nil || p != pid {
		return ProcRunning, 0
	}
	if !sameTimeNS(pid) {
		return ProcRunning, 0
	}
	return ProcRunning, start
}

// sameTimeNS reports whether pid is in our time namespace. Since Linux
// 5.6 field 22 of /proc/PID/stat is shown shifted by the boot-time offset
// of the reader's time namespace: the start a holder under another offset
// recorded for itself is not the number we read for it, and comparing the
// two would judge a live process dead. Only when both links read the same
// (or both are missing: a kernel without time namespaces) is the start
// comparable; anything else is unknown, and unknown is alive.
func sameTimeNS(pid int) bool {
	ours, errOurs := os.Readlink("/proc/self/ns/time")
	theirs, errTheirs := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/time")
	if errOurs != nil || errTheirs != nil {
		return errors.Is(errOurs, fs.ErrNotExist) && errors.Is(errTheirs, fs.ErrNotExist)
	}
	return ours == theirs
}
