package lease

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/clock"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/internal/shell"
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
// stale holder's lock is broken (see docs/protocol.md) and taken: one that
// has gone unrefreshed for its lifetime plus 1 s (the stale margin), or at
// once one whose holder was a process of this machine that is gone (while
// such a holder lives, Acquire checks its process every 50 ms, which costs
// the filesystem nothing).
// After 5 s of waiting, and then every 30 s, it logs at Info level and
// emits EventWaiting, naming the holder. See docs/tuning.md for the
// durations.
//
// A wait is cut short when a lease of this process releases the lock, or,
// where the filesystem can tell (fsops.Watcher: Linux, by inotify, for
// changes made on this host), when the lock leaves its directory. Blocking
// Acquires of one lock in one process take turns first come, first served:
// only the first polls. See docs/lease.md, "Waiting and handoff".
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
// if it is still ours and our claim file. It is idempotent and safe to call
// from any goroutine; every call returns the first call's result: nil, or
// an error wrapping ErrLost if the lease had been lost before release (the
// caller's work was not protected throughout). Always call release, even
// after ctx is done or the lease is lost: it frees resources.
//
// On failure Acquire returns an error naming the path, and leaves nothing
// of its own behind, with one exception: a lock acquired past the renew
// deadline (above), left to go stale, stays until a waiter breaks it after
// lifetime + proto.StaleMargin. If ctx is done the error wraps
// ctx.Err() and says how long it waited and for whom: "lease:
// /x/job.lock: gave up after 2.0s: held by pid 4242 on build-7 (strict,
// expires in 9s): context deadline exceeded". A missing directory gives
// an error wrapping fs.ErrNotExist.
func Acquire(ctx context.Context, path string, opts ...Option) (held context.Context, release func() error, err error) {
	return acquire(ctx, path, opts, false)
}

// TryAcquire is like Acquire but makes a single attempt. If another live
// holder has the lock it returns an error wrapping ErrHeld (a *HeldError
// describing the holder). It breaks a lock only if it is provably stale at
// once, since a single look cannot watch a lock unchanged for its
// lifetime: with either protocol, a lock whose holder was a process of
// this machine (same boot, same pid namespace) that is gone or whose pid
// now belongs to another process (Holder.Dead); with
// algorithm.Flufl also one whose recorded expiry is older than the skew
// allowance. A crashed holder of another machine's Strict lock is ErrHeld
// until an Acquire watches it go stale. If its attempt took longer than
// the renew deadline, it returns an error and leaves the lock to go stale,
// as Acquire does before it tries again.
func TryAcquire(ctx context.Context, path string, opts ...Option) (held context.Context, release func() error, err error) {
	return acquire(ctx, path, opts, true)
}

func acquire(ctx context.Context, path string, opts []Option, once bool) (context.Context, func() error, error) {
	// The absolute path is for messages only, so it is made only for
	// one: for a relative path, filepath.Abs costs a getwd (two stats).
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, nil, wrapPath(path, absPath(path), err)
	}
	if cfg.leader.set() && !cfg.leading {
		return nil, nil, wrapPath(path, absPath(path), fmt.Errorf("%w: WithLeaderCallbacks applies to Lead only, not to Acquire or TryAcquire", ErrInvalidOption))
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, wrapPath(path, absPath(path), err)
	}
	a, log, err := newAcquisition(cfg, path, once)
	if err != nil {
		return nil, nil, failed(cfg, path, absPath(path), err)
	}
	if err := selfTest(cfg, filepath.Dir(a.Lock().Path())); err != nil {
		return nil, nil, failed(cfg, path, a.Lock().Path(), err)
	}
	return runAcquisition(ctx, cfg, a, log, path)
}

// failed is the error of an acquisition of path (abs: its absolute path)
// that failed with err. A missing directory is said to be missing, and
// nothing more: what failed in it (a self-test's scratch directory, a
// claim file) is ours, not the caller's, to know.
func failed(cfg *config, path, abs string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		dir := filepath.Dir(abs)
		fi, lerr := cfg.fs.Lstat(dir)
		var pe *fs.PathError
		switch {
		case lerr != nil && errors.As(lerr, &pe) && (errors.Is(lerr, fs.ErrNotExist) || errors.Is(lerr, syscall.ENOTDIR)):
			return &pathError{path: path, text: fmt.Sprintf("the directory %s does not exist (%v)", dir, pe.Err), err: pe.Err}
		case lerr == nil && !fi.Mode.IsDir():
			return &pathError{path: path, text: fmt.Sprintf("%s is not a directory", dir), err: syscall.ENOTDIR}
		}
	}
	return wrapPath(path, abs, err)
}

// The first EventWaiting of an acquisition comes after waitingFirst of
// waiting, and then one every waitingEvery.
const (
	waitingFirst = 5 * time.Second
	waitingEvery = 30 * time.Second
)

// newAcquisition starts the shell's acquisition of path, with hooks that
// log and emit what it decides.
func newAcquisition(cfg *config, path string, once bool) (*shell.Acquisition, *slog.Logger, error) {
	var (
		a   *shell.Acquisition
		log *slog.Logger
	)
	a, err := shell.NewAcquisition(cfg.timing, once,
		func() (proto.Lock, error) { return cfg.protocol.New(cfg.fs, path, cfg.algorithm(filepath.Dir(path))) },
		func() proto.Instant { return instant(cfg.clock) },
		rand.Float64,
		shell.Hooks{
			Broke: func(stale *proto.Holder) {
				log.Warn("broke a stale lock")
				cfg.emit(Event{Kind: EventBrokeStale, Path: a.Lock().Path(), Holder: holderOf(stale)})
			},
			NewHolder: func(h proto.Holder) {
				if cfg.onHolder != nil {
					cfg.onHolder(*holderOf(&h))
				}
			},
			Retrying: func(err error) { log.Warn("acquire failed, retrying", "err", err) },
			LostMinting: func(err error) {
				log.Warn("lock lost while minting its fencing token, acquiring again", "err", err)
			},
			Late: func(took time.Duration) {
				log.Warn("acquired after the renew deadline, leaving the lock to go stale and acquiring again", "took", took)
			},
		})
	if err != nil {
		return nil, nil, err
	}
	log = cfg.logger.With("lock", a.Lock().Path())
	return a, log, nil
}

// runAcquisition steps the acquisition until it holds the lock, fails, or
// ctx is done, sleeping as the shell says.
func runAcquisition(ctx context.Context, cfg *config, a *shell.Acquisition, log *slog.Logger, path string) (context.Context, func() error, error) {
	clk := cfg.clock
	start := clk.Now()
	report := waitingFirst                           // the time waited at which to report next
	w := joinWaiters(cfg, a.Lock().Path(), a.Once()) // wake.go: this process's queue for the lock, wake-ups
	defer w.leave()
	if err := w.waitTurn(ctx); err != nil {
		_ = a.Abandon()
		return nil, nil, &pathError{path: path, text: fmt.Sprintf("gave up after %.1fs, waiting behind this process's earlier acquisitions of the lock: %v", clk.Now().Sub(start).Seconds(), err), err: err}
	}
	for {
		st := a.Step()
		switch st.Outcome {
		case shell.Acquired:
			g := st.Grant
			w.granted()
			log.Debug("acquired", "waited", clk.Now().Sub(start), "token", g.Token)
			held, release := startLease(ctx, cfg, g, log)
			if err := ctx.Err(); err != nil {
				// ctx ended during the successful attempt: give the lock
				// back rather than return a lease that is already over.
				_ = release()
				return nil, nil, &pathError{path: path, text: err.Error(), err: err}
			}
			cfg.emit(Event{Kind: EventAcquired, Path: g.Lock.Path(), Duration: clk.Now().Sub(start), Token: g.Token})
			return held, release, nil
		case shell.Held:
			he := &HeldError{Path: a.Lock().Path(), At: clk.Now()}
			if st.Holder != nil {
				he.Holder = *holderOf(st.Holder)
			}
			return nil, nil, he
		case shell.Failed:
			return nil, nil, failed(cfg, path, a.Lock().Path(), st.Err)
		}
		if now := clk.Now(); now.Sub(start) >= report && st.Holder != nil {
			// A stuck job says why.
			waited := now.Sub(start)
			report = waited + waitingEvery
			h := holderOf(st.Holder)
			log.Info("waiting for the lock", "holder", describeHolder(h, now), "waited", roundDuration(waited))
			cfg.emit(Event{Kind: EventWaiting, Path: a.Lock().Path(), At: now, Duration: waited, Holder: h})
		}
		if st.Wait <= 0 {
			continue
		}
		woke, err := w.sleep(ctx, st)
		if woke {
			a.Wake()
		}
		if err != nil {
			_ = a.Abandon()
			now := clk.Now()
			text := fmt.Sprintf("gave up after %.1fs", now.Sub(start).Seconds())
			if h := a.LastHolder(); h != nil {
				text += ": " + describeHolder(holderOf(h), now)
			}
			text += ": " + err.Error()
			if attErr := a.LastErr(); attErr != nil {
				// Say why it never succeeded: a persistent EIO or ESTALE
				// is worth knowing about.
				text += " (last attempt: " + causeText(a.Lock().Path(), attErr) + ")"
				return nil, nil, &pathError{path: path, text: text, err: errors.Join(err, attErr)}
			}
			return nil, nil, &pathError{path: path, text: text, err: err}
		}
	}
}

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
	l, ok := held.Value(leaseKey{}).(*lease)
	if !ok {
		return 0, false
	}
	return l.token, true
}

// leaseKey is the context key of a held lease: TokenOf and ExpiryOf read
// it.
type leaseKey struct{}

// ExpiryOf returns the renew deadline of the lease whose held context is
// held (or of the innermost such lease held derives from): the time, on
// the clock of WithClock, at which held is cancelled unless a refresh
// succeeds before it. Every counted refresh moves it later, and it always
// falls before anyone else may judge the lock stale, so work bounded by it
// (a context.WithDeadline taken anew after each refresh) ends while the
// lease is valid. Once the lease has ended it returns the last deadline
// that applied. It reports false for a context that derives from no held
// lease.
//
// held.Deadline() is not this deadline: it is ctx's, unchanged, since a
// deadline that moves would mislead code that reads it once.
func ExpiryOf(held context.Context) (time.Time, bool) {
	l, ok := held.Value(leaseKey{}).(*lease)
	if !ok {
		return time.Time{}, false
	}
	// The deadline is a reading of the clock's monotonic time: as a
	// time, it is as far from now as it is from the current reading.
	now, mono := l.cfg.clock.Now(), l.cfg.clock.Mono()
	return now.Add(l.h.Deadline() - mono), true
}

// hints is what this process remembers across its leases to save
// filesystem calls (see proto.Hints). Every hint is checked or
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
	if err := st.SelfTest(cfg.fs, dir, cfg.algorithm(dir)); err != nil {
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

// instant reads clk for the protocol steps: its wall time, and its
// monotonic time, which wall-clock steps do not move.
func instant(clk clock.Clock) proto.Instant {
	return proto.Instant{Wall: clk.Now(), Mono: clk.Mono()}
}

// lease is one held lease. The decisions are the shell's (h); lease adds
// the timers, the held context, logs and events. It has no goroutine of
// its own: a refresh runs in a goroutine started when its timer fires, and
// the end of the lease runs in release or, if the parent context ends
// first, in the goroutine context.AfterFunc starts. So a process holding
// many leases pays for goroutines only while refreshes are in flight.
type lease struct {
	token      uint64 // fencing token
	cfg        *config
	h          *shell.Hold // its lock is used by one refresh at a time, then by finish
	path       string
	log        *slog.Logger
	parent     context.Context
	cancel     context.CancelCauseFunc
	lost       atomic.Pointer[LostError]
	lostLogged atomic.Bool
	start      time.Time // when the lock was acquired, for EventReleased

	deadline stoppable      // the deadline timer
	refresh  stoppable      // the refresh timer; once stopped, no refresh starts
	inflight sync.WaitGroup // the refresh in progress, if any

	stopWatch func() bool   // stops the parent context's watch
	watchDone chan struct{} // closed when the watch has ended the lease

	finishOnce sync.Once
	result     error // set by finish
}

// startLease starts the refresher of a granted lock.
func startLease(ctx context.Context, cfg *config, g *shell.Grant, log *slog.Logger) (context.Context, func() error) {
	held, cancel := context.WithCancelCause(ctx)
	l := &lease{
		token:     g.Token,
		cfg:       cfg,
		path:      g.Lock.Path(),
		log:       log,
		parent:    ctx,
		cancel:    cancel,
		start:     cfg.clock.Now(),
		watchDone: make(chan struct{}),
	}
	now := func() proto.Instant { return instant(cfg.clock) }
	l.h = shell.NewHold(cfg.timing, g, now, l.onLost)
	held = context.WithValue(held, leaseKey{}, l)
	l.deadline.start(cfg.clock, l.h.Deadline()-now().Mono, l.checkDeadline)
	l.refresh.start(cfg.clock, onGrid(cfg.clock.Mono(), cfg.timing.Refresh), l.refreshDue)
	l.stopWatch = context.AfterFunc(ctx, l.parentDone)
	return held, sync.OnceValue(l.release)
}

// onLost is the shell's report of a loss. It runs with the shell's mutex
// held, at the moment the loss is decided: held is cancelled there, so the
// holder is told before anything else happens. Logging and events follow
// outside it (logLost).
func (l *lease) onLost(reason error) {
	lost := &LostError{Path: l.path, At: l.cfg.clock.Now(), Err: reason}
	l.lost.Store(lost)
	l.cancel(lost)
}

// emit emits an event of this lease, with its token.
func (l *lease) emit(e Event) {
	e.Token = l.token
	l.cfg.emit(e)
}

// checkDeadline runs when the deadline timer fires, in its own goroutine,
// independently of a refresh that may be blocked in the kernel.
func (l *lease) checkDeadline() {
	again := l.h.CheckDeadline()
	if again == 0 {
		l.logLost()
		return
	}
	l.deadline.reset(again)
}

// logLost logs and emits the loss of the lease, once, if it is lost.
func (l *lease) logLost() {
	lost := l.lost.Load()
	if lost != nil && l.lostLogged.CompareAndSwap(false, true) {
		l.log.Error("lease lost", "err", lost.Err)
		l.emit(Event{Kind: EventLost, Path: l.path, At: lost.At, Err: lost})
	}
}

// refreshDue runs when the refresh timer fires. The refresh itself runs
// in a goroutine of its own (a clock.Fake runs timer functions inside
// Advance, and a refresh may block in the filesystem), which stopRefresher
// joins.
func (l *lease) refreshDue() {
	if !l.refresh.unlessStopped(func() { l.inflight.Add(1) }) {
		return
	}
	go func() {
		defer l.inflight.Done()
		if l.h.Lost() != nil {
			return // nothing more to do but wait for release or the parent
		}
		l.refresh.reset(onGrid(l.cfg.clock.Mono(), l.refreshed(l.h.Refresh())))
	}()
}

// onGrid returns d, a wait starting at monotonic time now, shortened by
// less than min(d/16, 50 ms) so that it ends on a multiple of that step:
// the refreshes of many leases then fall due together and run in one
// wake-up of the process instead of one each. Refreshing early is always
// safe.
func onGrid(now, d time.Duration) time.Duration {
	step := min(d/16, 50*time.Millisecond)
	if step <= 0 {
		return d
	}
	return d - (now+d)%step
}

// stopRefresher stops the refresh timer for good and waits for a refresh in
// progress: after it, finish is the only user of the lock.
func (l *lease) stopRefresher() {
	l.refresh.stop()
	l.inflight.Wait()
}

// parentDone runs, in its own goroutine, when the parent context is done:
// the lock is released promptly; held's cause is already the parent's.
func (l *lease) parentDone() {
	defer close(l.watchDone)
	l.stopRefresher()
	l.finish(context.Cause(l.parent))
}

// refreshed reports a refresh and returns when to refresh next.
func (l *lease) refreshed(r shell.Refreshed) time.Duration {
	if r.Err != nil {
		l.emit(Event{Kind: EventRefreshFailed, Path: l.path, Duration: r.Took, Err: r.Err})
	} else {
		l.emit(Event{Kind: EventRefreshed, Path: l.path, Duration: r.Took})
	}
	if r.Lost != nil {
		l.deadline.stop()
		l.logLost()
	}
	if r.Counted {
		// The deadline moved: its timer moves with it instead of firing
		// at the old one only to find it moved.
		l.deadline.reset(l.h.Deadline() - l.cfg.clock.Mono())
	}
	switch {
	case r.Err != nil && !errors.Is(r.Err, algorithm.ErrNotHeld):
		l.log.Warn("refresh failed, retrying", "err", r.Err)
	case r.Err == nil && !r.Counted:
		l.log.Warn("refresh did not count", "took", r.Took)
	case r.Err == nil:
		l.log.Debug("refreshed", "took", r.Took)
	}
	return r.Next
}

// release is the function Acquire returns, wrapped in sync.OnceValue.
func (l *lease) release() error {
	if !l.stopWatch() {
		<-l.watchDone // the parent ended first: parentDone ends the lease
	}
	l.stopRefresher()
	l.finish(ErrReleased)
	return l.result
}

// finish ends the lease once. It runs in parentDone or in release, each
// after stopRefresher, so it never uses the lock concurrently with a
// refresh. Held is cancelled first: the holder stops
// before anyone else can take the lock. Then the shell ends the hold
// (shell.Hold.Finish): a last refresh (none if the lease is fresh:
// shell.Params.FreshFor), and a release only if the lease is
// still valid.
func (l *lease) finish(cause error) {
	l.finishOnce.Do(func() {
		l.cancel(cause)
		f := l.h.Finish()
		released(l.cfg, l.path) // wake.go: wake this process's next waiter
		l.deadline.stop()
		l.logLost() // the last refresh is not reported as a refresh event
		switch {
		case f.Lost != nil:
			l.result = l.lost.Load()
		case errors.Is(f.Err, algorithm.ErrNotHeld):
			l.result = &LostError{Path: l.path, At: l.cfg.clock.Now(), Err: f.Err}
			l.log.Warn("release", "err", l.result)
			l.emit(Event{Kind: EventLost, Path: l.path, Err: l.result})
		case f.Err != nil:
			l.result = wrapPath(l.path, l.path, f.Err)
			l.log.Warn("release", "err", l.result)
			l.emit(Event{Kind: EventReleased, Path: l.path, Duration: l.cfg.clock.Now().Sub(l.start), Err: l.result})
		default:
			l.log.Debug("released")
			l.emit(Event{Kind: EventReleased, Path: l.path, Duration: l.cfg.clock.Now().Sub(l.start)})
		}
	})
}

// stoppable is a timer that, once stopped, is never set again: its
// function may reset it while another goroutine stops it.
type stoppable struct {
	mu      sync.Mutex
	t       clock.Timer
	stopped bool
}

func (s *stoppable) start(clk clock.Clock, d time.Duration, f func()) {
	s.mu.Lock()
	s.t = clk.AfterFunc(d, f)
	s.mu.Unlock()
}

// reset sets the timer to fire in d, unless it was stopped.
func (s *stoppable) reset(d time.Duration) {
	s.unlessStopped(func() { s.t.Reset(d) })
}

// stop stops the timer for good.
func (s *stoppable) stop() {
	s.mu.Lock()
	s.stopped = true
	s.t.Stop()
	s.mu.Unlock()
}

// unlessStopped runs f, unless the timer was stopped, excluding stop while
// it runs, and reports whether it ran.
func (s *stoppable) unlessStopped(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	f()
	return true
}
