package fsopstest

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/nfslease/nfslease/fsops"
)

// Machine is a fake process table: one boot of one machine, with one pid
// namespace, whose processes start, die and have their pids reused at will.
// Machines that share a host name but not a boot id are distinct machines;
// two Machines with the same boot id and namespace are one machine seen
// twice (which a real boot id rules out). The zero value is not usable;
// use NewMachine. A Machine is safe for concurrent use.
type Machine struct {
	bootID string
	pidNS  uint64

	mu    sync.Mutex
	ticks uint64               // the start time of the next process
	procs map[int]*machineProc // running processes by pid
}

type machineProc struct {
	start     uint64
	otherUser bool // Probe learns only that it runs
}

// NewMachine returns an empty process table for the machine with boot id
// derived from name (so that tests name machines, and equal names give
// equal boot ids) and pid namespace inode pidNS.
func NewMachine(name string, pidNS uint64) *Machine {
	sum := sha256.Sum256([]byte(name))
	return &Machine{bootID: hex.EncodeToString(sum[:16]), pidNS: pidNS, ticks: 100, procs: map[int]*machineProc{}}
}

// BootID returns the machine's boot id.
func (m *Machine) BootID() string { return m.bootID }

// Start starts a process with pid, which must not be running, and returns
// its identity. Each process gets a start time later than any before it,
// so a pid reused gets a different one.
func (m *Machine) Start(pid int) fsops.ProcID {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.procs[pid]; ok {
		panic("fsopstest: Machine.Start of a running pid")
	}
	m.ticks++
	m.procs[pid] = &machineProc{start: m.ticks}
	return fsops.ProcID{BootID: m.bootID, PidNS: m.pidNS, Pid: pid, Start: m.ticks}
}

// Kill ends the process with pid, if it runs.
func (m *Machine) Kill(pid int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.procs, pid)
}

// SetOtherUser makes the running process pid another user's (or not):
// probes then learn only that it runs, as kill(2)'s EPERM tells.
func (m *Machine) SetOtherUser(pid int, other bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.procs[pid]; ok {
		p.otherUser = other
	}
}

// Running reports whether a process with pid runs.
func (m *Machine) Running(pid int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.procs[pid]
	return ok
}

// Procs returns the view of the process table that the process id (as
// Start returned it) has: fsops.Procs whose Self is id and whose probes
// see this machine. With hide set, Self reports only the pid, as on a
// system without /proc.
func (m *Machine) Procs(id fsops.ProcID, hide bool) fsops.Procs {
	return machineView{m: m, self: id, hide: hide}
}

type machineView struct {
	m    *Machine
	self fsops.ProcID
	hide bool
}

func (v machineView) Self() fsops.ProcID {
	if v.hide {
		return fsops.ProcID{Pid: v.self.Pid}
	}
	return v.self
}

func (v machineView) Probe(pid int) (fsops.ProcState, uint64) {
	if pid <= 0 {
		return fsops.ProcUnknown, 0
	}
	v.m.mu.Lock()
	defer v.m.mu.Unlock()
	p, ok := v.m.procs[pid]
	switch {
	case !ok:
		return fsops.ProcGone, 0
	case p.otherUser:
		return fsops.ProcRunning, 0
	}
	return fsops.ProcRunning, p.start
}
