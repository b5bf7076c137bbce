package sim

import (
	"math"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/oracle"
	"github.com/nfslease/nfslease/internal/proto"
)

// I8, the holder stops first (docs/protocol.md §4): a holder's held context
// is cancelled before any other process may judge its lock stale, and a
// Flufl breaker sends the rename that moves the lock aside only while no
// other breaker may yet judge its break lock stale (its turn, §2.4). The
// oracle takes both moments from the server and the clocks, never from the
// code under test: a file may be judged stale once some other process's
// monotonic clock has run for its lifetime plus StaleMargin (the break
// lock: its turn plus StaleMargin) since the server last changed what a
// look at it returns (true inode, size, mtime, ctime), or, for Flufl's
// wall-clock rule, once some other process's wall clock reads past its
// mtime plus the skew allowance. So a timing rule that is wrong is caught
// when it could let two holders in, without waiting for a waiter to
// actually break in and take the lock in that window.

// breakLockPath is Flufl's break lock, which a breaker holds while it
// breaks (algorithm/flufl_break.go).
const breakLockPath = lockPath + "|break"

// look is what a look at a file returns that can tell a waiter it changed.
type look struct {
	id           string // its identity (true inode); "" if there is none
	size         int64
	mtime, ctime time.Time
}

// watch is the oracle's record of a file that waiters judge by how long it
// has looked unchanged: what a look returns, and the true time since
// which the server has returned it.
type watch struct {
	look  look
	since time.Duration
}

// lookAt is what a look at name returns now, on the server.
func (s *sim) lookAt(name string) look {
	fi, err := s.server.Lstat(name)
	if err != nil {
		return look{}
	}
	return s.lookOf(name, fi)
}

// lockLook is what a look at the lock returns now: at the lock file, or
// at the owner record of a lock directory. The oracle asks several times
// per call the server applies, and most calls change nothing, so it keeps
// the last answer while the server counts no change.
func (s *sim) lockLook() look { return s.memoLook(&s.lockMemo, s.freshLockLook) }

// lookMemo is a look taken when the server had counted changes changes.
type lookMemo struct {
	changes uint64
	ok      bool
	look    look
}

// memoLook returns m's look if the server has changed nothing since it was
// taken, and takes it afresh otherwise.
func (s *sim) memoLook(m *lookMemo, fresh func() look) look {
	n, _ := oracle.Changes(s.server)
	if !m.ok || m.changes != n {
		*m = lookMemo{changes: n, ok: true, look: fresh()}
	}
	return m.look
}

func (s *sim) freshLockLook() look {
	fi, err := s.server.Lstat(lockPath)
	switch {
	case err != nil:
		return look{}
	case fi.Mode.IsDir():
		return s.lookAt(lockPath + "/owner")
	}
	return s.lookOf(lockPath, fi)
}

func (s *sim) lookOf(name string, fi fsops.FileInfo) look {
	return look{id: identity(oracle.Ino(s.server, name)), size: fi.Size, mtime: fi.ModTime, ctime: fi.Ctime}
}

// observe records, after the server applied a call, any change of the
// lock's look or the break lock's, and arms the check of I8 for the
// lock's new look.
func (s *sim) observe() {
	if l := s.lockLook(); l != s.lockWatch.look {
		s.lockWatch = watch{look: l, since: s.now}
		if l.id != "" {
			w := s.lockWatch
			s.at(s.staleAt(w, nil), func() { s.checkStops(w) })
		}
	}
	if !s.flufl {
		return // only Flufl has a break lock
	}
	if l := s.memoLook(&s.breakMemo, func() look { return s.lookAt(breakLockPath) }); l != s.breakWatch.look {
		s.breakWatch = watch{look: l, since: s.now}
		if c := s.creatorOf(l.id); c != nil {
			// A turn taken (or its break lock touched, or moved aside
			// and put back): others watch it from now.
			t := s.turns[c]
			if t.gen != c.gen || t.w.look.id != l.id {
				t = turn{gen: c.gen}
			}
			t.w = s.breakWatch
			s.turns[c] = t
		}
	}
}

// turn is the break turn a breaker took last: its break lock as others
// watch it, whether or not it is still there (another breaker that
// judged it stale may have removed it: that is when a late rename harms).
type turn struct {
	w     watch
	gen   int  // the incarnation that took it
	acted bool // it has made a call on the lock name since
}

// turnCall follows breaker c's calls within its turn: it checks a rename
// of the lock name against the turn, and ends the turn at c's first call
// on the break lock after its calls on the lock name (its drop of the
// break lock: a later rename of the lock name, by Close or Release, is
// not a break).
func (s *sim) turnCall(c *client, r *req) {
	t, ok := s.turns[c]
	switch {
	case !ok || t.gen != c.gen:
	case r.op.Path == lockPath:
		if r.op.Name == "Rename" && c.ending == nil {
			s.checkTurn(c, t, r)
		}
		t.acted = true
		s.turns[c] = t
	case r.op.Path == breakLockPath && t.acted:
		delete(s.turns, c)
	}
}

// watchedFor is the earliest true time at which a process other than h
// has watched w unchanged for d on its monotonic clock.
func (s *sim) watchedFor(w watch, d time.Duration, h *client) time.Duration {
	at := time.Duration(math.MaxInt64)
	for _, o := range s.clients {
		if o != h {
			at = min(at, o.trueAt(o.monoAt(w.since)+d))
		}
	}
	return at
}

// staleAt is the earliest true time at which a process other than h may
// judge the lock with watch w stale: watched unchanged for the lifetime
// plus StaleMargin, or (Flufl) expired on its wall clock as it reads now.
func (s *sim) staleAt(w watch, h *client) time.Duration {
	at := s.watchedFor(w, lifetime+proto.StaleMargin, h)
	if s.flufl {
		expiry := w.look.mtime.Add(proto.DefaultSkewAllowance).Sub(epoch)
		for _, o := range s.clients {
			if o != h {
				at = min(at, expiry-o.offset-o.step+1)
			}
		}
	}
	return at
}

// checkStops checks I8 for the lock with watch w, at or after the earliest
// moment another process may judge it stale: if the lock still looks the
// same and its holder still holds, the holder did not stop first.
func (s *sim) checkStops(w watch) {
	if s.lockWatch != w || s.stopsChecked == w {
		return // it changed since (a new check is armed), or was reported
	}
	h := s.claims[w.look.id]
	if h == nil || !h.holding {
		return // no holder yet (acquired rearms), or none any more
	}
	if at := s.staleAt(w, h); at > s.now {
		s.at(at, func() { s.checkStops(w) })
		return
	}
	s.stopsChecked = w
	ex := ""
	if s.holderPaused(h) {
		ex = ExcuseHolderPaused
	}
	s.violateExcused("I8", ex, "%s still holds, but its lock has looked unchanged since %v (%v ago): another process may judge it stale", h.name(), w.since, s.now-w.since)
}

// checkTurn checks I8 for breaker c's rename of the lock name aside,
// sent now in its turn t: its break lock must not yet look unchanged, to
// another breaker, for the turn plus StaleMargin, whether or not it is
// still there.
func (s *sim) checkTurn(c *client, t turn, r *req) {
	w := t.w
	if s.now < s.watchedFor(w, proto.BreakTurn(lifetime)+proto.StaleMargin, c) {
		return
	}
	ex := ""
	if r.afterPause {
		ex = ExcuseCallerPaused
	}
	s.violateExcused("I8", ex, "%s sent %s %s past its break turn: its break lock has looked unchanged since %v (%v ago), so another breaker may judge it over", c.name(), r.op.Name, r.op.Path, w.since, s.now-w.since)
}
