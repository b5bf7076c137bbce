package sim

import (
	"errors"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/keeper"
	"github.com/nfslease/nfslease/internal/oracle"
	"github.com/nfslease/nfslease/internal/proto"
)

// body is what a process does: acquire, hold (refreshing), release, again,
// until the workload stops. It mirrors package lease: the same protocol
// steps, the same keeper, a jittered exponential backoff with the same
// bounds, and the deadline timer as a separate event.
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
				s.inject(c, kind, "process pauses for %v", d)
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
				s.inject(c, "partition", "partitioned for %v", d)
				c.partUntil = s.now + d
			}
		})
	}
	if s.chance(p.Step) {
		// NTP steps the wall clock back towards true time: the error
		// stays bounded; it does not accumulate.
		d := time.Duration((s.rng.Float64()*2 - 1) * float64(p.StepMax))
		s.inject(c, "clock-step", "wall clock steps by %v", d-c.step)
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
	s.inject(c, "crash", "process crashes (holding=%v)", c.holding)
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

func (c *client) cycle() {
	s := c.s
	cfg := proto.Config{Lifetime: lifetime, Hostname: c.host, Pid: c.pid, Rand: rngReader{s}, Hints: c.hints}
	lk, err := s.cfg.Protocol.New(&clientFS{c}, lockPath, cfg)
	if err != nil {
		s.violate("I4", "%s: New: %v", c.name(), err)
		return
	}
	start := c.now()
	bo := pollMin
	var lastHolder string
	for {
		if s.stopping && c != s.prober {
			// The workload is over: give up waiting.
			if err := lk.Close(c.now()); err != nil {
				s.res.CleanupErrors++
			}
			return
		}
		now := c.now()
		att, err := lk.Acquire(now)
		if att.Holder != nil {
			s.tracef(c, "attempt: held by %s/%d, stale in %v (broke=%v)", att.Holder.Host, att.Holder.Pid, att.StaleIn, att.Broke)
		}
		if err == nil && att.Acquired {
			// As package lease does: mint the fencing token (mint, then
			// verify) before the lease is handed out.
			id := s.lockIdentity()
			if s.chance(s.prof.Partition) {
				// A cut between acquiring and handing the lease out: the
				// window that mint-then-verify is for.
				d := s.uniform(s.prof.PartMax)
				s.fault(c, "partitioned for %v before minting", d)
				c.partUntil = max(c.partUntil, s.now+d)
			}
			tok, merr := c.mint(lk)
			if errors.Is(merr, proto.ErrNotHeld) {
				s.tracef(c, "lost while minting: %v", merr)
				continue // acquire again
			}
			if merr != nil {
				s.tracef(c, "mint failed: %v", merr)
				if err := lk.Release(); err != nil && !errors.Is(err, proto.ErrNotHeld) {
					s.res.CleanupErrors++
				}
				if err := lk.Close(proto.Instant{}); err != nil {
					s.res.CleanupErrors++
				}
				return
			}
			if c.monoAt(s.now) >= now.Mono+s.renew() && s.cfg.KeeperMutation == "" && !s.cfg.UncheckedGrant {
				// As package lease does: a grant that would come after
				// its renew deadline (the attempt or the mint hung in a
				// partition) is never handed out. The lock is left to go
				// stale (others may be breaking it), and the client
				// acquires again with a new Lock.
				s.tracef(c, "acquired with token %d after its deadline: leaving the lock to go stale", tok)
				if err := lk.Close(proto.Instant{}); err != nil {
					s.res.CleanupErrors++
				}
				delete(s.minted, c)
				if lk, err = s.cfg.Protocol.New(&clientFS{c}, lockPath, cfg); err != nil {
					s.violate("I4", "%s: New: %v", c.name(), err)
					return
				}
				continue
			}
			c.acquired(lk, now, att, id, tok)
			break
		}
		if err == nil && att.Broke {
			s.res.Breaks++
			continue
		}
		if err != nil {
			s.tracef(c, "acquire attempt: %v", err)
			if !proto.Transient(err) && !(s.prof.ENOSPC > 0 && errors.Is(err, syscall.ENOSPC)) {
				s.violate("I4", "%s gave up acquiring with a non-retryable error: %v", c.name(), err)
				lk.Close(c.now())
				return
			}
		}
		if c == s.prober && now.Mono-start.Mono > proberBound(s.prof) {
			s.violate("I4", "prober waited %v after faults stopped, over lifetime+margin+poll", now.Mono-start.Mono)
			lk.Close(c.now())
			return
		}
		if att.Holder != nil && att.Holder.Claim != lastHolder {
			lastHolder, bo = att.Holder.Claim, pollMin
		}
		wait := bo/2 + s.uniform(bo)
		bo = min(2*bo, pollMax*2/3)
		if att.StaleIn > 0 && att.StaleIn < wait {
			wait = att.StaleIn
		}
		c.sleep(wait)
	}
	c.hold(lk)
}

// mint mints a fencing token as package lease does: a few tries while
// the error is transient.
func (c *client) mint(lk proto.Lock) (uint64, error) {
	var err error
	for range 4 {
		var tok uint64
		tok, err = lk.Mint(c.now())
		if err == nil || !proto.Transient(err) {
			return tok, err
		}
	}
	return 0, err
}

// acquired records an acquisition, granted with token tok, with the
// oracle (I1, I6). id is the identity of the lock the acquisition took.
func (c *client) acquired(lk proto.Lock, at proto.Instant, att proto.Attempt, id string, tok uint64) {
	s := c.s
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
	// (A grant that would come after its deadline is never made, as in
	// package lease (see cycle); only a mutant makes one.)
	live := c.monoAt(s.now) < at.Mono+s.renew()
	m, ok := s.minted[c]
	delete(s.minted, c)
	// The holder's lock is, by the server's own record, the last file
	// this process created and put at the lock path; never merely
	// whatever sits there when Acquire says it acquired (id).
	c.since = c.trueAt(at.Mono)
	c.claim = s.placed[c]
	if c.claim == "" {
		s.violate("I1", "%s acquired, but the server never saw it put a lock of its own at the lock path (there: %q)", c.name(), id)
	} else if id != c.claim {
		s.tracef(c, "its lock %s was gone when Acquire returned (there: %q)", c.claim, id)
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
	c.k = keeper.New(at.Mono, s.renew(), s.refresh())
	c.k.Mutation = s.cfg.KeeperMutation
	for _, h := range s.clients {
		if h != c && h.holding {
			// Excused with the holder's excuse, or when the acquirer's
			// own lock was removed by an excused mechanism before its
			// grant (it could not know).
			ex := s.excuseFor(h)
			if ex == "" {
				ex = s.robbedOf(c)
			}
			s.violateExcused("I1", ex, "%s acquired while %s holds", c.name(), h.name())
		}
	}
	if c.claim != "" {
		s.claims[c.claim] = c
	}
	c.holding, c.lostSeen = true, false
	s.tracef(c, "ACQUIRED with token %d, deadline %v", tok, c.k.Deadline())
	if c == s.prober {
		s.probeOK = true
	}
	c.armDeadline()
}

// armDeadline schedules the deadline timer, which runs apart from the
// refreshes (a refresh may hang in a partition) but not while the process
// is paused.
func (c *client) armDeadline() {
	s, gen := c.s, c.gen
	k := c.k
	s.at(c.trueAt(k.Deadline()), func() {
		if gen != c.gen || !c.alive || c.k != k || !c.holding {
			return
		}
		if s.now < c.pausedUntil {
			s.at(c.pausedUntil, func() { c.deadlineFired(gen, k) })
			return
		}
		c.deadlineFired(gen, k)
	})
}

func (c *client) deadlineFired(gen int, k *keeper.Keeper) {
	if gen != c.gen || !c.alive || c.k != k || !c.holding {
		return
	}
	if err := k.Check(c.monoAt(c.s.now)); err != nil {
		c.endHeld("deadline: " + err.Error())
		return
	}
	if c.monoAt(c.s.now) >= k.Deadline() {
		// Only a deliberately broken keeper ignores its deadline: look
		// again a refresh interval later rather than at the same instant.
		c.s.at(c.s.now+c.s.refresh(), func() { c.deadlineFired(gen, k) })
		return
	}
	c.armDeadline()
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
	s.tracef(c, "held ends: %s", why)
}

// hold keeps the lease for a random time, refreshing it, then releases.
func (c *client) hold(lk proto.Lock) {
	s := c.s
	k := c.k
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
			// Release as package lease does: held is cancelled first; a
			// last refresh; then the lock goes only if the deadline has
			// not passed.
			c.endHeld("release")
			st := c.now()
			err := lk.Refresh(st)
			k.Refreshed(st.Mono, c.now().Mono, err)
			if k.Check(c.monoAt(s.now)) != nil {
				s.tracef(c, "deadline passed at release: only our files go")
				break
			}
			if err := lk.Release(); err != nil {
				s.tracef(c, "release: %v", err)
				if !errors.Is(err, proto.ErrNotHeld) {
					s.res.CleanupErrors++
				}
			}
			return
		}
		st := c.now()
		err := lk.Refresh(st)
		e := c.now()
		wait := k.Refreshed(st.Mono, e.Mono, err)
		s.tracef(c, "refresh took %v: %v", e.Mono-st.Mono, err)
		switch {
		case k.Lost() != nil && c.holding:
			c.endHeld("lost: " + k.Lost().Error())
		case k.Lost() == nil && !c.holding:
			// Only a deliberately broken keeper gets here.
			s.violate("I3", "%s: a refresh after the lease was lost revived it", c.name())
			c.holding = true
			s.claims[c.claim] = c
			c.armDeadline()
		}
		next = c.monoAt(s.now) + wait
	}
	if err := lk.Close(proto.Instant{}); err != nil {
		s.res.CleanupErrors++
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

func (f *clientFS) CreateExcl(name string, data []byte, perm fs.FileMode) error {
	srv := f.c.s.server
	return f.do(fsopstest.Op{Name: "CreateExcl", Path: name}, true, func() result {
		return result{err: srv.CreateExcl(name, data, perm)}
	}).err
}

func (f *clientFS) Link(oldname, newname string) error {
	srv := f.c.s.server
	return f.do(fsopstest.Op{Name: "Link", Path: oldname, Path2: newname}, true, func() result {
		return result{err: srv.Link(oldname, newname)}
	}).err
}

func (f *clientFS) Rename(oldname, newname string) error {
	srv := f.c.s.server
	return f.do(fsopstest.Op{Name: "Rename", Path: oldname, Path2: newname}, true, func() result {
		err := srv.Rename(oldname, newname)
		if err == nil {
			f.c.s.movedHandles(f.c.host, oldname, newname)
		}
		return result{err: err}
	}).err
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
	return lifetime + lifetime/2 + 2*proto.StaleMargin + pollMax + 20*p.Latency + time.Second
}
