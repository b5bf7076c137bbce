package algorithm

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// Refresh implements Lock.Refresh.
func (l *fluflLock) Refresh(now proto.Instant) error {
	if !l.held {
		return fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, proto.ErrNotHeld)
	}
	// Touch our claim, which while we hold the lock is the lock's inode.
	// Touching by the claim name never refreshes someone else's lock.
	l.verified = false
	exp := now.Wall.Add(l.cfg.Lifetime)
	if err := l.mutantChtimes(l.claim, exp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.held = false
			return fmt.Errorf("algorithm: refreshing lock %s: our claim was removed: %w", l.path, proto.ErrNotHeld)
		}
		return fmt.Errorf("algorithm: refreshing lock %s: %w", l.path, err)
	}
	l.lastTouch, l.touched = now, true
	if err := l.verify(); err != nil {
		if errors.Is(err, proto.ErrNotHeld) {
			l.held = false
		}
		return err
	}
	return nil
}

// mutantChtimes touches name, unless the mutant never touches on refresh.
func (l *fluflLock) mutantChtimes(name string, exp time.Time) error {
	if l.mut(mRefreshNoTouch) {
		return nil
	}
	return l.fs.Chtimes(name, exp, exp)
}

// verify checks, by reading the lock back, that it is still ours, and
// records whether it was (l.verified).
func (l *fluflLock) verify() error {
	err := l.readBack()
	l.verified = err == nil
	return err
}

func (l *fluflLock) readBack() error {
	data, fi, err := l.fs.ReadFile(l.path, maxClaimLen)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("algorithm: lock %s was removed: %w", l.path, proto.ErrNotHeld)
	case errors.Is(err, fsops.ErrNotRegular), errors.Is(err, fsops.ErrTooLarge), errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("algorithm: lock %s was replaced by something else: %w", l.path, proto.ErrNotHeld)
	default:
		return fmt.Errorf("algorithm: checking lock %s: %w", l.path, err)
	}
	if string(data) != l.claim {
		return fmt.Errorf("algorithm: lock %s now belongs to %q: %w", l.path, data, proto.ErrNotHeld)
	}
	if l.linked { // the first read since link(2) said it linked
		l.confirmed(fi)
	}
	if l.realInodes && !fsops.SameFile(fi, l.claimInfo) {
		return fmt.Errorf("algorithm: lock %s is a different file with our claim: %w", l.path, proto.ErrNotHeld)
	}
	return nil
}

// Release implements Lock.Release. It reads the lock back, unless our
// last call did (a refresh or a mint just before, as package lease's
// release makes), and, if it is ours and the hold is still valid (the
// read-back may return after a partition, when a waiter may have broken
// our lock and another process taken it), moves it aside and removes it
// (removeLockIfOurs, which checks again what it moved).
func (l *fluflLock) Release(valid func() bool) error {
	var notOurs error
	if l.mut(mReleaseUnchecked) {
		l.held = false
		_ = l.fs.Remove(l.path)
		return l.removeClaim()
	}
	if l.held {
		l.held = false
		var err error
		if !l.verified { // else our last call was a read-back that showed it ours
			err = l.readBack()
		}
		l.verified = false
		if err != nil {
			if !errors.Is(err, proto.ErrNotHeld) {
				// Ambiguous: leave the lock to expire rather than risk
				// removing someone else's.
				_ = l.removeClaim()
				return err
			}
			notOurs = err
		} else if !valid() {
			// Past the deadline: a waiter may be breaking the lock.
			// Leave it to go stale; only our own files go.
			return errors.Join(fmt.Errorf("algorithm: lock %s: %w; it is left to go stale", l.path, proto.ErrExpired), l.removeClaim())
		} else if ours, err := l.removeLockIfOurs(); err != nil {
			_ = l.removeClaim()
			return fmt.Errorf("algorithm: releasing lock %s: %w", l.path, err)
		} else if !ours {
			notOurs = fmt.Errorf("algorithm: lock %s was no longer ours when we released it: %w", l.path, proto.ErrNotHeld)
		}
	} else {
		notOurs = fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, proto.ErrNotHeld)
	}
	if err := l.removeClaim(); err != nil {
		return err
	}
	return notOurs
}

// removeLockIfOurs removes the lock name if it holds our claim, without
// ever unlinking it by name: it moves whatever is at the name to our tomb,
// removes it there if it is ours, and puts it back otherwise. An unlink by
// name that hung (a partition on a hard mount) could land after a waiter
// broke our expired lock and another took it, and would remove that; a
// rename that lands late moves it, and it is put back.
func (l *fluflLock) removeLockIfOurs() (bool, error) {
	tomb := l.tomb()
	l.tombUsed = true
	if err := l.fs.Rename(l.path, tomb); err != nil {
		// As in removeIfUnchanged: the rename may have been applied.
		if _, _, terr := l.fs.ReadFile(tomb, maxClaimLen); terr != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return false, nil
			}
			return false, err
		}
	}
	data, _, err := l.fs.ReadFile(tomb, maxClaimLen)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		l.restore(l.path, nil)
		return false, err
	case string(data) != l.claim:
		l.restore(l.path, data)
		return false, nil
	}
	if err := l.removeRetry(tomb); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, err
	}
	l.tombUsed = false
	return true, nil
}

// Close implements Lock.Close.
func (l *fluflLock) Close(now proto.Instant) error {
	if !l.created {
		return l.removeUnsureClaim()
	}
	if l.mut(mReleaseUnchecked) {
		_ = l.fs.Remove(l.path)
	}
	// A link whose success reply was lost leaves the lock ours without our
	// knowing. Remove it only while no one could judge it stale yet.
	if l.touched && now != (proto.Instant{}) && now.Mono-l.lastTouch.Mono >= 0 && now.Mono-l.lastTouch.Mono < l.cfg.Lifetime/2 {
		if data, _, err := l.fs.ReadFile(l.path, maxClaimLen); err == nil && string(data) == l.claim {
			_, _ = l.removeLockIfOurs()
		}
	}
	l.held = false
	return l.removeClaim()
}

func (l *fluflLock) removeClaim() error {
	if l.tombUsed {
		if err := l.removeRetry(l.tomb()); err == nil || errors.Is(err, fs.ErrNotExist) {
			l.tombUsed = false
		}
	}
	if !l.created {
		return nil
	}
	if err := l.removeRetry(l.claim); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("algorithm: removing claim of lock %s: %w", l.path, err)
	}
	l.created = false
	return nil
}

// removeUnsureClaim removes our claim file after a create that failed
// ambiguously, if it exists and holds our claim. Its name carries 64
// random bits and our content, so such a file is ours; anything else
// there is left alone.
func (l *fluflLock) removeUnsureClaim() error {
	if !l.unsure {
		return nil
	}
	data, _, err := l.fs.ReadFile(l.claim, maxClaimLen)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("algorithm: checking claim of lock %s: %w", l.path, err)
	case string(data) == l.claim:
		if err := l.removeRetry(l.claim); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("algorithm: removing claim of lock %s: %w", l.path, err)
		}
	}
	l.unsure = false
	return nil
}

// removeRetry removes a file of ours, trying again a few times on a
// transient error, so that a passing EIO does not leave it behind. (A
// replayed remove of a name only we use harms no one.)
func (l *fluflLock) removeRetry(name string) error {
	return retry(func() error { return l.fs.Remove(name) })
}

// Mint implements Lock.Mint: it mints a token, reads the lock back, as
// Refresh does, to check it is still ours, and checks that no one minted
// since (see mintVerified).
func (l *fluflLock) Mint(proto.Instant) (uint64, error) {
	l.verified = false
	if !l.held {
		return 0, fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, proto.ErrNotHeld)
	}
	tok, err := mintVerified(l.fs, l.dir, l.base, l.cfg, func(tok uint64) error {
		if err := l.verify(); err != nil {
			return fmt.Errorf("algorithm: after minting token %d: %w", tok, err)
		}
		return nil
	}, l.mut)
	if errors.Is(err, proto.ErrNotHeld) {
		l.held = false
	}
	return tok, err
}
