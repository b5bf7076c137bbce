package algorithm

import (
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// A holder is provably dead when the identity its lock records names a
// process of this very machine, boot and pid namespace that no longer
// exists. Then its lock can be broken at once, with the protocol's usual
// identity-checked break, instead of after watching it unchanged for its
// lifetime: a dead process refreshes nothing, so the version judged stays
// the version broken.
//
// The rule, deadHolder, is deliberately narrow. It says dead only if all
// of these hold, and "alive or unknown" otherwise:
//
//   - both identities are complete (boot id, pid namespace, pid, start
//     time): a lock of Python flufl.lock, of an older version, of another
//     operating system, or of a process whose /proc was not its own, is
//     never judged this way, and falls back to the lifetime rule;
//   - the boot ids are equal (128 random bits drawn at each boot: another
//     machine, or this one before a reboot, never matches), the pid
//     namespaces are equal (containers share a kernel and a boot id but
//     number pids apart), and the recorded host names are equal (not a
//     reason on its own, never: containers share names, and so do
//     machines; an extra guard);
//   - the probe of the recorded pid in our namespace finds no process
//     (kill(2): ESRCH), or finds a process with another start time (the pid
//     was reused). A process that runs and whose start time cannot be read
//     (another user's: EPERM) is alive; so is a zombie not yet reaped.
//
// What it assumes: boot ids are unique among the machines sharing a lock.
// A machine resumed from a snapshot of a running one (a cloned VM, a
// restored microVM) shares the boot id, host name and init pid namespace
// of its original until it reboots, and would judge its twin's live holder
// dead. So the rule is for local filesystems by default: package lease
// gives the protocols a process table (Config.Procs) only where the
// lock's directory is on a local kind of filesystem, which no clone
// reaches, or where lease.WithLocalTakeover forces it; elsewhere Procs is
// nil and locks go stale by their lifetime only. A probe of a process in
// another time namespace reports its start unknown (fsops.Procs.Probe).
func deadHolder(self fsops.ProcID, selfHost string, rec fsops.ProcID, recHost string, probe func(pid int) (fsops.ProcState, uint64)) bool {
	if !sameMachine(self, selfHost, rec, recHost) || probe == nil {
		return false
	}
	state, start := probe(rec.Pid)
	switch state {
	case fsops.ProcGone:
		return true
	case fsops.ProcRunning:
		return start != 0 && start != rec.Start
	}
	return false
}

// sameMachine reports whether the process identified by rec, recorded
// with host name recHost, is one whose pid our probes can judge: both
// identities complete, same boot, same pid namespace, same host name.
func sameMachine(self fsops.ProcID, selfHost string, rec fsops.ProcID, recHost string) bool {
	return self.Known() && rec.Known() && rec.BootID == self.BootID && rec.PidNS == self.PidNS && recHost == selfHost
}

// localHolder judges the holder whose record holds identity rec (complete
// or not), pid recPid and host recHost, with cfg's process table and host
// name: local reports that it is a process of this machine whose pid our
// probes can judge, dead that it is provably dead (deadHolder). mut
// reports the deliberate bugs of the Lock asking (see mutant.go).
func localHolder(cfg proto.Config, rec fsops.ProcID, recPid int, recHost string, mut func(mutation) bool) (local, dead bool) {
	if cfg.Procs == nil {
		return false, false
	}
	self, selfHost := cfg.Procs.Self(), proto.RecordedHost(cfg.Hostname)
	switch {
	case mut(mLivenessHostOnly):
		// (mutant) judge by the host name and the pid alone.
		if recHost != selfHost || recPid <= 0 {
			return false, false
		}
		state, _ := cfg.Procs.Probe(recPid)
		return true, state == fsops.ProcGone
	case mut(mLivenessUnknownStart):
		// (mutant) a running process whose start time cannot be read
		// (another user's) is taken for one with another start time.
		if !sameMachine(self, selfHost, rec, recHost) {
			return false, false
		}
		state, start := cfg.Procs.Probe(rec.Pid)
		return true, state == fsops.ProcGone || state == fsops.ProcRunning && start != rec.Start
	}
	if !sameMachine(self, selfHost, rec, recHost) {
		return false, false
	}
	return true, deadHolder(self, selfHost, rec, recHost, cfg.Procs.Probe)
}

// liveHolder is the identity of a holder the last attempt judged a live
// process of this machine (ok), kept so that a waiter can probe that
// process without reading the lock again: see proto.Lock.HolderGone.
type liveHolder struct {
	ok   bool
	rec  fsops.ProcID
	pid  int
	host string
}

// judgeHolder is localHolder for an attempt: it also sets *live to the
// holder if it is local and alive, and clears it otherwise.
func judgeHolder(live *liveHolder, cfg proto.Config, rec fsops.ProcID, recPid int, recHost string, mut func(mutation) bool) (local, dead bool) {
	local, dead = localHolder(cfg, rec, recPid, recHost, mut)
	*live = liveHolder{}
	if local && !dead {
		*live = liveHolder{ok: true, rec: rec, pid: recPid, host: recHost}
	}
	return local, dead
}

// gone reports whether the live holder h, if any, has since been proven
// dead. It probes the process table only: no filesystem call.
func (h *liveHolder) gone(cfg proto.Config, mut func(mutation) bool) bool {
	if !h.ok {
		return false
	}
	_, dead := localHolder(cfg, h.rec, h.pid, h.host, mut)
	return dead
}
