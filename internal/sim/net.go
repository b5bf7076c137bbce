package sim

import (
	"io/fs"
	"path"
	"strings"
	"syscall"

	"github.com/nfslease/nfslease/internal/oracle"
	"github.com/nfslease/nfslease/internal/proto"
)

// isRemoval reports whether a call removes or moves a name: if a fault
// stops it, the name may stay behind.
func isRemoval(op string) bool {
	switch op {
	case "Remove", "Dir.Remove", "Rmdir", "Rename":
		return true
	}
	return false
}

// isCreate reports whether a call makes a name: if the server runs it
// twice, or applies it while its caller hears of a failure, the name may
// stay behind.
func isCreate(op string) bool {
	switch op {
	case "CreateExcl", "Dir.CreateExcl", "Mkdir", "Link", "Rename":
		return true
	}
	return false
}

// changes reports whether a call can change what a look at a file
// returns (a read changes nothing: the server keeps no access times).
func changes(op string) bool {
	switch op {
	case "Lstat", "ReadFile", "ReadDir", "OpenDir", "Dir.Stat", "Dir.ReadFile", "Dir.ReadDir":
		return false
	}
	return true
}

func (s *sim) pathErr(r *req, errno syscall.Errno) result {
	return result{err: &fs.PathError{Op: strings.ToLower(r.op.Name), Path: r.op.Path, Err: errno}}
}

// submit sends a request over the simulated network: it may fail before
// the server, wait out a partition (a hard mount) or time out in it (a
// soft mount), be delayed, reach the server late; then the server applies
// it, and the reply comes back (reply).
func (s *sim) submit(c *client, r *req) {
	gen := c.gen
	if r.apply == nil { // a sleep
		s.at(c.trueAt(r.sleepUntil), func() { c.resume(gen, r) })
		return
	}
	if s.tracing() {
		s.tracef(c, "%s %s %s", r.op.Name, r.op.Path, r.op.Path2)
	}
	// A call that follows a pause of its caller, with no call in between,
	// acts on whatever the caller checked before the pause.
	r.afterPause = c.pauseFrom >= c.lastCallAt && c.pausedUntil <= s.now && c.pausedUntil-c.pauseFrom > s.pauseTolerance()
	c.lastCallAt = s.now
	if h := c.ending; h != nil && r.namespace && c.monoAt(s.now) >= h.Deadline() && s.movesLock(r) {
		// I3: a release acts on the lock only within the lease. Past
		// its renew deadline, by its own clock, the releaser can know
		// that a waiter may be breaking the lock (a read-back that
		// returned late, after a partition, is out of date).
		s.violate("I3", "%s, ending its lease, sent %s %s after its renew deadline (%v past it)", c.name(), r.op.Name, r.op.Path, c.monoAt(s.now)-h.Deadline())
	}
	s.turnCall(c, r)
	if s.now < c.partUntil && s.prof.SoftErr != 0 {
		// A soft mount (or GlusterFS) gives up after Timeo. The request
		// may have reached the server before the cut: then it was
		// applied, and only the reply is lost.
		errno := s.prof.SoftErr
		if r.namespace && s.chance(0.5) {
			if s.injected(c, "soft-timeout-applied") {
				s.tracef(c, "fault: %s %s applied, then the partition times it out with %v", r.op.Name, r.op.Path, errno)
			}
			if res := s.apply(c, r, false); res.err == nil && isCreate(r.op.Name) {
				s.res.FaultedCleanups++
			}
		} else {
			if s.injected(c, "soft-timeout") {
				s.tracef(c, "fault: %s %s times out in the partition with %v", r.op.Name, r.op.Path, errno)
			}
			if isRemoval(r.op.Name) {
				s.res.FaultedCleanups++
			}
		}
		r.res = s.pathErr(r, errno)
		s.at(s.now+s.prof.Timeo, func() { c.resume(gen, r) })
		return
	}
	sendAt := max(s.now, c.partUntil) // a hard mount waits out a partition
	if s.chance(s.prof.EIO) {
		errno, kind := syscall.EIO, "eio"
		if s.rng.IntN(2) == 0 {
			errno, kind = syscall.ESTALE, "estale"
		}
		if s.injected(c, kind) {
			s.tracef(c, "fault: %s %s fails with %v before the server", r.op.Name, r.op.Path, errno)
		}
		if isRemoval(r.op.Name) {
			s.res.FaultedCleanups++
		}
		r.res = s.pathErr(r, errno)
		s.at(sendAt+s.latency()+s.latency(), func() { c.resume(gen, r) })
		return
	}
	if (r.op.Name == "CreateExcl" || r.op.Name == "Link") && s.chance(s.prof.ENOSPC) {
		if s.injected(c, "enospc") {
			s.tracef(c, "fault: %s %s fails with ENOSPC", r.op.Name, r.op.Path)
		}
		r.res = s.pathErr(r, syscall.ENOSPC)
		s.at(sendAt+s.latency()+s.latency(), func() { c.resume(gen, r) })
		return
	}
	if s.chance(s.prof.Delay) {
		// Congestion, a server stall, a retransmission after a lost
		// request: the request reaches the server late.
		d := s.uniform(s.prof.DelayMax)
		if s.injected(c, "request-delay") {
			s.tracef(c, "fault: %s %s reaches the server %v late", r.op.Name, r.op.Path, d)
		}
		sendAt += d
	}
	if sendAt-s.now > lifetime-s.renew()+proto.StaleMargin && (r.op.Name == "Rename" || r.op.Name == "Remove") && r.op.Path == lockPath {
		// Held up for longer than the lock can go unrefreshed before it
		// may be judged stale, broken and taken again: the check it
		// follows may be out of date when the server applies it.
		r.late = true
	}
	submitted := s.now
	s.at(sendAt+s.latency(), func() {
		if r.late {
			s.res.Ex.LateCalls++
			if s.injected(c, "late-call") {
				s.tracef(c, "fault: %s %s, sent %v ago, reaches the server late", r.op.Name, r.op.Path, s.now-submitted)
			}
		}
		if r.op.Path2 == lockPath && s.now-submitted > lifetime-s.renew()+proto.StaleMargin {
			s.res.Ex.LateOntoLock++
		}
		res := s.apply(c, r, false)
		if r.namespace && s.chance(s.prof.LateDup) {
			d := s.uniform(s.prof.DupDelay)
			if s.injected(c, "late-duplicate") {
				s.tracef(c, "fault: %s %s: a duplicate will arrive %v later", r.op.Name, r.op.Path, d)
			}
			s.at(s.now+d, func() {
				if !s.calm {
					s.apply(c, r, true)
				}
			})
		}
		s.reply(c, r, res, gen)
	})
}

// movesLock reports whether the call r removes or moves what is at the
// lock name now: a rename, unlink or rmdir of the lock name, or the
// removal of the lock generation's owner record through a handle.
// (Putting a lock back at the lock name, onto it, is not.)
func (s *sim) movesLock(r *req) bool {
	switch r.op.Name {
	case "Rename", "Remove", "Rmdir":
		return r.op.Path == lockPath
	case "Dir.Remove":
		if r.peek == nil {
			return false
		}
		stray := s.strayHandle
		id := r.peek()
		s.strayHandle = stray
		return id != "" && id == s.lockIdentity()
	}
	return false
}

// reply brings the result of a call the server has applied back to its
// caller. The reply can be lost (the client retransmits after Timeo), cut
// off by a partition that begins after the server applied the call (a
// hard mount retransmits when it heals, long after the call took effect;
// a soft mount times it out), or delayed. A retransmission is answered
// from the server's duplicate request cache, or, when the cache misses,
// runs again.
func (s *sim) reply(c *client, r *req, res result, gen int) {
	r.res = res // what the caller gets, unless a fault changes it
	if s.chance(s.prof.ReplyCut) {
		d := s.uniform(s.prof.PartMax)
		if s.injected(c, "reply-partition") {
			s.tracef(c, "fault: partitioned for %v after the server applied %s %s: the reply is cut off", d, r.op.Name, r.op.Path)
		}
		c.partUntil = max(c.partUntil, s.now+d)
	}
	if s.now < c.partUntil {
		if s.prof.SoftErr != 0 {
			if s.injected(c, "soft-timeout-applied") {
				s.tracef(c, "fault: %s %s applied, then the partition times its reply out with %v", r.op.Name, r.op.Path, s.prof.SoftErr)
			}
			if res.err == nil && isCreate(r.op.Name) {
				s.res.FaultedCleanups++
			}
			r.res = s.pathErr(r, s.prof.SoftErr)
			s.at(s.now+s.prof.Timeo, func() { c.resume(gen, r) })
			return
		}
		if s.tracing() {
			s.tracef(c, "the reply to %s %s waits for the partition to heal", r.op.Name, r.op.Path)
		}
		s.at(max(c.partUntil, s.now+s.prof.Timeo)+s.latency(), func() { s.retransmit(c, r, gen) })
		return
	}
	if s.chance(s.prof.LostReply) {
		if s.injected(c, "lost-reply") {
			s.tracef(c, "fault: reply to %s %s lost (%v)", r.op.Name, r.op.Path, res.err)
		}
		s.at(s.now+s.prof.Timeo+s.latency(), func() { s.retransmit(c, r, gen) })
		return
	}
	at := s.now + s.latency()
	if s.chance(s.prof.Delay) {
		d := s.uniform(s.prof.DelayMax)
		if s.injected(c, "reply-delay") {
			s.tracef(c, "fault: reply to %s %s delayed by %v", r.op.Name, r.op.Path, d)
		}
		at += d
	}
	s.at(at, func() { c.resume(gen, r) })
}

// retransmit is a retransmission reaching the server: the duplicate
// request cache answers it with the first reply (r.res), or misses and
// the call runs again.
func (s *sim) retransmit(c *client, r *req, gen int) {
	if r.namespace && s.chance(s.prof.DRCMiss) {
		if s.injected(c, "drc-miss") {
			s.tracef(c, "fault: retransmitted %s %s misses the duplicate request cache", r.op.Name, r.op.Path)
		}
		r.res = s.apply(c, r, true)
	}
	s.at(s.now+s.latency(), func() { c.resume(gen, r) })
}

// apply runs a call on the server, with the oracle's checks around
// namespace changes.
func (s *sim) apply(c *client, r *req, replay bool) result {
	var before, beforeLock string
	switch {
	case r.peek != nil:
		before = r.peek()
	case r.op.Name == "Remove" || r.op.Name == "Rename":
		before = identity(oracle.Ino(s.server, r.op.Path))
	}
	if (r.op.Name == "Rename" || r.op.Name == "Link") && r.op.Path2 == lockPath {
		beforeLock = s.lockIdentity()
	}
	// A call on the lock name that the server applies long after it
	// applied the caller's previous call (the check it follows): the
	// request was held up in a partition, or the check's reply was.
	late := !replay && r.op.Name == "Rename" && r.op.Path == lockPath &&
		c.lastApplied > 0 && s.now-c.lastApplied > lifetime-s.renew()+proto.StaleMargin
	if !replay {
		c.lastApplied = s.now
	}
	s.strayHandle = false
	res := r.apply()
	stray := s.strayHandle
	s.strayHandle = false
	if replay {
		if s.tracing() {
			s.tracef(c, "replayed %s %s %s -> %v", r.op.Name, r.op.Path, r.op.Path2, res.err)
		}
		if res.err == nil && isCreate(r.op.Name) {
			// A create (or a move to a new name) that ran again after
			// its caller had moved on: a litter file no one knows of
			// (I5).
			s.res.ReplayedCreates++
		}
	}
	if res.err != nil {
		return res
	}
	if changes(r.op.Name) {
		defer s.observe()
	}
	if r.op.Name == "CreateExcl" {
		s.created(c, identity(oracle.Ino(s.server, r.op.Path)))
	}
	if r.op.Name == "Rename" && !replay {
		if tok, ok := proto.ParseTokenName(path.Base(r.op.Path2), path.Base(lockPath)); ok && path.Dir(r.op.Path2) == lockDir {
			// A token minted: what lock was in place at that instant (I7).
			s.minted[c] = mint{token: tok, lock: s.lockIdentity(), floor: s.lastToken}
		}
	}
	// The mechanism, if any, by which this call may remove or move a lock
	// that is not its caller's without a bug of the caller (excuse.go).
	var mech string
	switch {
	case stray:
		mech = ExcusePathHandle
	case replay && r.op.Name == "Rename" && r.op.Path == lockPath:
		mech = ExcuseReplayedLockCall
	case late:
		mech = ExcuseLateLockCall
	case r.afterPause:
		mech = ExcuseCallerPaused
	case r.op.Name == "Rename" && r.op.Path == lockPath && s.robbedOf(c) != "":
		// The caller's own lock was removed or moved by an excused
		// mechanism since it last checked it: acting on the lock name
		// on that check, it can move the lock taken since.
		mech = s.robbedOf(c)
	case r.op.Name == "Rename" && r.op.Path == lockPath && s.lookRobbed(c) != "":
		// The lock the caller's last look found (a breaker's re-read of
		// the lock it judged) was removed or moved by an excused
		// mechanism after the server answered that look: acting on it,
		// the caller moves the lock taken since.
		mech = s.lookRobbed(c)
	}
	if r.op.Name == "ReadFile" && r.op.Path == lockPath && !replay {
		c.looked, c.lookedAt = s.lockIdentity(), s.now
	}
	switch r.op.Name {
	case "Remove", "Dir.Remove":
		if p := s.pending; p != nil && p.by == c && p.content == before && p.holder.holding && s.lockIdentity() == "" {
			// The mover removes the live lock it moved aside, with the
			// lock name still free: it never tried to put it back. Only
			// a holder paused past its deadline excuses that (its lock
			// was rightly judged stale), or a move that was a replay
			// (its caller's check of what it moved was answered before
			// the replay ran, so the caller could not see what it
			// removes); the gap before a restore is what is beyond a
			// client's control, not the restore.
			ex := ""
			switch {
			case p.replayed:
				ex = ExcuseReplayedLockCall
			case s.holderPaused(p.holder):
				ex = ExcuseHolderPaused
			}
			s.violateExcused("I2", ex, "%s removed live holder %s's lock, which it had moved aside, instead of putting it back (%s)", c.name(), p.holder.name(), r.op.Path)
			s.pending = nil
		}
		s.rob(c, before, mech)
		// Removing a second name of a live lock that only the remover
		// uses (a breaker's tomb, after it put the lock back) harms no
		// one; any other name of it is the holder's.
		if h := s.liveOther(before, c); h != nil && !c.owns(r.op.Path) {
			what := "claim"
			if r.op.Path == lockPath || r.op.Name == "Dir.Remove" || strings.HasPrefix(r.op.Path, lockPath+"/") {
				what = "lock"
			}
			s.oops(h, "I2", "%s removed the %s of live holder %s (%s)", c.name(), what, h.name(), r.op.Path)
		}
	case "Rename":
		if r.op.Path == lockPath {
			s.rob(c, before, mech)
			if h := s.liveOther(before, c); h != nil {
				s.pending = &pendingMove{holder: h, content: before, by: c, replayed: replay}
			}
		}
	}
	if r.op.Name == "Rename" && r.op.Path2 == lockPath && beforeLock != "" && s.lockIdentity() != beforeLock {
		// A rename onto the lock name replaces what was there.
		s.rob(c, beforeLock, mech)
		if h := s.liveOther(beforeLock, c); h != nil {
			s.oops(h, "I2", "%s renamed %s onto the lock name, replacing live holder %s's lock", c.name(), r.op.Path, h.name())
		}
	}
	if (r.op.Name == "Link" || r.op.Name == "Rename") && r.op.Path2 == lockPath {
		// Who put a lock at the lock name, by the server's record.
		id := s.lockIdentity()
		if cr := s.creatorOf(id); cr != nil {
			s.placed[cr] = id
		}
	}
	if (r.op.Name == "Link" || r.op.Name == "Rename") && r.op.Path2 == lockPath && strings.HasSuffix(r.op.Path, ".break") {
		s.res.Ex.Restores++
	}
	if (r.op.Name == "Link" || r.op.Name == "Rename") && r.op.Path2 == lockPath && s.pending != nil {
		p := s.pending
		if s.lockIdentity() != p.content && p.holder.holding {
			s.oops(p.holder, "I2", "%s moved live holder %s's lock away and %s took the lock name", p.by.name(), p.holder.name(), c.name())
		}
		s.pending = nil
	}
	return res
}

// creator is the process (incarnation) that created a file.
type creator struct {
	c   *client
	gen int
}

// created records that c created the file id: the server's own record,
// which the oracle trusts rather than anything the code under test says.
func (s *sim) created(c *client, id string) {
	if id != "" {
		s.creators[id] = creator{c: c, gen: c.gen}
	}
}

// creatorOf returns the process that created file id, if it still runs
// as the incarnation that created it.
func (s *sim) creatorOf(id string) *client {
	cr, ok := s.creators[id]
	if !ok || cr.c.gen != cr.gen {
		return nil
	}
	return cr.c
}
