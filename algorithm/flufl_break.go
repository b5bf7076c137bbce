package algorithm

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/nfslease/nfslease/internal/proto"
)

// breakStale breaks the lock judged stale in l.wait().obs. It never removes a
// lock other than the one judged: it moves whatever is at the lock name to
// a name only we use, checks that it is the judged version, and puts it
// back otherwise. Breakers take turns through the break lock, so that one
// breaker's rename cannot catch the fresh lock another breaker's break let
// someone take. See docs/protocol.md for what remains.
func (l *fluflLock) breakStale(now proto.Instant) (bool, error) {
	judged := l.wait().obs.v
	if l.mut(mBreakUnlinkByName) {
		l.wait().obs = observation{}
		return l.mutantBreakByName(judged)
	}
	if !l.mut(mBreakNoTurns) {
		if ok, err := l.takeBreakLock(now); !ok || err != nil {
			return false, err // another breaker is at work; keep watching
		}
		defer l.dropBreakLock()
	}
	l.wait().obs = observation{}

	// Look once more, fresh, immediately before acting.
	if !l.mut(mBreakNoReread) {
		data, fi, err := l.fs.ReadFile(l.path, maxClaimLen)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return false, nil
			}
			return false, fmt.Errorf("algorithm: re-reading stale lock %s: %w", l.path, err)
		}
		if versionOf(data, fi) != judged {
			return false, nil // it changed: a live holder, or a new one
		}
	}
	// The look may have come back late (a request or reply held up on
	// the network): by now another breaker may have judged our turn over,
	// broken the lock and let someone take it. Act only within our turn;
	// otherwise look again at the next attempt.
	if !l.mut(mBreakNoTurns|mBreakNoTurnDeadline) && !l.withinTurn() {
		return false, nil
	}
	removed, err := l.removeIfUnchanged(l.path, judged)
	if !removed || err != nil {
		return false, err
	}
	// It was the stale lock. Remove the stale holder's claim too, but only
	// if the name is a well-formed claim of this very lock in this
	// directory and it is still the version judged stale, untouched: a
	// holder that was only slow touches its claim before it links it
	// again, and may hold the lock again by now. Best effort: a leftover
	// claim harms no one, and the sweep removes it later.
	if c, err := parseClaim(judged.content, fluflSep); err == nil && filepath.Base(c.Lock) == l.base {
		victim := filepath.Join(l.dir, filepath.Base(judged.content))
		if victim != l.claim {
			vdata, vfi, err := l.fs.ReadFile(victim, maxClaimLen)
			if err == nil && string(vdata) == judged.content && vfi.ModTime.UnixNano() == judged.mtime {
				_, _ = l.removeIfUnchanged(victim, judged)
			}
		}
	}
	return true, nil
}

// removeIfUnchanged removes name if it still is the version judged. It
// moves whatever is at name to our tomb (rename(2) is atomic: exactly what
// is there at that instant moves), compares it with judged, and removes it
// there if it matches, or puts it back at name otherwise.
func (l *fluflLock) removeIfUnchanged(name string, judged version) (bool, error) {
	tomb := l.tomb()
	l.tombUsed = true
	if err := l.fs.Rename(name, tomb); err != nil {
		// Any error, even ENOENT, may come from a rename that was applied
		// and whose reply was lost (a retransmission that missed the
		// server's duplicate request cache answers ENOENT). If the tomb
		// exists, carry on with it; it may hold a live lock to put back.
		if _, _, terr := l.fs.ReadFile(tomb, maxClaimLen); terr != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return false, nil // gone already (released or broken)
			}
			return false, fmt.Errorf("algorithm: breaking stale %s: %w", name, err)
		}
	}
	tdata, tfi, err := l.fs.ReadFile(tomb, maxClaimLen)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		// We cannot tell what we moved. Try to put it back.
		l.restore(name, nil)
		return false, fmt.Errorf("algorithm: checking broken %s: %w", name, err)
	}
	// rename(2) may change ctime and, on filesystems without real inode
	// numbers, the reported inode; the content (a claim unique to one
	// acquisition) and the mtime (moved by every refresh) identify the
	// version.
	if (string(tdata) != judged.content || tfi.ModTime.UnixNano() != judged.mtime || tfi.Size != judged.size) && !l.mut(mBreakNoCompare) {
		// Not what we judged: a new holder took the name between our
		// check and the rename. Put it back.
		l.restore(name, tdata)
		return false, nil
	}
	if err := l.removeRetry(tomb); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, fmt.Errorf("algorithm: removing broken %s (moved to %s): %w", name, tomb, err)
	}
	l.tombUsed = false
	return true, nil
}

// restore puts back at name what we moved to our tomb but must not
// remove; want is its content if the caller has read it (nil: read it
// here, retrying transient errors, so that a passing EIO does not leave a
// live lock in our tomb, where Close would remove it). If name has been
// taken meanwhile, the moved lock's holder has lost it; it notices at its
// next refresh, when it finds the lock is not its claim.
//
// It links at most once more after a link that may have been applied: a
// name that was put back and is gone again was removed by its holder
// (released), or taken and freed by a new holder; linking it again would
// bring back a lock or claim no one holds (found by the simulator:
// congested seed 14). A link whose reply was lost as a transient error
// is the one case it cannot tell from a link never applied; it retries
// that, so a holder that released in between may find its lock brought
// back (judged stale and broken after its lifetime) or its claim (swept
// by the next acquisition on its host).
func (l *fluflLock) restore(name string, want []byte) {
	tomb := l.tomb()
	if want == nil {
		if err := retry(func() error {
			var err error
			want, _, err = l.fs.ReadFile(tomb, maxClaimLen)
			return err
		}); err != nil {
			return // nothing we can read back; Close tries to remove the tomb
		}
	}
	for range 3 {
		lerr := l.fs.Link(tomb, name)
		if lerr == nil {
			_ = l.fs.Remove(tomb) // put back; the tomb is a second name
			return
		}
		_, _, err := l.fs.ReadFile(name, maxClaimLen)
		switch {
		case err == nil:
			// Ours (a link applied whose reply was lost) or someone
			// else's: then the moved holder has lost its lock and finds
			// out at its next refresh. The tomb is not needed either way.
			_ = l.fs.Remove(tomb)
			return
		case !proto.Transient(lerr) && errors.Is(err, fs.ErrNotExist):
			// The name was there (EEXIST, or EPERM from sshfs) and is
			// gone: released by the moved holder after a link of ours
			// was applied, or taken and freed by a new holder.
			_ = l.fs.Remove(tomb)
			return
		case !proto.Transient(lerr) && !errors.Is(lerr, fs.ErrExist):
			return
		}
		// The link failed transiently and the name is free (or
		// unreadable): try again.
	}
	// Keep the tomb rather than lose the only name of a live lock; its
	// holder will see its lock gone and give up. Close removes the tomb.
}

// clock is Config.Now, or, without one, the instant the step was given.
func (l *fluflLock) clock(step proto.Instant) proto.Instant {
	if l.cfg.Now != nil {
		return l.cfg.Now()
	}
	return step
}

// withinTurn reports whether the break turn we took is still ours: less
// than proto.BreakTurn has passed since we sent the call that took it.
func (l *fluflLock) withinTurn() bool {
	return l.clock(l.turnStart).Mono-l.turnStart.Mono < proto.BreakTurn(l.cfg.Lifetime)
}

// breakLockSuffix names the break lock: "<lock>|break". It holds the
// separator, so it is never a lock or claim anyone else uses.
const breakLockSuffix = "|break"

// takeBreakLock takes the break lock, a file created exclusively that
// holds our claim while we break. If another breaker holds it, it watches
// it like a lock; one left unchanged for half its holder's lifetime plus
// StaleMargin (its holder died mid-break) is removed the same careful way.
func (l *fluflLock) takeBreakLock(now proto.Instant) (bool, error) {
	bl := l.breakLock()
	// Our turn starts when we send the create (or the touch of our own
	// break lock, below): others watch the break lock only once it is
	// there, and the watch restarts when it changes.
	start := l.clock(now)
	_, err := l.fs.CreateExcl(bl, []byte(l.claim), l.cfg.Perm)
	if err == nil {
		l.breakHeld, l.turnStart = true, start
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.EPERM) && !proto.Transient(err) {
		return false, fmt.Errorf("algorithm: taking break lock of %s: %w", l.path, err)
	}
	data, fi, rerr := l.fs.ReadFile(bl, maxClaimLen)
	switch {
	case rerr == nil && string(data) == l.claim:
		// Our own create, applied though we heard an error: now, or in
		// an earlier attempt, long enough ago for another breaker to
		// be judging it stale and moving it aside right now. Touch it,
		// so that a breaker that judged it finds it changed and puts
		// it back, then make sure it is still ours before taking the
		// turn.
		if err := l.fs.Chtimes(bl, now.Wall, now.Wall); err != nil {
			return false, nil
		}
		if data, _, err := l.fs.ReadFile(bl, maxClaimLen); err != nil || string(data) != l.claim {
			return false, nil
		}
		l.breakHeld, l.turnStart = true, start
		return true, nil
	case errors.Is(rerr, fs.ErrNotExist):
		return false, nil // released meanwhile: next time
	case rerr != nil:
		return false, fmt.Errorf("algorithm: reading break lock of %s: %w", l.path, rerr)
	}
	v := versionOf(data, fi)
	switch {
	case !l.wait().breakObs.valid || l.wait().breakObs.v != v:
		l.wait().breakObs = observation{valid: true, v: v, pending: true}
		return false, nil
	case l.wait().breakObs.pending:
		l.wait().breakObs.since, l.wait().breakObs.pending = now.Mono, false
		return false, nil
	}
	lifetime := l.cfg.Lifetime
	if c, err := parseClaim(string(data), fluflSep); err == nil && c.Lifetime > 0 {
		lifetime = c.Lifetime
	}
	if now.Mono-l.wait().breakObs.since < proto.BreakTurn(lifetime)+proto.StaleMargin {
		return false, nil
	}
	l.wait().breakObs = observation{}
	_, err = l.removeIfUnchanged(bl, v)
	return false, err
}

// dropBreakLock removes the break lock if we hold it and it is still ours.
// Within our turn no one else may judge it stale, and a removal by name
// after reading it back is safe. Past the turn another breaker may be
// moving it aside right now, and a new breaker's may take its place
// before our removal lands; it is removed the careful way then.
func (l *fluflLock) dropBreakLock() {
	if !l.breakHeld {
		return
	}
	l.breakHeld = false
	bl := l.breakLock()
	data, fi, err := l.fs.ReadFile(bl, maxClaimLen)
	switch {
	case err != nil || string(data) != l.claim:
	case l.withinTurn():
		_ = l.removeRetry(bl)
	default:
		_, _ = l.removeIfUnchanged(bl, versionOf(data, fi))
	}
}

// mutantBreakByName breaks the way flufl.lock does: remove whatever is at
// the lock name, then the claim it named, with no check in between.
func (l *fluflLock) mutantBreakByName(judged version) (bool, error) {
	_ = l.fs.Remove(l.path)
	if c, err := parseClaim(judged.content, fluflSep); err == nil && filepath.Base(c.Lock) == l.base {
		if victim := filepath.Join(l.dir, filepath.Base(judged.content)); victim != l.claim {
			_ = l.fs.Remove(victim)
		}
	}
	return true, nil
}
