package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/clock"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/keeper"
	"github.com/nfslease/nfslease/internal/proto"
)

// Acquire blocks until it holds the lock at path, ctx is done, or a
// non-retryable error occurs (the directory is missing or not writable, the
// path is a directory or holds a file that is not a lock, an invalid
// option). Transient filesystem errors (EIO, ESTALE, ...) are retried.
//
// While the lock is held by someone else, Acquire tries again after a
// jittered exponential backoff: the first wait is 10 ms, each wait doubles
// up to the poll interval (WithPollInterval; default min(1 s, lifetime/10)),
// and each is randomised by ±50%. A change of holder resets the backoff, and
// a wait never runs past the moment the holder could be judged stale. A
// stale holder's lock is broken (see docs/protocol.md) and taken.
//
// On success it returns held, a context derived from ctx that stays valid
// while the lease does and carries the lease's fencing token (TokenOf),
// minted after the lock was taken and verified still ours, and release.
// An acquisition that took longer than the renew deadline (a call hung in
// a partition) is never returned: its lock is left to go stale (others may
// be breaking it already) and Acquire waits and tries again. held is cancelled:
//   - with a cause wrapping ErrLost (a *LostError) when the lock is found
//     to be no longer ours, at the next refresh at the latest, or when no
//     refresh has succeeded by the renew deadline, which falls before
//     anyone else may judge the lock stale;
//   - with ctx's cause when ctx is done, after which the lock is released
//     promptly in the background;
//   - with ErrReleased when release is called.
//
// release stops and joins the background refresher, then removes the lock
// if it is still ours and its deadline has not passed, and our claim file
// (Flufl; Strict has none). It is idempotent and safe to call
// from any goroutine; every call returns the first call's result: nil, or
// an error wrapping ErrLost if the lease had been lost before release (the
// caller's work was not protected throughout). Always call release, even
// after ctx is done or the lease is lost: it frees resources.
//
// On failure Acquire returns an error naming the path, and leaves nothing
// of its own behind, with one exception: a lock acquired past the renew
// deadline (above), left to go stale, stays until a waiter breaks it after
// lifetime plus a stale margin of one second. If ctx is done the error wraps
// ctx.Err().
func Acquire(ctx context.Context, path string, opts ...Option) (held context.Context, release func() error, err error) {
	return acquire(ctx, path, opts, false)
}

// TryAcquire is like Acquire but makes a single attempt. If another live
// holder has the lock it returns an error wrapping ErrHeld (a *HeldError
// describing the holder). It breaks a lock only if it is provably stale at
// once, since a single look cannot watch a lock unchanged for its
// lifetime: with algorithm.Flufl, by its recorded expiry and the skew
// allowance; with algorithm.Strict, never. If its attempt took longer than
// the renew deadline, it returns an error and leaves the lock to go stale,
// as Acquire does before it tries again.
func TryAcquire(ctx context.Context, path string, opts ...Option) (held context.Context, release func() error, err error) {
	return acquire(ctx, path, opts, true)
}

func acquire(ctx context.Context, path string, opts []Option, once bool) (context.Context, func() error, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, err)
	}
	lk, err := cfg.protocol.New(cfg.fs, path, cfg.algorithm())
	if err != nil {
		return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, err)
	}
	if err := selfTest(cfg, filepath.Dir(lk.Path())); err != nil {
		return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, err)
	}
	clk := cfg.clock
	log := cfg.logger.With("lock", lk.Path())
	bo := &backoff.ExponentialBackOff{
		InitialInterval:     min(pollMin, cfg.pollMax),
		RandomizationFactor: 0.5,
		Multiplier:          2,
		// Randomisation stretches a wait by up to 1.5x: keep the
		// longest wait at the poll interval.
		MaxInterval:    max(cfg.pollMax*2/3, min(pollMin, cfg.pollMax)),
		MaxElapsedTime: 0, // Acquire gives up only when ctx does
		Stop:           backoff.Stop,
		Clock:          backoffClock{clk},
	}
	bo.Reset()

	var (
		lastHolder string
		lastSeen   *Holder // the last holder seen, for EventBrokeStale
		lastErr    error
		attErr     error // the last attempt's error
		tries      int
		start      = clk.Now()
	)
	for {
		now := instant(clk)
		att, err := lk.Acquire(now)
		attErr = err
		switch {
		case err == nil && att.Broke:
			log.Warn("broke a stale lock")
			stale := holderOf(att.Holder)
			if stale == nil {
				stale = lastSeen // Flufl reports the holder in the attempt before
			}
			cfg.emit(Event{Kind: EventBrokeStale, Path: lk.Path(), Holder: stale})
			continue // take it at once, with a fresh attempt
		case err == nil && att.Acquired:
			tok, merr := mint(lk, clk)
			switch {
			case errors.Is(merr, algorithm.ErrNotHeld) && !once:
				// Lost before it was ours to use: the token was never
				// handed out. Acquire again.
				log.Warn("lock lost while minting its fencing token, acquiring again", "err", merr)
				attErr = merr
				continue
			case errors.Is(merr, algorithm.ErrNotHeld):
				_ = lk.Close(proto.Instant{})
				return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, merr)
			case merr != nil:
				// No usable token: give the lock back cleanly.
				_ = lk.Release()
				_ = lk.Close(proto.Instant{})
				return nil, nil, fmt.Errorf("lease: acquire %s: minting a fencing token: %w", path, merr)
			}
			if late := instant(clk).Mono - now.Mono; late >= cfg.renewDeadline {
				// The attempt and the mint took longer than the renew
				// deadline (a call hung in a partition): the lease would
				// be over before it is handed out. Others may be breaking
				// the lock as stale right now, so it is not released (a
				// release by name would race them): it is left to go
				// stale, our claim file is removed, and we acquire again
				// like any waiter.
				log.Warn("acquired after the renew deadline, leaving the lock to go stale and acquiring again", "took", late)
				_ = lk.Close(proto.Instant{}) // a zero instant never removes the lock
				attErr = fmt.Errorf("lease: acquire %s: acquired %v after the attempt began, past the renew deadline %v; the lock is left to go stale", path, late, cfg.renewDeadline)
				if once {
					return nil, nil, attErr
				}
				if lk, err = cfg.protocol.New(cfg.fs, path, cfg.algorithm()); err != nil {
					return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, err)
				}
				continue
			}
			log.Debug("acquired", "waited", clk.Now().Sub(start), "token", tok)
			if err := ctx.Err(); err != nil {
				// ctx ended during the successful attempt: give the lock
				// back rather than return a lease that is already over.
				_, release := startLease(ctx, cfg, lk, now, tok, log)
				_ = release()
				return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, err)
			}
			held, release := startLease(ctx, cfg, lk, now, tok, log)
			cfg.emit(Event{Kind: EventAcquired, Path: lk.Path(), Duration: clk.Now().Sub(start), Token: tok})
			return held, release, nil
		case err != nil && (once || !proto.Transient(err)):
			_ = lk.Close(instant(clk))
			return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, err)
		case err != nil:
			if lastErr == nil || lastErr.Error() != err.Error() {
				log.Warn("acquire failed, retrying", "err", err)
			}
			lastErr = err
		case once && att.Holder == nil && tries < 3:
			// Freed meanwhile, or our claim vanished: not "held".
			tries++
			continue
		case once:
			_ = lk.Close(instant(clk))
			he := &HeldError{Path: lk.Path()}
			if att.Holder != nil {
				he.Holder = *holderOf(att.Holder)
			}
			return nil, nil, he
		}
		if att.Holder != nil {
			lastSeen = holderOf(att.Holder)
		}
		if att.Holder != nil && att.Holder.Claim != lastHolder {
			// A new holder: a release may follow soon, so poll fast
			// again.
			lastHolder = att.Holder.Claim
			bo.Reset()
			if cfg.onHolder != nil {
				cfg.onHolder(*holderOf(att.Holder))
			}
		}
		wait := bo.NextBackOff()
		if att.StaleIn > 0 && att.StaleIn < wait {
			wait = att.StaleIn
		}
		if err := sleep(ctx, clk, wait); err != nil {
			_ = lk.Close(instant(clk))
			if attErr != nil {
				// Say why it never succeeded: a persistent EIO or ESTALE
				// is worth knowing about.
				return nil, nil, fmt.Errorf("lease: acquire %s: %w (last attempt: %w)", path, err, attErr)
			}
			return nil, nil, fmt.Errorf("lease: acquire %s: %w", path, err)
		}
	}
}

// mintTries bounds the mints of a token after a transient error.
const mintTries = 4

// mint mints the fencing token of a lock just acquired, trying again a few
// times after a transient error. An error wrapping algorithm.ErrNotHeld
// means the lock was lost.
func mint(lk proto.Lock, clk clock.Clock) (uint64, error) {
	var err error
	for range mintTries {
		var tok uint64
		tok, err = lk.Mint(instant(clk))
		if err == nil || !proto.Transient(err) {
			return tok, err
		}
	}
	return 0, err
}

// tokenKey is the context key of a held lease's fencing token.
type tokenKey struct{}

// TokenOf returns the fencing token of the lease whose held context is
// held (as Acquire, TryAcquire or Lead return it), or of the innermost
// such lease held derives from. It reports false for a context that
// derives from no held lease.
//
// Tokens of one lock path are unique and increase with every
// acquisition, by any process using this package on that path: a
// resource that remembers the largest token it has seen and refuses
// smaller ones is protected from a holder that lost its lease without
// knowing (a process paused past its deadline). The token stays valid
// only as long as held: check held.Err() too. See docs/fencing.md.
func TokenOf(held context.Context) (uint64, bool) {
	tok, ok := held.Value(tokenKey{}).(uint64)
	return tok, ok
}

// hints is what this process remembers across its leases to save
// filesystem calls (see internal/proto.Hints). Every hint is checked or
// harmless when wrong, so leases on different filesystems that share a
// path may share one: it costs them a failed rename or a later sweep,
// never a wrong token or a leftover kept for good.
var hints proto.Hints

// selfTested holds the (filesystem, directory, protocol) triples whose
// self-test passed in this process.
var selfTested sync.Map

type selfTestKey struct {
	fs       fsops.FS
	dir      string
	protocol algorithm.Protocol
}

// selfTest runs the protocol's self-test on dir once per process, if the
// protocol has one. Only a pass is remembered: a failure may be transient.
func selfTest(cfg *config, dir string) error {
	st, ok := cfg.protocol.(proto.SelfTester)
	if !ok {
		return nil
	}
	key := selfTestKey{cfg.fs, dir, cfg.protocol}
	// A filesystem value that cannot be a map key is tested every time.
	cacheable := reflect.TypeOf(cfg.fs).Comparable() && reflect.TypeOf(cfg.protocol).Comparable()
	if cacheable {
		if _, ok := selfTested.Load(key); ok {
			return nil
		}
	}
	if err := st.SelfTest(cfg.fs, dir, cfg.algorithm()); err != nil {
		return err
	}
	if cacheable {
		selfTested.Store(key, true)
	}
	return nil
}

// sleep waits for d or until ctx is done, and returns ctx.Err() then.
func sleep(ctx context.Context, clk clock.Clock, d time.Duration) error {
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C():
		return nil
	}
}

// backoffClock adapts a clock.Clock to backoff.Clock.
type backoffClock struct{ clock.Clock }

// instant reads clk for the protocol steps: its wall time, and its
// monotonic time, which wall-clock steps do not move.
func instant(clk clock.Clock) proto.Instant {
	return proto.Instant{Wall: clk.Now(), Mono: clk.Mono()}
}

// lease is one held lease: the background refresher and the state it
// shares with the deadline timer and release.
type lease struct {
	token  uint64 // fencing token
	cfg    *config
	lk     proto.Lock // owned by the refresher goroutine until done is closed
	log    *slog.Logger
	parent context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{} // closed by release
	done   chan struct{} // closed when the refresher has returned

	// mu guards the fields below. Nothing that can block (filesystem
	// calls, logging) runs while it is held, so the deadline timer always
	// gets it promptly.
	mu       sync.Mutex
	k        *keeper.Keeper // the deadline, and why the lease was lost
	lost     *LostError     // set once, never cleared
	finished bool           // finish has run: the deadline timer does nothing more
	timer    clock.Timer    // the deadline timer; its callback takes mu

	finishOnce sync.Once
	result     error     // set by finish
	start      time.Time // when the lock was acquired, for EventReleased
}

// startLease starts the refresher of a lock acquired by an attempt that
// started at s.
func startLease(ctx context.Context, cfg *config, lk proto.Lock, s proto.Instant, token uint64, log *slog.Logger) (context.Context, func() error) {
	held, cancel := context.WithCancelCause(ctx)
	held = context.WithValue(held, tokenKey{}, token)
	l := &lease{
		token:  token,
		cfg:    cfg,
		lk:     lk,
		log:    log,
		parent: ctx,
		cancel: cancel,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		k:      keeper.New(s.Mono, cfg.renewDeadline, cfg.refresh),
		start:  cfg.clock.Now(),
	}
	l.mu.Lock()
	l.timer = cfg.clock.AfterFunc(l.k.Deadline()-l.mono(), l.checkDeadline)
	l.mu.Unlock()
	go l.run()
	return held, sync.OnceValue(l.release)
}

// emit emits an event of this lease, with its token.
func (l *lease) emit(e Event) {
	e.Token = l.token
	l.cfg.emit(e)
}

func (l *lease) mono() time.Duration { return instant(l.cfg.clock).Mono }

// checkDeadline runs when the deadline timer fires, in its own goroutine,
// independently of a refresh that may be blocked in the kernel. The
// deadline may have moved since the timer was set; if so, it sets the timer
// again.
func (l *lease) checkDeadline() {
	l.mu.Lock()
	if l.lost != nil || l.finished {
		l.mu.Unlock()
		return
	}
	now := l.mono()
	if l.k.Check(now) != nil {
		lost := l.loseLocked()
		l.mu.Unlock()
		l.logLost(lost)
		return
	}
	d := l.k.Deadline() - now
	if d <= 0 {
		d = l.cfg.refresh // only a deliberately broken keeper gets here
	}
	l.timer.Reset(d)
	l.mu.Unlock()
}

// loseLocked reports a loss the keeper has recorded: it cancels held with a
// *LostError, which it returns for logging once l.mu is released (nil if
// the loss had been reported before). l.mu must be held.
func (l *lease) loseLocked() *LostError {
	if l.lost != nil {
		return nil
	}
	l.lost = &LostError{Path: l.lk.Path(), At: l.cfg.clock.Now(), Err: l.k.Lost()}
	l.timer.Stop()
	l.cancel(l.lost)
	return l.lost
}

// logLost logs and emits a loss that loseLocked returned; l.mu must not
// be held.
func (l *lease) logLost(lost *LostError) {
	if lost != nil {
		l.log.Error("lease lost", "err", lost.Err)
		l.emit(Event{Kind: EventLost, Path: l.lk.Path(), At: lost.At, Err: lost})
	}
}

// run is the refresher goroutine: the only user of l.lk until it returns.
func (l *lease) run() {
	defer close(l.done)
	t := l.cfg.clock.NewTimer(l.cfg.refresh)
	defer t.Stop()
	for {
		select {
		case <-l.parent.Done():
			// Release promptly; held's cause is already the parent's.
			l.finish(context.Cause(l.parent))
			return
		case <-l.stop:
			return
		case <-t.C():
		}
		l.mu.Lock()
		lost := l.lost != nil
		l.mu.Unlock()
		if lost {
			continue // nothing more to do but wait for release or the parent
		}
		t.Reset(l.refreshOnce())
	}
}

// refreshOnce refreshes the lock and returns when to refresh next.
func (l *lease) refreshOnce() time.Duration {
	r := l.refresh()
	next, took, counted, err, lost := r.next, r.took, r.counted, r.err, r.lost
	if err != nil {
		l.emit(Event{Kind: EventRefreshFailed, Path: l.lk.Path(), Duration: took, Err: err})
	} else {
		l.emit(Event{Kind: EventRefreshed, Path: l.lk.Path(), Duration: took})
	}
	l.logLost(lost)
	switch {
	case err != nil && !errors.Is(err, algorithm.ErrNotHeld):
		l.log.Warn("refresh failed, retrying", "err", err)
	case err == nil && !counted:
		l.log.Warn("refresh did not count", "took", took)
	case err == nil:
		l.log.Debug("refreshed", "took", took)
	}
	return next
}

// refreshResult is what one refresh did.
type refreshResult struct {
	next    time.Duration // when to refresh next
	took    time.Duration // how long the refresh took
	counted bool          // it moved the deadline, or confirmed it had no need to
	err     error         // the refresh's error
	lost    *LostError    // a loss it detected, which the caller must pass to logLost
}

// refresh makes one refresh and records it with the keeper.
func (l *lease) refresh() refreshResult {
	s := instant(l.cfg.clock)
	var r refreshResult
	r.err = l.lk.Refresh(s)
	e := instant(l.cfg.clock)
	r.took = e.Mono - s.Mono
	l.mu.Lock()
	r.next = l.k.Refreshed(s.Mono, e.Mono, r.err)
	r.counted = r.err == nil && l.k.Lost() == nil && l.k.Deadline() >= s.Mono+l.cfg.renewDeadline
	if l.k.Lost() != nil {
		r.lost = l.loseLocked()
	}
	l.mu.Unlock()
	return r
}

// release is the function Acquire returns, wrapped in sync.OnceValue.
func (l *lease) release() error {
	close(l.stop)
	<-l.done
	l.finish(ErrReleased)
	return l.result
}

// finish ends the lease once. It runs in the refresher goroutine (parent
// done) or in release after the refresher has returned, so it never uses
// l.lk concurrently with it.
//
// Held is cancelled first: the holder stops before anyone else can take
// the lock. Then a last refresh pushes the moment anyone may judge the lock
// stale a full lifetime away, shrinking the window in which a slow unlink
// could land after a break. If the lease is still valid the lock is
// released (checked to be ours, unlinked, and our claim unlinked);
// otherwise only our own files go, since a breaker may already be at work.
func (l *lease) finish(cause error) {
	l.finishOnce.Do(func() {
		l.cancel(cause)
		l.mu.Lock()
		lost := l.lost
		l.mu.Unlock()
		if lost == nil {
			lost := l.refresh().lost
			l.logLost(lost)
		}
		l.mu.Lock()
		l.finished = true
		l.timer.Stop()
		var newlyLost *LostError
		if l.k.Check(l.mono()) != nil {
			newlyLost = l.loseLocked()
		}
		lost = l.lost
		l.mu.Unlock()
		l.logLost(newlyLost)
		if lost != nil {
			// Never remove a lock we may no longer own: someone may have
			// judged it stale. Only our own files go.
			_ = l.lk.Close(proto.Instant{})
			l.result = lost
			return
		}
		if err := l.lk.Release(); err != nil {
			if errors.Is(err, algorithm.ErrNotHeld) {
				l.result = &LostError{Path: l.lk.Path(), At: l.cfg.clock.Now(), Err: err}
			} else {
				l.result = fmt.Errorf("lease: release %s: %w", l.lk.Path(), err)
			}
			l.log.Warn("release", "err", l.result)
			if errors.Is(err, algorithm.ErrNotHeld) {
				l.emit(Event{Kind: EventLost, Path: l.lk.Path(), Err: l.result})
			} else {
				l.emit(Event{Kind: EventReleased, Path: l.lk.Path(), Duration: l.cfg.clock.Now().Sub(l.start), Err: l.result})
			}
			return
		}
		l.log.Debug("released")
		l.emit(Event{Kind: EventReleased, Path: l.lk.Path(), Duration: l.cfg.clock.Now().Sub(l.start)})
	})
}
