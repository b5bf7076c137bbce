package shell

import (
	"errors"
	"fmt"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/proto"
)

// Hooks observe an acquisition's decisions, for logs, events and the
// simulator's oracle. Each is called synchronously by Step; nil ones are
// skipped.
type Hooks struct {
	// Attempted is called after every protocol attempt, before anything
	// else is done with its result.
	Attempted func(att proto.Attempt, err error)
	// Broke is called after an attempt broke a stale lock; holder is the
	// stale holder, as far as it was seen (nil if never).
	Broke func(holder *proto.Holder)
	// NewHolder is called each time the attempts see another holder.
	NewHolder func(holder proto.Holder)
	// Retrying is called when an attempt fails with a transient error
	// other than the previous attempt's.
	Retrying func(err error)
	// LostMinting is called when the lock was found no longer ours while
	// its fencing token was minted; the acquisition starts again.
	LostMinting func(err error)
	// Late is called when a lock was taken, but the attempt began longer
	// than the renew deadline ago (a call hung in a partition): it is
	// left to go stale, and the acquisition starts again.
	Late func(took time.Duration)
}

// Outcome is what Step tells the driver to do.
type Outcome int

const (
	// Wait: sleep Step.Wait (which may be 0), then call Step again, or
	// Abandon if the driver gives up.
	Wait Outcome = iota + 1
	// Acquired: the lock is held; Step.Grant says how.
	Acquired
	// Held (single-attempt acquisitions only): another holder has the
	// lock; Step.Holder says who, as far as it could be read.
	Held
	// Failed: the acquisition cannot succeed; Step.Err says why. Nothing
	// of ours is left behind (except a lock left to go stale, see Late).
	Failed
)

// Step is the outcome of one step of an acquisition.
type Step struct {
	Outcome Outcome
	Wait    time.Duration // for Wait
	Grant   *Grant        // for Acquired
	Holder  *proto.Holder // for Held; for Wait, the holder waited for
	Err     error         // for Failed
}

// Grant is a lock taken and handed out.
type Grant struct {
	Lock  proto.Lock
	Start proto.Instant // when the attempt that took it began
	Token uint64        // its fencing token
}

// Acquisition is one acquisition of a lock, step by step. It is not safe
// for concurrent use.
type Acquisition struct {
	p       Params
	once    bool
	newLock func() (proto.Lock, error)
	now     func() proto.Instant
	rand    func() float64
	hooks   Hooks

	lk         proto.Lock
	backoff    time.Duration // the current wait, before jitter
	lastHolder string        // claim of the last holder seen
	lastSeen   *proto.Holder
	lastErr    error // the last transient error reported by Retrying
	attErr     error // the last attempt's error (or why it did not count)
	tries      int   // single attempt: attempts that found no holder

	// While the last holder seen is a live process of this machine,
	// steps until due (monotonic) only probe it: see Step.
	probing bool
	due     time.Duration
	woken   bool // Wake was called: attempt at the next step
}

// MintTries bounds the mints of a token after a transient error.
const mintTries = 4

// NewAcquisition starts an acquisition of the lock that newLock makes
// (called once now, and again after a lock left to go stale). once makes
// a single attempt (TryAcquire). now reads the driver's clocks and rand
// returns a uniform value in [0, 1) for the jitter of waits.
func NewAcquisition(p Params, once bool, newLock func() (proto.Lock, error), now func() proto.Instant, rand func() float64, hooks Hooks) (*Acquisition, error) {
	lk, err := newLock()
	if err != nil {
		return nil, err
	}
	return &Acquisition{p: p, once: once, newLock: newLock, now: now, rand: rand, hooks: hooks, lk: lk, backoff: p.PollMin}, nil
}

// Lock is the lock being acquired.
func (a *Acquisition) Lock() proto.Lock { return a.lk }

// Once reports whether the acquisition makes a single attempt.
func (a *Acquisition) Once() bool { return a.once }

// LastHolder is the last holder the attempts saw, or nil.
func (a *Acquisition) LastHolder() *proto.Holder { return a.lastSeen }

// LastErr is the error of the last attempt, if it failed (or why a lock it
// took was not handed out), for the driver's error when it gives up.
func (a *Acquisition) LastErr() error { return a.attErr }

// Abandon gives the acquisition up (the driver's context is done): our
// files go, and a lock taken by an attempt whose success reply was lost is
// removed if it was touched recently enough (see proto.Lock.Close).
func (a *Acquisition) Abandon() error { return a.lk.Close(a.now()) }

// Wake tells the acquisition that the driver's wait was cut short by a
// sign that the lock may be free (a release by this process, the lock's
// name leaving its directory): the next Step attempts, even where it
// would only have probed the holder's process.
func (a *Acquisition) Wake() { a.woken = true }

// Step makes one attempt and decides what follows.
//
// A holder that is a live process of this machine can be proven dead the
// moment it exits, and its lock then broken at once. Probing its process
// costs the filesystem nothing, so while the backoff runs, Step probes it
// every proto.LocalPoll instead of attempting: it attempts when the
// backoff's wait is over, when the probe finds the process gone, or after
// Wake. A waiter of a local holder thus takes a dead holder's lock within
// about LocalPoll and costs the filesystem no more than any other waiter.
func (a *Acquisition) Step() Step {
	now := a.now()
	if a.probing && !a.woken && now.Mono < a.due && !a.lk.HolderGone() {
		return Step{Outcome: Wait, Wait: min(proto.LocalPoll, a.due-now.Mono), Holder: a.lastSeen}
	}
	a.probing, a.woken = false, false
	att, err := a.lk.Acquire(now)
	a.attErr = err
	if a.hooks.Attempted != nil {
		a.hooks.Attempted(att, err)
	}
	switch {
	case err == nil && att.Broke:
		stale := att.Holder
		if stale == nil {
			stale = a.lastSeen // Flufl reports the holder in the attempt before
		}
		if a.hooks.Broke != nil {
			a.hooks.Broke(stale)
		}
		return Step{Outcome: Wait} // take it at once, with a fresh attempt
	case err == nil && att.Acquired:
		return a.grant(now)
	case err != nil && (a.once || !proto.Transient(err)):
		_ = a.lk.Close(a.now())
		return Step{Outcome: Failed, Err: err}
	case err != nil:
		if a.lastErr == nil || a.lastErr.Error() != err.Error() {
			if a.hooks.Retrying != nil {
				a.hooks.Retrying(err)
			}
		}
		a.lastErr = err
	case a.once && att.Holder == nil && a.tries < 3:
		// Freed meanwhile, or our claim vanished: not "held".
		a.tries++
		return Step{Outcome: Wait}
	case a.once:
		_ = a.lk.Close(a.now())
		return Step{Outcome: Held, Holder: att.Holder}
	}
	if att.Holder != nil {
		a.lastSeen = att.Holder
		if att.Holder.Claim != a.lastHolder {
			// A new holder: a release may follow soon, so poll fast
			// again.
			a.lastHolder = att.Holder.Claim
			a.backoff = a.p.PollMin
			if a.hooks.NewHolder != nil {
				a.hooks.NewHolder(*att.Holder)
			}
		}
	}
	w := a.wait(att.StaleIn)
	if h := att.Holder; err == nil && h != nil && h.ThisMachine && !h.Dead && w > proto.LocalPoll {
		a.probing, a.due = true, now.Mono+w
		w = proto.LocalPoll
	}
	return Step{Outcome: Wait, Wait: w, Holder: a.lastSeen}
}

// wait is the next wait of the backoff: the current wait randomised by
// ±50%, which then doubles up to two thirds of the poll interval (so that
// no randomised wait exceeds it), never past the moment the holder could
// be judged stale (staleIn, if positive).
func (a *Acquisition) wait(staleIn time.Duration) time.Duration {
	b := a.backoff
	w := b/2 + time.Duration(a.rand()*float64(b))
	a.backoff = max(min(2*b, a.p.PollMax*2/3), a.p.PollMin)
	if staleIn > 0 && staleIn < w {
		w = staleIn
	}
	return w
}

// grant mints the fencing token of a lock just taken by an attempt that
// began at start and hands it out, unless the lease would be over before
// it is handed out.
func (a *Acquisition) grant(start proto.Instant) Step {
	tok, err := a.mint()
	switch {
	case errors.Is(err, algorithm.ErrNotHeld) && !a.once:
		// Lost before it was ours to use: the token was never handed
		// out. Acquire again.
		a.attErr = err
		if a.hooks.LostMinting != nil {
			a.hooks.LostMinting(err)
		}
		return Step{Outcome: Wait}
	case errors.Is(err, algorithm.ErrNotHeld):
		_ = a.lk.Close(proto.Instant{})
		return Step{Outcome: Failed, Err: err}
	case err != nil:
		// No usable token: give the lock back cleanly, while the lease
		// it would have been is valid.
		_ = a.lk.Release(a.p.Within(start, a.now))
		_ = a.lk.Close(proto.Instant{})
		err = fmt.Errorf("minting a fencing token: %w", err)
		if a.once || !proto.Transient(err) {
			return Step{Outcome: Failed, Err: err}
		}
		// Transient errors through every try (EIO, ESTALE): the
		// filesystem fails now, not for good. Acquire again like any
		// waiter, after a wait.
		a.attErr = err
		lk, nerr := a.newLock()
		if nerr != nil {
			return Step{Outcome: Failed, Err: nerr}
		}
		a.lk = lk
		return Step{Outcome: Wait, Wait: a.wait(0)}
	}
	if now := a.now().Mono; pastDeadline(start.Mono+a.p.RenewDeadline, now) && !a.p.on(mLateGrant) {
		late := now - start.Mono
		// The attempt and the mint took longer than the renew deadline
		// (a call hung in a partition): the lease would be over before
		// it is handed out. Others may be breaking the lock as stale
		// right now, so it is not released (a release by name would race
		// them): it is left to go stale, our other files are removed,
		// and we acquire again like any waiter.
		_ = a.lk.Close(proto.Instant{}) // a zero instant never removes the lock
		a.attErr = fmt.Errorf("acquired %v after the attempt began, past the renew deadline %v; the lock is left to go stale", late, a.p.RenewDeadline)
		if a.hooks.Late != nil {
			a.hooks.Late(late)
		}
		if a.once {
			return Step{Outcome: Failed, Err: a.attErr}
		}
		lk, err := a.newLock()
		if err != nil {
			return Step{Outcome: Failed, Err: err}
		}
		a.lk = lk
		return Step{Outcome: Wait}
	}
	if a.p.on(mLateGrant) {
		start = a.now() // the deadline counts from the grant, not from the attempt
	}
	return Step{Outcome: Acquired, Grant: &Grant{Lock: a.lk, Start: start, Token: tok}}
}

// mint mints the fencing token of a lock just taken, trying again a few
// times after a transient error. An error wrapping algorithm.ErrNotHeld
// means the lock was lost.
func (a *Acquisition) mint() (uint64, error) {
	var err error
	for range mintTries {
		var tok uint64
		tok, err = a.lk.Mint(a.now())
		if err == nil || !proto.Transient(err) {
			return tok, err
		}
	}
	return 0, err
}
