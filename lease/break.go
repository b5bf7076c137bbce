package lease

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/internal/shell"
)

// maxForceSteps bounds the protocol steps of a forced break: a round takes
// three (first sight, start of the watch, the break), and a round restarts
// only when the lock changes between two steps a few milliseconds apart.
const maxForceSteps = 64

// Break removes the lock at path if it is provably stale, or, with force,
// whoever holds it, and reports what it found there. It is the operator's
// tool (nfslease break); programs that want a lock use Acquire, which
// breaks stale locks itself.
//
// Break reads the lock first, as Inspect does (either protocol, Python
// flufl.lock included; WithProtocol is not needed), and changes nothing if
// it is unlocked or not a lock (an error wrapping algorithm.ErrNotLock).
// Then it breaks the lock through the protocol's own break, which removes
// exactly the version it judged and never a newer holder's lock: Flufl
// moves the lock aside under its break lock, compares it and puts back
// what changed; Strict removes the owner record through a handle bound to
// the generation judged, then the directory only if empty.
//
// Without force, Break proves the lock stale the way a waiting Acquire
// does, on this process's monotonic clock: it watches the lock and breaks
// it once it has stayed unchanged for its recorded lifetime plus
// algorithm.StaleMargin (looking at it every tenth of that lifetime, or
// every poll interval if that is shorter), or at once if it is a Flufl lock whose recorded
// expiry is older than the skew allowance (WithSkewAllowance; the only
// proof for a lock made by Python flufl.lock, which records no lifetime).
// So a dead holder's lock is broken within about lifetime + 1 s. If the
// lock changes while watched (its holder refreshed it, or it changed
// hands), the holder is alive: Break returns an error wrapping ErrHeld (a
// *HeldError describing the holder) and has changed nothing.
//
// With force, Break does not wait: it drives the protocol's break as if
// the lock had been watched unchanged for as long as the protocol needs
// (its steps take the time as an input, and Break hands them a clock
// advanced to the moment the holder could be judged stale). The identity
// checks still decide what is removed. A live holder finds its lock gone
// at its next refresh (within its refresh interval) and its held context
// is cancelled with ErrLost then; until that moment two processes may
// each believe they hold the lock, so force is for a holder known to be
// gone or stuck, and fencing tokens (TokenOf) are what protect a resource
// from it.
//
// Break waits while watching (without force) until ctx is done, then
// returns an error wrapping ctx.Err() and has changed nothing. It never
// acquires the lock for use: if the lock is freed meanwhile and its
// attempt takes it, it gives it back at once, mints no fencing token, and
// reports Unlocked.
//
// On success the Info describes the lock as it was before the break:
// State Unlocked means there was nothing to break; otherwise the holder
// named was broken (Held or Stale, as one look saw it first). Errors name
// the path. Of the options, WithFS, WithClock, WithSkewAllowance,
// WithPollInterval (the longest wait between two looks), WithLogger and
// WithEventHook (EventBrokeStale) apply; WithLifetime and WithFileMode
// apply to the claim Break makes while it works, which it removes.
func Break(ctx context.Context, path string, force bool, opts ...Option) (Info, error) {
	abs := absPath(path)
	cfg, err := newConfig(opts)
	if err != nil {
		return Info{}, wrapPath(path, abs, err)
	}
	if err := ctx.Err(); err != nil {
		return Info{}, wrapPath(path, abs, err)
	}
	info, err := Inspect(path, opts...)
	if err != nil {
		return Info{}, err // names the path, in the same form
	}
	if info.State == Unlocked {
		return info, nil
	}
	cfg.protocol = algorithm.Flufl
	if info.Protocol == algorithm.Strict.Name() {
		cfg.protocol = algorithm.Strict
	}
	acfg := cfg.algorithm(filepath.Dir(path))
	if force {
		// The forced steps see a clock running ahead: keep them away
		// from this process's shared hints (sweep times, tokens).
		acfg.Hints = nil
	}
	lk, err := cfg.protocol.New(cfg.fs, path, acfg)
	if err != nil {
		return info, failed(cfg, path, abs, err)
	}
	if err := selfTest(cfg, filepath.Dir(lk.Path())); err != nil {
		return info, failed(cfg, path, abs, err)
	}
	b := &breaker{cfg: cfg, lk: lk, path: path, info: info, start: cfg.clock.Now()}
	defer func() { _ = lk.Close(b.now()) }()
	if force {
		return b.force(ctx)
	}
	return b.watch(ctx)
}

// breaker is one Break: the protocol steps and the clock they are given.
type breaker struct {
	cfg   *config
	lk    proto.Lock
	path  string
	info  Info      // the first look
	start time.Time // when Break began, for messages

	// ahead is how far the clock given to the steps runs ahead of the
	// real one: zero unless forced.
	ahead time.Duration
}

// now is the time given to the protocol steps.
func (b *breaker) now() proto.Instant {
	in := instant(b.cfg.clock)
	in.Wall = in.Wall.Add(b.ahead)
	in.Mono += b.ahead
	return in
}

// watch breaks the lock once the protocol judges it stale on the real
// clock, and refuses as soon as the lock changes.
func (b *breaker) watch(ctx context.Context) (Info, error) {
	var (
		first   *Holder // the holder as first seen by a step
		freed   int     // steps in a row that found no holder
		lastErr error
		poll    = b.cfg.timing.PollMax
	)
	for {
		start := b.now()
		att, err := b.lk.Acquire(start)
		wait := poll
		if info, err, done := b.settled(att, err, first, start); done {
			return info, err
		}
		switch {
		case err != nil:
			lastErr = err
		case att.Holder == nil:
			// Freed meanwhile (the next step takes it and gives it back),
			// or the lock was half released: look again at once.
			if freed++; freed > 3 {
				wait = shell.PollMin
			} else {
				continue
			}
		case first == nil:
			first = holderOf(att.Holder)
			if first.Lifetime > 0 {
				// Look as often as a waiter of this holder would.
				poll = min(poll, max(first.Lifetime/10, shell.PollMin))
				wait = poll
			}
		case changed(first, holderOf(att.Holder)):
			return b.info, &HeldError{Path: b.lk.Path(), Holder: *holderOf(att.Holder)}
		}
		if att.Holder != nil {
			freed = 0
		}
		if att.StaleIn > 0 {
			wait = min(wait, att.StaleIn)
		}
		if err := b.sleep(ctx, att.Holder, wait); err != nil {
			return b.info, b.gaveUp(first, err, lastErr)
		}
	}
}

// sleep waits d before the next step, cut short if h is a live process
// of this machine and a probe of it, every proto.LocalPoll, finds it gone
// (as an acquisition does: internal/shell's Step).
func (b *breaker) sleep(ctx context.Context, h *proto.Holder, d time.Duration) error {
	if h == nil || !h.ThisMachine || h.Dead {
		return sleep(ctx, b.cfg.clock, d)
	}
	for d > 0 && !b.lk.HolderGone() {
		step := min(d, proto.LocalPoll)
		if err := sleep(ctx, b.cfg.clock, step); err != nil {
			return err
		}
		d -= step
	}
	return nil
}

// settled reports whether an attempt ended the Break: it broke the lock
// (seen is the holder the step before saw), took a freed lock (given back
// at once, while a lease from start, when the step began, would still be
// valid), or failed for good.
func (b *breaker) settled(att proto.Attempt, err error, seen *Holder, start proto.Instant) (Info, error, bool) {
	switch {
	case err == nil && att.Broke:
		info, err := b.broke(holderOf(att.Holder), seen)
		return info, err, true
	case err == nil && att.Acquired:
		info, err := b.giveBack(start)
		return info, err, true
	case err != nil && !proto.Transient(err):
		return b.info, wrapPath(b.path, b.lk.Path(), err), true
	}
	return Info{}, nil, false
}

// force breaks the lock now: each time a step says the holder could be
// judged stale in StaleIn, the clock it is given moves that far ahead.
func (b *breaker) force(ctx context.Context) (Info, error) {
	var last *Holder
	var lastErr error
	for range maxForceSteps {
		if err := ctx.Err(); err != nil {
			return b.info, wrapPath(b.path, b.lk.Path(), err)
		}
		start := b.now()
		att, err := b.lk.Acquire(start)
		if info, err, done := b.settled(att, err, last, start); done {
			return info, err
		}
		switch {
		case err != nil:
			lastErr = err
		case att.Holder != nil && att.StaleIn > 0:
			// Watched, not stale yet: move the clock to the moment it
			// would be, and take the next step at once.
			last = holderOf(att.Holder)
			b.ahead += att.StaleIn + time.Millisecond
			continue
		case att.Holder != nil:
			// Judged stale but not broken: another breaker is at work,
			// or the lock changed at the last look. Let real time pass.
			last = holderOf(att.Holder)
		default:
			continue // freed meanwhile: the next step takes it or sees the new holder
		}
		if err := sleep(ctx, b.cfg.clock, shell.PollMin); err != nil {
			return b.info, wrapPath(b.path, b.lk.Path(), err)
		}
	}
	if lastErr != nil {
		return b.info, &pathError{path: b.path, text: fmt.Sprintf("gave up breaking it after %d attempts: %s", maxForceSteps, causeText(b.lk.Path(), lastErr)), err: lastErr}
	}
	return b.info, &pathError{path: b.path, text: fmt.Sprintf("gave up breaking it after %d attempts: the lock kept changing, or the protocol cannot judge it stale (a lock made by Python flufl.lock with the wall-clock rule turned off)", maxForceSteps)}
}

// broke reports a break: h is the holder the breaking step names, or
// else the one the step before saw (Flufl names none).
func (b *breaker) broke(h, before *Holder) (Info, error) {
	if h == nil {
		h = before
	}
	info := b.info
	if h != nil {
		info.Protocol, info.Host, info.Pid = h.Protocol, h.Host, h.Pid
		info.Expires, info.Lifetime = h.Expires, h.Lifetime
	}
	b.cfg.logger.Warn("broke a lock", "lock", b.lk.Path(), "holder", h)
	b.cfg.emit(Event{Kind: EventBrokeStale, Path: b.lk.Path(), Holder: h})
	return info, nil
}

// giveBack releases a lock a step took because it had been freed.
func (b *breaker) giveBack(start proto.Instant) (Info, error) {
	if err := b.lk.Release(b.cfg.timing.Within(start, b.now)); err != nil {
		return b.info, &pathError{path: b.path, text: "the lock was freed meanwhile; giving back the attempt that took it: " + causeText(b.lk.Path(), err), err: err}
	}
	return Info{Path: b.path, State: Unlocked, At: b.cfg.clock.Now(), Token: b.info.Token}, nil
}

// changed reports whether the lock is no longer the version first seen:
// another holder, or a refresh (which moves the expiry).
func changed(first, now *Holder) bool {
	return now.Claim != first.Claim || now.Protocol != first.Protocol || !now.Expires.Equal(first.Expires)
}

// gaveUp is the error of a watch that ctx ended (err) before the lock
// was proven stale: how long it watched, whom (first: the holder the
// steps saw first, else the first look's), and the last attempt's error.
func (b *breaker) gaveUp(first *Holder, err, lastErr error) error {
	now := b.cfg.clock.Now()
	h := first
	if h == nil {
		i := b.info
		h = &Holder{Protocol: i.Protocol, Host: i.Host, Pid: i.Pid, Lifetime: i.Lifetime, Expires: i.Expires, Dead: i.Dead, ThisMachine: i.ThisMachine}
	}
	text := fmt.Sprintf("gave up after %.1fs watching for the holder to go stale: %s: %v; nothing changed", now.Sub(b.start).Seconds(), describeHolder(h, now), err)
	if lastErr == nil {
		return &pathError{path: b.path, text: text, err: err}
	}
	text += " (last attempt: " + causeText(b.lk.Path(), lastErr) + ")"
	return &pathError{path: b.path, text: text, err: errors.Join(err, lastErr)}
}
