//go:build !linux

package fsops

import "os"

// Self knows only the pid: without /proc there is no boot id, namespace or
// start time, so no holder is ever judged dead by its identity here.
func (osProcs) Self() ProcID { return ProcID{Pid: os.Getpid()} }

func (osProcs) Probe(pid int) (ProcState, uint64) {
	state, _ := killProbe(pid)
	return state, 0
}
