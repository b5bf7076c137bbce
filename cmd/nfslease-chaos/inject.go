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

// resume ends a fault at a time: a SIGCONT for a paused worker (c), or the
// end of a partition of client part (SIGCONT of its FUSE daemon pid, or
// the end of its blackhole in the proxy).
type resume struct {
	at   time.Time
	pid  int
	c    *child // nil for a partition
	part int
	what string
}

func (r *runner) next(mean time.Duration) <-chan time.Time {
	if mean <= 0 {
		return nil
	}
	return time.After(time.Duration(r.rng.ExpFloat64() * float64(mean)))
}

func (r *runner) between(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.rng.Int64N(int64(hi-lo)+1))
}

func (r *runner) isPaused(c *child) bool {
	return slices.ContainsFunc(r.pending, func(p resume) bool { return p.c == c })
}

func (r *runner) partitioned() bool {
	return slices.ContainsFunc(r.pending, func(p resume) bool { return p.c == nil })
}

// pick returns a random live child not killed nor paused; a holder with
// probability preferHolder if there is one.
func (r *runner) pick(preferHolder float64) *child {
	var cands, holders []*child
	for _, c := range r.children {
		if c.dead || c.killed || r.isPaused(c) {
			continue
		}
		cands = append(cands, c)
		if c.inside {
			holders = append(holders, c)
		}
	}
	if len(holders) > 0 && r.rng.Float64() < preferHolder {
		return holders[r.rng.IntN(len(holders))]
	}
	if len(cands) == 0 {
		return nil
	}
	return cands[r.rng.IntN(len(cands))]
}

// canPartition reports whether the run partitions clients.
func (r *runner) canPartition() bool {
	if r.proxy != nil {
		return r.cfg.nfsPartitions
	}
	return len(r.cfg.partPids) > 0
}

// inject handles the workers' reports and injects faults for the
// configured duration; it returns how long that took.
func (r *runner) inject() (time.Duration, error) {
	cfg := r.cfg
	began := time.Now()
	end := time.After(cfg.duration)
	killC, pauseC := r.next(cfg.killEvery), r.next(cfg.pauseEvery)
	var partC <-chan time.Time
	if r.canPartition() {
		partC = r.next(cfg.partEvery)
	}
	resumeT := time.NewTimer(time.Hour)
	defer resumeT.Stop()
	schedule := func() {
		sort.Slice(r.pending, func(i, j int) bool { return r.pending[i].at.Before(r.pending[j].at) })
		d := time.Hour
		if len(r.pending) > 0 {
			d = max(time.Until(r.pending[0].at), 0)
		}
		resumeT.Reset(d)
	}
	for {
		select {
		case m := <-r.msgs:
			r.handle(m)
		case <-end:
			return time.Since(began), nil
		case <-resumeT.C:
			now := time.Now()
			for len(r.pending) > 0 && !r.pending[0].at.After(now) {
				r.cont(r.pending[0])
				r.tracef("%s: end (pid %d, client %d)", r.pending[0].what, r.pending[0].pid, r.pending[0].part)
				r.pending = r.pending[1:]
			}
			schedule()
		case <-killC:
			killC = r.next(cfg.killEvery)
			c := r.pick(0.5)
			if c == nil {
				continue
			}
			if err := c.cmd.Process.Kill(); err != nil {
				r.tracef("kill w%d: %v", c.id, err)
				continue
			}
			c.killed = true
			r.st.kills++
			if c.inside {
				r.st.holderKills++
				r.st.holderKillAt = append(r.st.holderKillAt, mono())
			}
			r.tracef("kill: SIGKILL w%d pid %d (holder %v)", c.id, c.pid, c.inside)
			if err := r.start(c.client); err != nil {
				return 0, err
			}
		case <-pauseC:
			pauseC = r.next(cfg.pauseEvery)
			c := r.pick(0.5)
			if c == nil {
				continue
			}
			if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				continue
			}
			d := r.between(cfg.pauseMax/5, cfg.pauseMax)
			r.st.pauses++
			r.tracef("pause: SIGSTOP w%d pid %d for %v (holder %v)", c.id, c.pid, d, c.inside)
			r.pending = append(r.pending, resume{at: time.Now().Add(d), pid: c.pid, c: c, what: "pause"})
			schedule()
		case <-partC:
			partC = r.next(cfg.partEvery)
			if r.partitioned() {
				continue
			}
			i := r.rng.IntN(cfg.clients())
			if h := r.pick(1); h != nil && h.inside && r.rng.IntN(2) == 0 {
				i = h.client // cut off the holder
			}
			d := r.between(cfg.partMax/5, cfg.partMax)
			p := resume{at: time.Now().Add(d), part: i, what: "partition"}
			if r.proxy != nil {
				r.proxy.blackhole(i, 2*d) // ended by cont, or by itself if we die
				r.tracef("partition: blackhole client %d (%s) for %v", i, r.proxy.addr(i), d)
			} else {
				pid := cfg.partPids[i]
				if !isFUSEDaemon(pid) {
					return 0, fmt.Errorf("pid %d (for %s) is not an sshfs or glusterfs process", pid, cfg.mounts[i])
				}
				if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
					return 0, err
				}
				p.pid = pid
				r.tracef("partition: SIGSTOP pid %d (%s) for %v", pid, cfg.mounts[i], d)
			}
			r.st.partitions++
			r.pending = append(r.pending, p)
			schedule()
		}
	}
}

// cont ends a pause or a partition.
func (r *runner) cont(p resume) {
	switch {
	case p.c != nil:
		_ = p.c.cmd.Process.Signal(syscall.SIGCONT) // pidfd: never another process
	case r.proxy != nil:
		r.proxy.unblackhole(p.part)
	case isFUSEDaemon(p.pid):
		_ = syscall.Kill(p.pid, syscall.SIGCONT)
	}
}

// isFUSEDaemon reports whether pid is an sshfs or glusterfs process: a
// check against signalling a reused pid.
func isFUSEDaemon(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	comm := strings.TrimSpace(string(b))
	return err == nil && (comm == "sshfs" || comm == "glusterfs")
}
