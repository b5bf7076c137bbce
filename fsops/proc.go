package fsops

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
)

// ProcID identifies a process on the machine that runs it, as far as the
// kernel tells: which boot of which machine (BootID), which pid namespace
// (PidNS), which pid in it (Pid), and which of the processes that have had
// that pid (Start). A zero field is unknown: other operating systems,
// /proc not mounted or not ours, records written by older versions or by
// Python flufl.lock.
type ProcID struct {
	BootID string // the kernel's boot id (/proc/sys/kernel/random/boot_id) as 32 lower-case hex digits
	PidNS  uint64 // inode number of the pid namespace (/proc/self/ns/pid)
	Pid    int    // process id, in that namespace
	Start  uint64 // start time in clock ticks after boot (/proc/PID/stat field 22)
}

// Known reports whether every field of p is known.
func (p ProcID) Known() bool {
	return ValidBootID(p.BootID) && p.PidNS != 0 && p.Pid > 0 && p.Start != 0
}

// ValidBootID reports whether s is a boot id as ProcID holds it: 32
// lower-case hex digits, not all zero (the nil UUID names no boot).
func ValidBootID(s string) bool {
	if len(s) != 32 || strings.ToLower(s) != s || s == strings.Repeat("0", 32) {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// ProcState is what a probe of a pid found.
type ProcState int

const (
	// ProcUnknown: the probe could not tell (no kill(2), a pid out of
	// range, an unexpected error).
	ProcUnknown ProcState = iota
	// ProcGone: no process has this pid in our pid namespace (ESRCH).
	ProcGone
	// ProcRunning: a process has this pid, possibly another user's
	// (EPERM), possibly a zombie not yet reaped.
	ProcRunning
)

func (s ProcState) String() string {
	switch s {
	case ProcGone:
		return "gone"
	case ProcRunning:
		return "running"
	}
	return "unknown"
}

// Procs is the process table of this machine, as the lock protocols need
// it to tell a dead local holder from a live one. The OS implementation is
// OSProcs; fsops/fsopstest has a fake of many machines for tests and the
// simulator.
type Procs interface {
	// Self returns this process's identity. Fields that cannot be learned
	// are zero.
	Self() ProcID

	// Probe reports whether a process with pid runs in this process's pid
	// namespace now and, if it runs, its start time (0 if unknown). It
	// must not block. A process of another user runs (ProcRunning, start
	// 0): nothing is learned of it but that it exists.
	Probe(pid int) (state ProcState, start uint64)
}

// OSProcs returns the process table of this machine. Self and Probe use
// /proc and kill(2) on Linux; elsewhere Self knows only the pid (so no
// holder is ever judged dead by its identity) and Probe uses kill(2) where
// there is one.
func OSProcs() Procs { return osProcs{} }

type osProcs struct{}

// errStat is returned by ParseStat for text that is not a /proc/PID/stat
// line.
var errStat = errors.New("fsops: malformed /proc/PID/stat")

// ParseStat parses a line of /proc/PID/stat and returns its pid (field 1)
// and start time (field 22, clock ticks after boot). The command name
// (field 2, in parentheses) may hold any byte, spaces and parentheses
// included, so the fields after it are counted from the last ')'.
func ParseStat(data []byte) (pid int, start uint64, err error) {
	data = bytes.TrimSuffix(data, []byte("\n"))
	open := bytes.IndexByte(data, '(')
	closing := bytes.LastIndexByte(data, ')')
	if open < 1 || closing < open || data[open-1] != ' ' {
		return 0, 0, errStat
	}
	pidText := string(data[:open-1])
	pid, err = strconv.Atoi(pidText)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != pidText {
		return 0, 0, errStat
	}
	rest := data[closing+1:]
	if len(rest) == 0 || rest[0] != ' ' {
		return 0, 0, errStat
	}
	// Fields 3 onwards, single spaces apart.
	fields := strings.Split(string(rest[1:]), " ")
	const startField = 22
	if len(fields) < startField-2 {
		return 0, 0, errStat
	}
	st := fields[startField-3]
	start, err = strconv.ParseUint(st, 10, 64)
	if err != nil || strconv.FormatUint(start, 10) != st {
		return 0, 0, errStat
	}
	return pid, start, nil
}

// ParseBootID parses the content of /proc/sys/kernel/random/boot_id, a
// UUID in its canonical text form with a final newline, into the form
// ProcID holds: 32 lower-case hex digits.
func ParseBootID(data []byte) (string, bool) {
	s := strings.TrimSuffix(string(data), "\n")
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return "", false
	}
	id := s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	if !ValidBootID(id) {
		return "", false
	}
	return id, true
}

// ParseNSLink parses the target of /proc/self/ns/pid, "pid:[4026531836]",
// into the namespace's inode number.
func ParseNSLink(target string) (uint64, bool) {
	s, ok := strings.CutPrefix(target, "pid:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != s {
		return 0, false
	}
	return n, true
}
