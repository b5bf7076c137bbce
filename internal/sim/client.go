package sim

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/oracle"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/internal/shell"
)

// body is what a process does: acquire, hold (refreshing), release, again,
// until the workload stops. Its acquisitions and leases are package
// lease's: the same shell (internal/shell) and protocol steps, with the
// deadline timer as a separate event, as lease's timer is.
func (c *client) body() {
	s := c.s
	if c == s.prober {
		c.cycle()
		return
	}
	for !s.stopping {
		c.faultsForCycle()
		c.cycle()
		c.sleep(s.uniform(idleMax))
	}
}

// faultsForCycle schedules the process faults of the profile for the
// coming cycle.
func (c *client) faultsForCycle() {
	s, p, gen := c.s, c.s.prof, c.gen
	horizon := 4 * time.Second
	if s.chance(diesHolding) {
		// The workload: a holder that dies holding, in every profile,
		// so that its lock must be judged stale and broken.
		s.at(s.now+s.uniform(horizon), func() { c.dieHolding(gen, 20) })
	}
	if s.chance(p.Crash) {
		s.at(s.now+s.uniform(horizon), func() {
			if gen == c.gen && c.alive && !s.calm {
				c.crash()
			}
		})
	}
	// Pauses (GC, a VM stall, SIGSTOP): in every profile short ones,
	// within what the timing rules tolerate, which must never break an
	// invariant; where the profile says so, long ones too, whose effects
	// are excused per process and window (ExcuseHolderPaused,
	// ExcuseCallerPaused).
	pause := func(kind string, d time.Duration) {
		s.at(s.now+s.uniform(horizon), func() {
			if gen == c.gen && c.alive && !s.calm && s.now >= c.pausedUntil {
				if s.injected(c, kind) {
					s.tracef(c, "fault: process pauses for %v", d)
				}
				c.pauseFrom, c.pausedUntil = s.now, s.now+d
			}
		})
	}
	if s.chance(shortPauses) {
		pause("pause-within", s.uniform(s.pauseTolerance()/2))
	}
	if s.chance(p.Pause) {
		pause("pause", s.uniform(p.PauseMax))
	}
	if s.chance(p.Partition) {
		d := s.uniform(p.PartMax)
		s.at(s.now+s.uniform(horizon), func() {
			if !s.calm {
				if s.injected(c, "partition") {
					s.tracef(c, "fault: partitioned for %v", d)
				}
				c.partUntil = s.now + d
			}
		})
	}
	if s.chance(p.Step) {
		// NTP steps the wall clock back towards true time: the error
		// stays bounded; it does not accumulate.
		d := time.Duration((s.rng.Float64()*2 - 1) * float64(p.StepMax))
		if s.injected(c, "clock-step") {
			s.tracef(c, "fault: wall clock steps by %v", d-c.step)
		}
		c.step = d
	}
}

// dieHolding crashes the process when it next holds the lease, looking
// again every 200 ms up to tries times.
func (c *client) dieHolding(gen, tries int) {
	s := c.s
	switch {
	case gen != c.gen || !c.alive || s.calm || s.stopping || tries == 0:
	case c.holding:
		c.crash()
	default:
		s.at(s.now+200*time.Millisecond, func() { c.dieHolding(gen, tries-1) })
	}
}

func (c *client) crash() {
	s := c.s
	if s.injected(c, "crash") {
		s.tracef(c, "fault: process crashes (holding=%v)", c.holding)
	}
	c.crashes++
	if c.holding {
		c.endHeld("crash")
	}
	c.kill()
	if !s.stopping {
		s.at(s.now+s.uniform(time.Second), c.start)
	}
}

// rngReader feeds claim names from the simulation's seeded generator.
type rngReader struct{ s *sim }

func (r rngReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.s.rng.Uint32())
	}
	return len(p), nil
}

// cycle is one acquisition, hold and release, as package lease makes it:
// the shell's acquisition and hold, driven with simulated time.
func (c *client) cycle() {
	s := c.s
	cfg := proto.Config{Lifetime: lifetime, Hostname: c.host, Pid: c.pid, Rand: rngReader{s}, Now: c.now, Hints: c.hints}
	if c.machine != nil {
		cfg.Procs = c.machine.Procs(c.proc, c.hide)
	}
	newLock := func() (proto.Lock, error) { return s.cfg.Protocol.New(&clientFS{c}, lockPath, cfg) }
	var id string // the identity of the lock the last successful attempt took
	a, err := shell.NewAcquisition(s.params, false, newLock, c.now, s.rng.Float64, shell.Hooks{
		Attempted: func(att proto.Attempt, err error) {
			if att.Holder != nil {
				if s.tracing() {
					s.tracef(c, "attempt: held by %s/%d, stale in %v (broke=%v)", att.Holder.Host, att.Holder.Pid, att.StaleIn, att.Broke)
				}
			}
			if err != nil {
				if s.tracing() {
					s.tracef(c, "acquire attempt: %v", err)
				}
			}
			if err == nil && att.Acquired {
				id = s.lockIdentity()
				if s.chance(s.prof.Partition) {
					// A cut between acquiring and handing the lease out:
					// the window that mint-then-verify is for.
					d := s.uniform(s.prof.PartMax)
					if s.injected(c, "partition") {
						s.tracef(c, "fault: partitioned for %v before minting", d)
					}
					c.partUntil = max(c.partUntil, s.now+d)
				}
			}
		},
		Broke: func(*proto.Holder) { s.res.Breaks++ },
		LostMinting: func(err error) {
			if s.tracing() {
				s.tracef(c, "lost while minting: %v", err)
			}
		},
		Late: func(took time.Duration) {
			if s.tracing() {
				s.tracef(c, "acquired %v after the attempt began, past its deadline: leaving the lock to go stale", took)
			}
			delete(s.minted, c)
		},
	})
	if err != nil {
		s.violate("I4", "%s: New: %v", c.name(), err)
		return
	}
	start := c.now()
	for {
		if s.stopping && c != s.prober {
			// The workload is over: give up waiting.
			if err := a.Abandon(); err != nil {
				s.res.CleanupErrors++
			}
			return
		}
		st := a.Step()
		switch st.Outcome {
		case shell.Acquired:
			c.acquired(st.Grant, id)
			c.hold()
			return
		case shell.Failed:
			if s.prof.ENOSPC > 0 && errors.Is(st.Err, syscall.ENOSPC) {
				// A full disk is reported to the caller, as it should.
				if s.tracing() {
					s.tracef(c, "acquire failed: %v", st.Err)
				}
				return
			}
			s.violate("I4", "%s gave up acquiring: %v", c.name(), st.Err)
			return
		}
		if now := c.now(); c == s.prober && now.Mono-start.Mono > proberBound(s.prof) {
			s.violate("I4", "prober waited %v after faults stopped, over lifetime+margin+poll", now.Mono-start.Mono)
			_ = a.Abandon()
			return
		}
		if st.Wait > 0 {
			c.sleep(st.Wait)
		}
	}
}

// acquired records an acquisition with the oracle (I1, I6, I7) and starts
// holding it. id is the identity of the lock the acquisition took.
func (c *client) acquired(g *shell.Grant, id string) {
	s := c.s
	tok := g.Token
	s.res.Acquisitions++
	s.res.Tokens++
	// I6, the fencing property: no token is granted twice, a token is
	// granted only to the acquirer that minted it, and it is above every
	// token granted before its mint (the counter's move on the server):
	// tokens follow the real-time order of the holders. It must hold in
	// every profile, a protocol's known limits included: fencing is what
	// protects a resource on the day the lock fails.
	//
	// I7, tokens under the lock: the lock acquired was in place when the
	// token was minted (so that the next holder's mint comes later), and,
	// for a grant made before its renew deadline, it is still in place
	// and the token is above every token granted before it. Between two
	// holders that overlap, grant order is not the counter's order, so I7
	// follows from the lock's safety (I1, I2) and shares its limits.
	//
	// (A grant that would come after its deadline is never made by the
	// shell; only a mutant makes one.)
	live := c.monoAt(s.now) < g.Start.Mono+s.renew()
	m, ok := s.minted[c]
	delete(s.minted, c)
	// The holder's lock is, by the server's own record, the last file
	// this process created and put at the lock path; never merely
	// whatever sits there when Acquire says it acquired (id).
	c.since = c.trueAt(g.Start.Mono)
	c.claim = s.placed[c]
	if c.claim == "" {
		s.violate("I1", "%s acquired, but the server never saw it put a lock of its own at the lock path (there: %q)", c.name(), id)
	} else if id != c.claim {
		if s.tracing() {
			s.tracef(c, "its lock %s was gone when Acquire returned (there: %q)", c.claim, id)
		}
	}
	id = c.claim
	switch {
	case s.tokens[tok] != nil:
		s.oops(c, "I6", "%s granted token %d, already granted to %s", c.name(), tok, s.tokens[tok].name())
	case !ok || m.token != tok:
		s.oops(c, "I6", "%s granted token %d, which it did not mint", c.name(), tok)
	case tok <= m.floor:
		s.oops(c, "I6", "%s granted token %d, minted after token %d was granted", c.name(), tok, m.floor)
	}
	switch {
	case !ok || m.token != tok:
		// Reported as I6 above.
	case id == "" || m.lock != id:
		s.oops(c, "I7", "%s granted token %d, minted when its lock was gone (lock %q, acquired %q)", c.name(), tok, m.lock, id)
	case live && s.lockIdentity() != id:
		s.oops(c, "I7", "%s granted token %d but its lock is gone (lock %q, acquired %q)", c.name(), tok, s.lockIdentity(), id)
	case live && tok <= s.lastToken:
		// Grants out of the counter's order follow from an overlap of
		// holders: excused with it.
		ex := s.excuseFor(c)
		if ex == "" {
			ex = s.excuseFor(s.tokens[s.lastToken])
		}
		s.violateExcused("I7", ex, "%s granted token %d after token %d was granted", c.name(), tok, s.lastToken)
	}
	s.tokens[tok] = c
	s.lastToken = max(s.lastToken, tok)
	var h *shell.Hold
	h = shell.NewHold(s.params, g, c.now, func(reason error) {
		// The shell's loss report: held is cancelled.
		if c.h == h && c.holding {
			c.endHeld("lost: " + reason.Error())
		}
	})
	c.h = h
	for _, o := range s.clients {
		if o != c && o.holding {
			// Excused with the holder's excuse, or when the acquirer's
			// own lock was removed by an excused mechanism before its
			// grant (it could not know).
			ex := s.excuseFor(o)
			if ex == "" {
				ex = s.robbedOf(c)
			}
			s.violateExcused("I1", ex, "%s acquired while %s holds", c.name(), o.name())
		}
	}
	if c.claim != "" {
		s.claims[c.claim] = c
	}
	c.holding, c.lostSeen = true, false
	if w := s.lockWatch; w.look.id != "" && w.look.id == c.claim {
		s.checkStops(w) // I8, for the look the lock had before the grant
	}
	if s.tracing() {
		s.tracef(c, "ACQUIRED with token %d, deadline %v", tok, h.Deadline())
	}
	if c == s.prober {
		s.probeOK = true
	}
	c.armDeadline(h.Deadline())
}

// armDeadline schedules the deadline timer at the client's monotonic time
// at, as package lease's timer: it runs apart from the refreshes (a
// refresh may hang in a partition) but not while the process is paused.
func (c *client) armDeadline(at time.Duration) {
	s, gen, h := c.s, c.gen, c.h
	s.at(c.trueAt(at), func() {
		if gen != c.gen || !c.alive || c.h != h || !c.holding {
			return
		}
		if s.now < c.pausedUntil {
			s.at(c.pausedUntil, func() { c.deadlineFired(gen, h) })
			return
		}
		c.deadlineFired(gen, h)
	})
}

func (c *client) deadlineFired(gen int, h *shell.Hold) {
	if gen != c.gen || !c.alive || c.h != h || !c.holding {
		return
	}
	if again := h.CheckDeadline(); again > 0 {
		c.armDeadline(c.monoAt(c.s.now) + again)
	}
}

// endHeld cancels the held context.
func (c *client) endHeld(why string) {
	s := c.s
	c.holding = false
	c.lostSeen = true
	delete(s.claims, c.claim)
	if s.pending != nil && s.pending.holder == c {
		s.pending = nil
	}
	if s.tracing() {
		s.tracef(c, "held ends: %s", why)
	}
}

// hold keeps the lease for a random time, refreshing it as package lease's
// refresher does, then releases it as package lease's release does.
func (c *client) hold() {
	s := c.s
	h := c.h
	until := c.monoAt(s.now) + s.holdFor()
	if c == s.prober {
		until = c.monoAt(s.now)
	}
	next := c.monoAt(s.now) + s.refresh()
	for c.holding {
		if t := min(next, until); t > c.monoAt(s.now) {
			c.sleep(t - c.monoAt(s.now))
		}
		if !c.holding {
			break
		}
		if c.monoAt(s.now) >= until {
			c.endHeld("release") // held is cancelled first
			break
		}
		r := h.Refresh()
		if s.tracing() {
			s.tracef(c, "refresh took %v: %v", r.Took, r.Err)
		}
		next = c.monoAt(s.now) + r.Next
		if !c.holding && h.Lost() == nil {
			// Only a deliberately broken shell gets here.
			s.violate("I3", "%s: a refresh after the lease was lost revived it", c.name())
		}
	}
	c.ending = h
	f := h.Finish()
	c.ending = nil
	if f.Lost != nil {
		if s.tracing() {
			s.tracef(c, "lease lost by release: only our files go")
		}
	}
	if f.Err != nil {
		if s.tracing() {
			s.tracef(c, "release: %v", f.Err)
		}
		if !errors.Is(f.Err, algorithm.ErrNotHeld) && !errors.Is(f.Err, algorithm.ErrExpired) {
			s.res.CleanupErrors++
		}
	}
}

// clientFS is one client's view of the server: every call goes through the
// simulated network.
type clientFS struct{ c *client }

var _ fsops.FS = (*clientFS)(nil)

func (f *clientFS) do(op fsopstest.Op, namespace bool, apply func() result) result {
	r := f.c.call(&req{op: op, apply: apply, namespace: namespace})
	f.c.s.cacheAfter(f.c.host, op, r)
	return r
}

func (f *clientFS) CreateExcl(name string, data []byte, perm fs.FileMode) (fsops.FileInfo, error) {
	srv := f.c.s.server
	r := f.do(fsopstest.Op{Name: "CreateExcl", Path: name}, true, func() result {
		fi, err := srv.CreateExcl(name, data, perm)
		return result{fi: fi, err: err}
	})
	return r.fi, r.err
}

func (f *clientFS) Link(oldname, newname string) error {
	srv := f.c.s.server
	return f.do(fsopstest.Op{Name: "Link", Path: oldname, Path2: newname}, true, func() result {
		return result{err: srv.Link(oldname, newname)}
	}).err
}

func (f *clientFS) Rename(oldname, newname string) error {
	return f.rename(oldname, newname, f.c.s.server.Rename)
}

// rename sends a Rename that the server applies with apply.
func (f *clientFS) rename(oldname, newname string, apply func(oldname, newname string) error) error {
	return f.do(fsopstest.Op{Name: "Rename", Path: oldname, Path2: newname}, true, func() result {
		err := apply(oldname, newname)
		if err == nil {
			f.c.s.movedHandles(f.c.host, oldname, newname)
		}
		return result{err: err}
	}).err
}

// RenameNoReplace implements fsops.NoReplaceRenamer: a Rename on the wire
// (and to the checks that follow renames), applied without replacing,
// where the profile has it (Profile.NoReplace).
func (f *clientFS) RenameNoReplace(oldname, newname string) error {
	if !f.c.s.prof.NoReplace {
		return &os.LinkError{Op: "renameat2", Old: oldname, New: newname, Err: fmt.Errorf("%w (%w)", errors.ErrUnsupported, syscall.EINVAL)}
	}
	return f.rename(oldname, newname, f.c.s.server.RenameNoReplace)
}

func (f *clientFS) Lstat(name string) (fsops.FileInfo, error) {
	srv := f.c.s.server
	if r, ok := f.c.s.cached(f.c, name); ok {
		return r.fi, r.err
	}
	r := f.do(fsopstest.Op{Name: "Lstat", Path: name}, false, func() result {
		fi, err := srv.Lstat(name)
		return result{fi: fi, err: err}
	})
	return r.fi, r.err
}

func (f *clientFS) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	srv := f.c.s.server
	if f.c.s.negCached(f.c, name) {
		return nil, fsops.FileInfo{}, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	}
	r := f.do(fsopstest.Op{Name: "ReadFile", Path: name}, false, func() result {
		data, fi, err := srv.ReadFile(name, limit)
		return result{data: data, fi: fi, err: err}
	})
	return r.data, r.fi, r.err
}

func (f *clientFS) Chtimes(name string, atime, mtime time.Time) error {
	srv := f.c.s.server
	return f.do(fsopstest.Op{Name: "Chtimes", Path: name}, false, func() result {
		return result{err: srv.Chtimes(name, atime, mtime)}
	}).err
}

func (f *clientFS) Remove(name string) error {
	srv := f.c.s.server
	return f.do(fsopstest.Op{Name: "Remove", Path: name}, true, func() result {
		return result{err: srv.Remove(name)}
	}).err
}

func (f *clientFS) Mkdir(name string, perm fs.FileMode) error {
	srv := f.c.s.server
	return f.do(fsopstest.Op{Name: "Mkdir", Path: name}, true, func() result {
		return result{err: srv.Mkdir(name, perm)}
	}).err
}

func (f *clientFS) Rmdir(name string) error {
	srv := f.c.s.server
	return f.do(fsopstest.Op{Name: "Rmdir", Path: name}, true, func() result {
		err := srv.Rmdir(name)
		if err == nil {
			f.c.s.movedHandles(f.c.host, name, "")
		}
		return result{err: err}
	}).err
}

// movedHandles records, where handles resolve by path, that host renamed
// (to newname) or removed (newname "") the directory oldname: its own
// handles on it follow, as a FUSE filesystem's node table does. Other
// hosts' handles keep the old path.
func (s *sim) movedHandles(host, oldname, newname string) {
	if !s.prof.PathHandles {
		return
	}
	for _, d := range s.handles[host] {
		if d.p == oldname {
			d.p = newname
		}
	}
}

// OpenDir looks the directory up on the server and returns a handle bound
// to it, as an NFS file handle is.
func (f *clientFS) OpenDir(name string) (fsops.Dir, error) {
	srv := f.c.s.server
	if f.c.s.negCached(f.c, name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.ENOENT}
	}
	var d fsops.Dir
	r := f.do(fsopstest.Op{Name: "OpenDir", Path: name}, false, func() result {
		var err error
		d, err = srv.OpenDir(name)
		return result{err: err}
	})
	if r.err != nil {
		return nil, r.err
	}
	cd := &clientDir{f: f, d: d, p: name, ino: identity(oracle.Ino(f.c.s.server, name))}
	if s := f.c.s; s.prof.PathHandles {
		if s.handles == nil {
			s.handles = map[string][]*clientDir{}
		}
		live := slices.DeleteFunc(s.handles[f.c.host], func(d *clientDir) bool { return d.closed })
		s.handles[f.c.host] = append(live, cd)
	}
	return cd, nil
}

// clientDir is a directory handle held by a client: every call goes
// through the simulated network to the server's handle. Close is local:
// NFS file handles outlive it, so a late duplicate still reaches the
// directory.
type clientDir struct {
	f      *clientFS
	d      fsops.Dir // the server's handle
	p      string    // with Profile.PathHandles: the path this host's node table gives it ("" once removed)
	ino    string    // the identity of the directory it was opened on
	closed bool
}

// server returns the server directory a call through d reaches now: the
// handle's own directory, or, with Profile.PathHandles, whatever
// directory is at its path. done releases it.
func (d *clientDir) server() (dir fsops.Dir, done func(), err error) {
	if !d.f.c.s.prof.PathHandles {
		return d.d, func() {}, nil
	}
	if d.p == "" {
		return nil, nil, &fs.PathError{Op: "open", Path: d.d.Path(), Err: syscall.ENOENT}
	}
	s := d.f.c.s
	sd, err := s.server.OpenDir(d.p)
	if err != nil {
		return nil, nil, err
	}
	if identity(oracle.Ino(s.server, d.p)) != d.ino {
		// The path leads to another directory now: the call reaches
		// it (ExcusePathHandle).
		s.strayHandle = true
	}
	return sd, func() { _ = sd.Close() }, nil
}

// with runs f on the directory a call through d reaches now.
func (d *clientDir) with(f func(fsops.Dir) result) result {
	sd, done, err := d.server()
	if err != nil {
		return result{err: err}
	}
	defer done()
	return f(sd)
}

var _ fsops.Dir = (*clientDir)(nil)

func (d *clientDir) op(name, entry string) fsopstest.Op {
	return fsopstest.Op{Name: "Dir." + name, Path: path.Join(d.d.Path(), entry)}
}

func (d *clientDir) call(op fsopstest.Op, namespace bool, apply func() result) result {
	if d.closed {
		return result{err: &fs.PathError{Op: strings.ToLower(op.Name), Path: op.Path, Err: syscall.EBADF}}
	}
	return d.f.c.call(&req{op: op, apply: apply, namespace: namespace, peek: func() string {
		if op.Name != "Dir.Remove" {
			return ""
		}
		var ino uint64
		ok := false
		d.with(func(sd fsops.Dir) result {
			ino, ok = oracle.DirIno(sd, path.Base(op.Path))
			return result{}
		})
		return identity(ino, ok)
	}})
}

func (d *clientDir) Path() string { return d.d.Path() }

func (d *clientDir) Stat() (fsops.FileInfo, error) {
	r := d.call(d.op("Stat", ""), false, func() result {
		return d.with(func(sd fsops.Dir) result {
			fi, err := sd.Stat()
			return result{fi: fi, err: err}
		})
	})
	return r.fi, r.err
}

func (d *clientDir) CreateExcl(name string, data []byte, perm fs.FileMode) error {
	return d.call(d.op("CreateExcl", name), true, func() result {
		return d.with(func(sd fsops.Dir) result {
			err := sd.CreateExcl(name, data, perm)
			if err == nil {
				d.f.c.s.created(d.f.c, identity(oracle.DirIno(sd, name)))
			}
			return result{err: err}
		})
	}).err
}

func (d *clientDir) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	r := d.call(d.op("ReadFile", name), false, func() result {
		return d.with(func(sd fsops.Dir) result {
			data, fi, err := sd.ReadFile(name, limit)
			return result{data: data, fi: fi, err: err}
		})
	})
	return r.data, r.fi, r.err
}

func (d *clientDir) Chtimes(name string, atime, mtime time.Time) error {
	return d.call(d.op("Chtimes", name), false, func() result {
		return d.with(func(sd fsops.Dir) result { return result{err: sd.Chtimes(name, atime, mtime)} })
	}).err
}

func (d *clientDir) Remove(name string) error {
	return d.call(d.op("Remove", name), true, func() result {
		return d.with(func(sd fsops.Dir) result { return result{err: sd.Remove(name)} })
	}).err
}

func (d *clientDir) ReadDir() ([]string, error) {
	var names []string
	r := d.call(d.op("ReadDir", ""), false, func() result {
		return d.with(func(sd fsops.Dir) result {
			var err error
			names, err = sd.ReadDir()
			return result{err: err}
		})
	})
	return names, r.err
}

func (d *clientDir) Close() error {
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.d.Path(), Err: syscall.EBADF}
	}
	d.closed = true
	return nil
}

func (f *clientFS) ReadDir(dir string) ([]string, error) {
	srv := f.c.s.server
	if names, ok := f.c.s.cachedList(f.c, dir); ok {
		return names, nil
	}
	r := f.do(fsopstest.Op{Name: "ReadDir", Path: dir}, false, func() result {
		names, err := srv.ReadDir(dir)
		return result{names: names, err: err}
	})
	return r.names, r.err
}

// proberBound is how long the prober may wait after faults stop (I4): the
// lock may have been left by a crashed holder (watched for its lifetime plus
// the margin) and the break lock by a crashed breaker (half a lifetime plus
// the margin), plus a poll interval and some round trips.
func proberBound(p Profile) time.Duration {
	return lifetime + lifetime/2 + 2*proto.StaleMargin + params(p).PollMax + 20*p.Latency + time.Second
}
