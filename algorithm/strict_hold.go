package algorithm

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// Refresh implements Lock.Refresh.
func (l *strictLock) Refresh(now proto.Instant) error {
	if !l.held {
		return fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, proto.ErrNotHeld)
	}
	exp := now.Wall.Add(l.cfg.Lifetime)
	touch := l.gdir.Chtimes
	if l.mut(mRefreshNoTouch) {
		touch = func(string, time.Time, time.Time) error { return nil }
	}
	if err := touch(ownerName, exp, exp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.lose()
			return fmt.Errorf("algorithm: refreshing lock %s: our owner record was removed: %w", l.path, proto.ErrNotHeld)
		}
		return fmt.Errorf("algorithm: refreshing lock %s: %w", l.path, err)
	}
	data, _, err := l.gdir.ReadFile(ownerName, maxRecordLen)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.lose()
		return fmt.Errorf("algorithm: lock %s: our owner record was removed: %w", l.path, proto.ErrNotHeld)
	case err != nil:
		return fmt.Errorf("algorithm: checking lock %s: %w", l.path, err)
	case string(data) != string(l.rec):
		l.lose()
		return fmt.Errorf("algorithm: lock %s: our generation holds a foreign record: %w", l.path, proto.ErrNotHeld)
	}
	return nil
}

// lose forgets a lock that is provably no longer ours.
func (l *strictLock) lose() {
	l.held = false
	if l.gdir != nil {
		_ = l.gdir.Close()
		l.gdir = nil
	}
}

// Release implements Lock.Release. Our record goes through the handle on
// our generation, which no one else's generation can be reached by; the
// directory goes by path, but only if empty, which no live generation is.
// A replay of either call is harmless. Neither is sent once valid reports
// the hold past its deadline.
func (l *strictLock) Release(valid func() bool) error {
	if !l.held {
		return fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, proto.ErrNotHeld)
	}
	// Each call, retries included, only while the hold is valid.
	expired := false
	gated := func(call func() error) func() error {
		return func() error {
			if expired = !valid(); expired {
				return nil
			}
			return call()
		}
	}
	var err error
	if l.mut(mStrictReleaseByPath) {
		err = gated(func() error { return l.fs.Remove(l.path + "/" + ownerName) })()
	} else {
		err = retry(gated(func() error { return l.gdir.Remove(ownerName) }))
	}
	if expired {
		// Past the deadline: a waiter may be breaking our generation.
		// Leave it to go stale; only our own files go.
		return errors.Join(fmt.Errorf("algorithm: lock %s: %w; it is left to go stale", l.path, proto.ErrExpired), l.Close(proto.Instant{}))
	}
	l.lose()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("algorithm: lock %s was broken before we released it: %w", l.path, proto.ErrNotHeld)
	case err != nil:
		// Ambiguous: the lock stays until it is judged stale.
		return fmt.Errorf("algorithm: releasing lock %s: %w", l.path, err)
	}
	err = retry(gated(func() error { return l.fs.Rmdir(l.path) }))
	if expired {
		// Our record is gone, so the lock is free; its empty directory
		// stays for the next rename to replace, as below.
		return errors.Join(fmt.Errorf("algorithm: lock %s: %w; its record was removed, its empty directory is left for the next holder", l.path, proto.ErrExpired), l.cleanLitter())
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) &&
		!errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.EPERM) {
		// An empty generation left at the lock path harms no one: it
		// carries our mark (genMark), the next rename replaces it, and
		// waiters remove it.
		return fmt.Errorf("algorithm: removing released lock directory %s: %w", l.path, err)
	}
	return l.cleanLitter()
}

// Close implements Lock.Close. It removes our stage, through its handle:
// if a lost rename reply made the stage the lock, this frees the lock,
// which no one can have been given meanwhile (it is our generation). A
// held lock is left to be broken when stale.
func (l *strictLock) Close(proto.Instant) error {
	l.closeObs()
	l.dropStage()
	l.lose()
	return l.cleanLitter()
}

// cleanLitter tries again to remove stages of ours that could not be
// removed before, and reports those that remain.
func (l *strictLock) cleanLitter() error {
	for _, stage := range slices.Clone(l.litter) {
		l.removeStage(stage)
	}
	if len(l.litter) > 0 {
		return fmt.Errorf("algorithm: lock %s: could not remove staging directories %q (waiters collect them once they are old)", l.path, l.litter)
	}
	return nil
}

// removeRetry removes an entry of ours through d, trying again a few
// times on a transient error.
func (l *strictLock) removeRetry(d fsops.Dir, name string) error {
	return retry(func() error { return d.Remove(name) })
}

// Mint implements Lock.Mint: it mints a token, reads our owner record
// back through the handle on our generation, which holds it only while our
// generation is the lock (no one removes a non-empty generation, and no
// rename replaces one), and checks that no one minted since (see
// mintVerified).
func (l *strictLock) Mint(proto.Instant) (uint64, error) {
	if !l.held {
		return 0, fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, proto.ErrNotHeld)
	}
	tok, err := mintVerified(l.fs, l.dir, l.base, l.cfg, func(tok uint64) error {
		data, _, err := l.gdir.ReadFile(ownerName, maxRecordLen)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("algorithm: after minting token %d: lock %s: our owner record was removed: %w", tok, l.path, proto.ErrNotHeld)
		case err != nil:
			return fmt.Errorf("algorithm: after minting token %d: checking lock %s: %w", tok, l.path, err)
		case string(data) != string(l.rec):
			return fmt.Errorf("algorithm: after minting token %d: lock %s: our generation holds a foreign record: %w", tok, l.path, proto.ErrNotHeld)
		}
		return nil
	}, l.mut)
	if errors.Is(err, proto.ErrNotHeld) {
		l.lose()
	}
	return tok, err
}
