package shell

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/proto"
)

// Hold is one held lease: its deadline, its refreshes and its end. Its
// methods are safe for concurrent use (a driver's deadline timer may check
// the deadline while a refresh is blocked in the filesystem); the lock
// itself is used by one caller at a time: Refresh and Finish must not run
// concurrently.
//
// All durations are monotonic readings from the driver's origin
// (proto.Instant.Mono).
type Hold struct {
	p      Params
	lk     proto.Lock
	now    func() proto.Instant
	onLost func(reason error)

	mu       sync.Mutex
	deadline time.Duration
	lost     error
	lastErr  error
	finished bool
}

// NewHold returns the Hold of a grant. now reads the driver's clocks;
// onLost, if not nil, is called once, with the reason, when the lease is
// lost (it runs with the Hold's mutex held: it must not block or call the
// Hold). The deadline counts from the start of the attempt that took the
// lock: the lock was touched after it.
func NewHold(p Params, g *Grant, now func() proto.Instant, onLost func(reason error)) *Hold {
	return &Hold{p: p, lk: g.Lock, now: now, onLost: onLost, deadline: g.Start.Mono + p.RenewDeadline}
}

// Lock is the lock the lease holds.
func (h *Hold) Lock() proto.Lock { return h.lk }

// Deadline is the monotonic time at which the lease is lost unless a
// counted refresh moves it.
func (h *Hold) Deadline() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.deadline
}

// Lost returns the reason the lease was lost, or nil.
func (h *Hold) Lost() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lost
}

// loseLocked marks the lease lost for reason unless it is lost already,
// and reports whether this call lost it. h.mu must be held.
func (h *Hold) loseLocked(reason error) bool {
	if h.lost != nil {
		return false
	}
	h.lost = reason
	if h.onLost != nil {
		h.onLost(reason)
	}
	return true
}

// checkLocked loses the lease if now is at or past the deadline. h.mu must
// be held. It reports whether this call lost it.
func (h *Hold) checkLocked(now time.Duration) bool {
	if h.lost != nil || !pastDeadline(h.deadline, now) || h.p.on(mNoDeadline) {
		return false
	}
	reason := fmt.Errorf("no successful refresh within the renew deadline of %v", h.p.RenewDeadline)
	if h.lastErr != nil {
		reason = fmt.Errorf("%w; last refresh error: %w", reason, h.lastErr)
	}
	return h.loseLocked(reason)
}

// pastDeadline is the deadline rule: a lease whose deadline is deadline
// (a monotonic time) is over at now.
func pastDeadline(deadline, now time.Duration) bool { return now >= deadline }

// Within is the check that a Release of a lock taken by an attempt that
// began at start makes before each call that removes or moves the lock
// when no Hold keeps its deadline (a lock given back at once): whether a
// lease granted for it would still be within its deadline.
func (p Params) Within(start proto.Instant, now func() proto.Instant) func() bool {
	return func() bool { return !pastDeadline(start.Mono+p.RenewDeadline, now().Mono) }
}

// CheckDeadline is what a driver's deadline timer calls: it loses the
// lease if its deadline has passed, and returns how long from now to call
// it again (0: never, the lease is lost or finished).
func (h *Hold) CheckDeadline() (again time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil || h.finished {
		return 0
	}
	now := h.now().Mono
	h.checkLocked(now)
	if h.lost != nil {
		return 0
	}
	if d := h.deadline - now; d > 0 {
		return d
	}
	return h.p.Refresh // only a deliberately broken shell gets here
}

// Refreshed is what one refresh did.
type Refreshed struct {
	Next    time.Duration // when to refresh next, from now
	Took    time.Duration // how long the refresh took
	Counted bool          // it moved the deadline a full renew deadline past its start
	Err     error         // the refresh's error
	Lost    error         // the reason, if this refresh (or a deadline it found passed) lost the lease
}

// Refresh refreshes the lock once and records the result. A refresh
// counts, moving the deadline to its start plus the renew deadline, only
// if it succeeded, started before the deadline, and took no longer than the
// refresh interval: a slower one may have landed after a waiter's last
// look (docs/protocol.md §3). Proof of loss (algorithm.ErrNotHeld) loses
// the lease at once. Any other error is retried four times as often, until
// the deadline decides. Nothing revives a lost lease.
func (h *Hold) Refresh() Refreshed {
	s := h.now()
	err := h.lk.Refresh(s)
	e := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	r := Refreshed{Took: e.Mono - s.Mono, Err: err}
	wasLost := h.lost != nil
	r.Next = h.refreshedLocked(s.Mono, e.Mono, err)
	r.Counted = err == nil && h.lost == nil && h.deadline >= s.Mono+h.p.RenewDeadline
	if !wasLost && h.lost != nil {
		r.Lost = h.lost
	}
	return r
}

// refreshedLocked records a refresh that started at s and returned at e
// with err, and returns how long to wait before the next one.
func (h *Hold) refreshedLocked(s, e time.Duration, err error) time.Duration {
	retry := max(h.p.Refresh/4, time.Millisecond)
	if h.lost != nil {
		if h.p.on(mLateRefreshRevives) && err == nil {
			h.lost = nil
			h.deadline = s + h.p.RenewDeadline
		}
		return h.p.Refresh
	}
	switch {
	case err == nil && h.p.on(mDeadlineFromEnd) && s < h.deadline:
		// However long it took, and from its end.
		h.deadline = max(h.deadline, e+h.p.RenewDeadline)
		h.lastErr = nil
		return h.p.Refresh
	case err == nil && e-s <= h.p.Refresh && s < h.deadline:
		h.deadline = max(h.deadline, s+h.p.RenewDeadline)
		h.lastErr = nil
		return h.p.Refresh
	case err == nil:
		h.lastErr = fmt.Errorf("refresh took %v, longer than the refresh interval %v", e-s, h.p.Refresh)
		return retry
	case errors.Is(err, algorithm.ErrNotHeld):
		h.loseLocked(err)
		return h.p.Refresh
	default:
		h.lastErr = err
		return retry
	}
}

// Finished is how a lease ended.
type Finished struct {
	// Lost is the reason the lease was lost, before or during Finish
	// (nil if it was valid to the end).
	Lost error
	// NewlyLost reports that the loss was found during Finish (its last
	// refresh, or the deadline check after it).
	NewlyLost bool
	// Final is Finish's last refresh, if it made one.
	Final *Refreshed
	// Released reports that the lock was released by Lock.Release.
	Released bool
	// Err is the error of the release or of the clean-up of our files.
	// It wraps algorithm.ErrNotHeld if Release found the lock no longer
	// ours.
	Err error
}

// Finish ends the lease. The driver must have stopped the holder first
// (cancelled its held context), so that the holder stops before anyone
// else can take the lock; and no Refresh may run concurrently or after.
//
// A last refresh pushes the moment anyone may judge the lock stale a full
// lifetime away, shrinking the window in which a slow removal could land
// after a break. It is skipped when the last counted refresh, or the
// attempt that took the lock, began less than FreshFor ago: it would move
// that moment by less than that. If the lease is still valid then, the lock is released
// (checked to be ours and removed, with our other files); otherwise only
// our own files go, since a breaker may already be at work. A release
// whose read-back returns late stops there too: Release checks the
// deadline again before each call that removes or moves the lock (valid).
func (h *Hold) Finish() Finished {
	var f Finished
	if h.Lost() == nil && !h.fresh() {
		r := h.Refresh()
		f.Final = &r
		f.NewlyLost = r.Lost != nil
	}
	h.mu.Lock()
	h.finished = true
	if h.checkLocked(h.now().Mono) {
		f.NewlyLost = true
	}
	f.Lost = h.lost
	h.mu.Unlock()
	if f.Lost != nil {
		// Never remove a lock we may no longer own: someone may have
		// judged it stale. Only our own files go.
		f.Err = h.lk.Close(proto.Instant{})
		return f
	}
	f.Err = h.lk.Release(h.valid)
	f.Released = f.Err == nil
	h.mu.Lock()
	if f.Lost == nil && h.lost != nil {
		// The deadline passed while releasing (valid lost the lease):
		// the lock was left to go stale.
		f.Lost, f.NewlyLost = h.lost, true
	}
	h.mu.Unlock()
	return f
}

// fresh reports whether the last counted refresh (or the attempt that
// took the lock) began less than FreshFor ago.
func (h *Hold) fresh() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now().Mono-(h.deadline-h.p.RenewDeadline) < h.p.FreshFor()
}

// valid is what Release calls before each call that removes or moves the
// lock: it loses the lease if its deadline has passed, and reports
// whether it is still held.
func (h *Hold) valid() bool {
	if h.p.on(mReleasePastDeadline) {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checkLocked(h.now().Mono)
	return h.lost == nil
}
