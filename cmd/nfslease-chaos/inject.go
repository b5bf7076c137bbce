//go:build linux

package main

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// resume is a SIGCONT due at a time.
type resume struct {
	at   time.Time
	pid  int
	c    *child // nil for an sshfs process
	what string
}

// next returns a channel that fires after an exponentially distributed
// time of the given mean; nil (never) for a mean of 0.
func (k *campaign) next(mean time.Duration) <-chan time.Time {
	if mean <= 0 {
		return nil
	}
	return time.After(time.Duration(k.rng.ExpFloat64() * float64(mean)))
}

// between returns a uniformly random duration in [lo, hi].
func (k *campaign) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(k.rng.Int64N(int64(hi-lo)+1))
}

func (k *campaign) isPaused(c *child) bool {
	return slices.ContainsFunc(k.pending, func(r resume) bool { return r.c == c })
}

// pick returns a random live child not killed nor paused; a holder
// with probability preferHolder if there is one.
func (k *campaign) pick(preferHolder float64) *child {
	var cands, holders []*child
	for _, c := range k.children {
		if c.dead || c.killed || k.isPaused(c) {
			continue
		}
		cands = append(cands, c)
		if c.inside {
			holders = append(holders, c)
		}
	}
	if len(holders) > 0 && k.rng.Float64() < preferHolder {
		return holders[k.rng.IntN(len(holders))]
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[k.rng.IntN(len(cands))]
}

// partitioned reports whether a FUSE daemon is stopped now.
func (k *campaign) partitioned() bool {
	return slices.ContainsFunc(k.pending, func(r resume) bool { return r.c == nil })
}

// schedule sets resumeT to the earliest pending SIGCONT.
func (k *campaign) schedule() {
	sort.Slice(k.pending, func(i, j int) bool { return k.pending[i].at.Before(k.pending[j].at) })
	d := time.Hour
	if len(k.pending) > 0 {
		d = max(time.Until(k.pending[0].at), 0)
	}
	k.resumeT.Reset(d)
}

// resumeDue sends the SIGCONTs that are due, and schedules the next.
func (k *campaign) resumeDue() {
	now := time.Now()
	for len(k.pending) > 0 && !k.pending[0].at.After(now) {
		cont(k.pending[0])
		k.tracef("%s: SIGCONT pid %d", k.pending[0].what, k.pending[0].pid)
		k.pending = k.pending[1:]
	}
	k.schedule()
}

// resumeAll sends every pending SIGCONT now.
func (k *campaign) resumeAll() {
	for _, r := range k.pending {
		cont(r)
	}
	k.pending = nil
}

// kill sends SIGKILL to a random worker (a holder half of the time) and
// starts a replacement on the same mount.
func (k *campaign) kill() error {
	c := k.pick(0.5)
	if c == nil {
		return nil
	}
	if err := c.cmd.Process.Kill(); err != nil {
		k.tracef("kill w%d: %v", c.id, err)
		return nil
	}
	c.killed = true
	k.st.kills++
	if c.inside {
		k.st.holderKills++
		k.st.holderKillAt = append(k.st.holderKillAt, mono())
	}
	k.tracef("kill: SIGKILL w%d pid %d (holder %v)", c.id, c.pid, c.inside)
	return k.spawn(c.mount)
}

// pause stops a random worker (a holder half of the time) with SIGSTOP
// for up to -pause-max.
func (k *campaign) pause() {
	c := k.pick(0.5)
	if c == nil {
		return
	}
	if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return
	}
	d := k.between(k.cfg.pauseMax/5, k.cfg.pauseMax)
	k.st.pauses++
	k.tracef("pause: SIGSTOP w%d pid %d for %v (holder %v)", c.id, c.pid, d, c.inside)
	k.pending = append(k.pending, resume{time.Now().Add(d), c.pid, c, "pause"})
	k.schedule()
}

// partition stops the FUSE daemon of a random mount (the current
// holder's half of the time) for up to -partition-max, unless one is
// stopped already.
func (k *campaign) partition() error {
	cfg := k.cfg
	if k.partitioned() {
		return nil
	}
	i := k.rng.IntN(len(cfg.partPids))
	if h := k.pick(1); h != nil && h.inside && k.rng.IntN(2) == 0 {
		i = h.mount // cut off the holder
	}
	pid := cfg.partPids[i]
	if !isFUSEDaemon(pid) {
		return fmt.Errorf("pid %d (for %s) is not an sshfs or glusterfs process", pid, cfg.mounts[i])
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	d := k.between(cfg.partMax/5, cfg.partMax)
	k.st.partitions++
	k.tracef("partition: SIGSTOP pid %d (%s) for %v", pid, cfg.mounts[i], d)
	k.pending = append(k.pending, resume{time.Now().Add(d), pid, nil, "partition"})
	k.schedule()
	return nil
}

// cont resumes a paused worker or FUSE daemon.
func cont(r resume) {
	if r.c != nil {
		_ = r.c.cmd.Process.Signal(syscall.SIGCONT) // pidfd: never another process
		return
	}
	if isFUSEDaemon(r.pid) {
		_ = syscall.Kill(r.pid, syscall.SIGCONT)
	}
}

// isFUSEDaemon reports whether pid is an sshfs or glusterfs process: a
// check against signalling a reused pid.
func isFUSEDaemon(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	comm := strings.TrimSpace(string(b))
	return err == nil && (comm == "sshfs" || comm == "glusterfs")
}
