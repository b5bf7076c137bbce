package lease

import (
	"context"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/nfslease/nfslease/clock"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/shell"
)

// Fast and fair handoff (issue 14). The shell decides when to attempt;
// this file only cuts a wait short, and orders this process's waiters on
// one lock. Nothing here decides anything the shell decides: a wake-up
// makes the next Step run at once, and that Step may well find the lock
// held again.
//
//   - Same-process waiters on one lock (same FS value, same path) queue
//     FIFO: only the head of the queue makes attempts; the others wait for
//     their turn without touching the filesystem. A release by a lease of
//     this process wakes the head at once, on any FS.
//   - While it sleeps, the head is woken when the lock's name leaves its
//     directory (unlink, rmdir, rename away), if the FS implements
//     fsops.Watcher (the OS FS on Linux, by inotify): one watch per
//     directory per process, shared by all its waiters, started by the
//     first and stopped and joined when the last leaves (if the last took
//     the lock, when its lease is released, so that the join does not
//     delay the acquisition). It sees only what
//     this host's kernel sees, so on a network filesystem it is a hint and
//     polling stays the correctness path.
//   - A burst of events cannot make a waiter spin: wake-ups are coalesced
//     (one pending at most), and an attempt a wake-up caused is at least
//     PollMin after the previous such attempt; otherwise the shell's
//     schedule runs.
//   - Courtesy: a lease whose acquisition had to wait for another holder
//     (contention, perhaps from other processes) makes this process's next
//     acquisition of the lock, if it starts within PollMin of the release
//     and no waiter of this process is queued, wait until PollMin after
//     the release before its first attempt, so that woken waiters of other
//     processes can take the lock first. An uncontended acquire/release
//     loop never waits.

// waitKey identifies a lock for the same-process queue: the FS value (nil
// if it is not comparable, and then there is no queue) and the lock path.
type waitKey struct {
	fs   fsops.FS
	path string
}

// pathQueue is the state of one waitKey. It is deleted when it is idle:
// no waiters, and no courtesy pending.
type pathQueue struct {
	waiters []*waiter // FIFO; waiters[0] is the head
	// A lease whose acquisition waited for another holder holds the lock
	// (armed) or released it at released on clk (courtesy pending).
	armed    int
	courtesy bool          // set with setCourtesy
	until    time.Duration // the courtesy's end, on clk's Mono
	clk      clock.Clock
}

func (q *pathQueue) idle() bool { return len(q.waiters) == 0 && q.armed == 0 && !q.courtesy }

// dirKey identifies a directory watch: the watching FS and the directory.
type dirKey struct {
	w   fsops.Watcher
	dir string
}

// dirWatch is one watch of a directory and its subscribers, by the name of
// the entry they wait for. Its dispatcher goroutine is owned by the
// registry: started with the watch by the first subscriber, stopped and
// joined by the last (leave), or, if the last took the lock, by its
// lease's release (released).
type dirWatch struct {
	key   dirKey
	watch fsops.DirWatch
	refs  int                             // subscribers, guarded by reg.mu
	subs  map[string]map[*waiter]struct{} // guarded by reg.mu
	idle  bool                            // no subscribers, left open for a lease's release; guarded by reg.mu
	done  chan struct{}                   // closed when the dispatcher has returned
}

// maxIdleWatches bounds the watches left open, idle, for the release of a
// lease whose acquisition had one (see leave): inotify instances are few
// (128 per user by default), so a process holding many contended leases
// in many directories does not keep one per directory.
const maxIdleWatches = 4

// reg is the process's registry of waiters and directory watches.
var reg struct {
	mu         sync.Mutex
	queues     map[waitKey]*pathQueue
	dirs       map[dirKey]*dirWatch
	courtesies int // queues with a courtesy set
	sweepAt    int // sweep the courtesies when there are more than this
	idle       int // idle watches in dirs
}

// waiter is one blocking acquisition's place in the registry. It is used by
// the acquiring goroutine only, except for wake and turn.
type waiter struct {
	key    waitKey
	queued bool // in the queue of key (false: not comparable, or left)
	clk    clock.Clock
	gap    time.Duration // the least time between two attempts caused by wake-ups
	fs     fsops.FS
	path   string // the lock's path; its directory and name, for the watch, are set by subscribe
	dir    string
	name   string

	wake chan struct{} // one pending wake-up at most
	turn chan struct{} // closed when this waiter becomes the head (guarded by reg.mu)
	head bool          // guarded by reg.mu

	courtesy time.Duration // Mono time before which the first attempt waits; 0 if none
	woke     bool          // an attempt was caused by a wake-up, at lastWake
	lastWake time.Duration
	waited   bool      // the acquisition saw another holder
	acquired bool      // the acquisition took the lock (granted)
	dw       *dirWatch // the subscription, once the first wait started
	watchErr bool      // the watch could not be started: do not try again
}

// comparable reports whether v can be a map key.
func comparable(v any) bool { return v != nil && reflect.TypeOf(v).Comparable() }

// joinWaiters puts a blocking acquisition of the lock at path (the lock's
// absolute path) in this process's queue for it. A single attempt (once)
// does not queue. The caller must call leave when the acquisition ends.
func joinWaiters(cfg *config, path string, once bool) *waiter {
	w := &waiter{
		clk:  cfg.clock,
		gap:  cfg.timing.PollMin,
		fs:   cfg.fs,
		path: path,
		wake: make(chan struct{}, 1),
		turn: closedTurn,
	}
	if once || !comparable(cfg.fs) {
		return w
	}
	w.key = waitKey{cfg.fs, path}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.queues == nil {
		reg.queues = map[waitKey]*pathQueue{}
	}
	q := reg.queues[w.key]
	if q == nil {
		q = &pathQueue{}
		reg.queues[w.key] = q
	}
	q.waiters = append(q.waiters, w)
	w.queued = true
	if len(q.waiters) == 1 {
		if q.courtesy && comparable(w.clk) && q.clk == w.clk && q.until > w.clk.Mono() {
			w.courtesy = q.until
		}
		q.setCourtesy(false)
		w.head = true // and its turn is closedTurn
	} else {
		w.turn = make(chan struct{})
	}
	return w
}

// closedTurn is the turn of a waiter that is the head as soon as it comes.
var closedTurn = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// promote makes w, which came after others, the head; reg.mu is held.
func (w *waiter) promote() {
	w.head = true
	close(w.turn)
}

// waitTurn waits until w is the head of its queue, then for the courtesy
// after this process's own contended release, if any.
func (w *waiter) waitTurn(ctx context.Context) error {
	select {
	case <-w.turn:
	case <-ctx.Done():
		return ctx.Err()
	}
	if w.courtesy == 0 {
		return nil
	}
	d := w.courtesy - w.clk.Mono()
	w.courtesy = 0
	if d <= 0 {
		return nil
	}
	return sleep(ctx, w.clk, d)
}

// sleep waits as the shell's step st says, or until ctx is done, and is cut
// short by a wake-up (see the top of this file); woke reports that one
// ended it.
func (w *waiter) sleep(ctx context.Context, st shell.Step) (woke bool, err error) {
	if st.Holder != nil {
		w.waited = true
	}
	d := st.Wait
	if w.dw == nil && !w.watchErr {
		w.subscribe()
	}
	start := w.clk.Mono()
	t := w.clk.NewTimer(d)
	defer t.Stop()
	wake := w.wake
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-t.C():
			if wake == nil { // a deferred wake-up
				w.woke, w.lastWake = true, w.clk.Mono()
				return true, nil
			}
			return false, nil
		case <-wake:
			now := w.clk.Mono()
			if !w.woke || now-w.lastWake >= w.gap {
				w.woke, w.lastWake = true, now
				return true, nil
			}
			// Too soon after the last attempt a wake-up caused: attempt
			// when the gap has passed, unless the shell's own wait ends
			// first. Further wake-ups add nothing.
			if at := w.lastWake + w.gap; at < start+d {
				t.Reset(at - now)
				wake = nil
			}
		}
	}
}

// granted records that w's acquisition took the lock; its lease will call
// released.
func (w *waiter) granted() {
	w.acquired = true
	if !w.queued || !w.waited {
		return
	}
	reg.mu.Lock()
	reg.queues[w.key].armed++
	reg.mu.Unlock()
}

// leave takes w out of the registry: its queue (the next waiter becomes the
// head) and its directory watch (stopped and joined if w was the last).
func (w *waiter) leave() {
	var stop *dirWatch
	reg.mu.Lock()
	if w.queued {
		w.queued = false
		q := reg.queues[w.key]
		for i, o := range q.waiters {
			if o == w {
				q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
				break
			}
		}
		if w.head {
			w.head = false
			if len(q.waiters) > 0 {
				q.waiters[0].promote()
			}
		}
		if q.idle() {
			delete(reg.queues, w.key)
		}
	}
	if dw := w.dw; dw != nil {
		w.dw = nil
		if subs := dw.subs[w.name]; subs != nil {
			delete(subs, w)
			if len(subs) == 0 {
				delete(dw.subs, w.name)
			}
		}
		dw.refs--
		switch {
		case dw.refs > 0:
		case w.acquired && reg.dirs[dw.key] == dw && !dw.dead() && reg.idle < maxIdleWatches:
			// Left open, idle, for the lease just granted to stop when
			// it is released (released): joining the watch's goroutines
			// here would delay the acquisition by a few scheduling
			// rounds, and another waiter may start soon.
			dw.setIdle(true)
		default:
			if reg.dirs[dw.key] == dw {
				delete(reg.dirs, dw.key)
			}
			stop = dw
		}
	}
	reg.mu.Unlock()
	if stop != nil {
		// Outside reg.mu: the dispatcher takes it.
		_ = stop.watch.Close()
		<-stop.done
	}
}

// released is called by a lease of cfg on the lock at path once it is
// released (or given up): it wakes this process's first waiter for it, and
// starts the courtesy if the lease's acquisition had waited.
func released(cfg *config, path string) {
	if !comparable(cfg.fs) {
		return
	}
	if dw := wakeQueue(cfg, path); dw != nil {
		_ = dw.watch.Close()
		<-dw.done
	}
}

// wakeQueue does the work of released under reg.mu, and returns an idle
// watch of the lock's directory for the caller to stop and join, if there
// is one (see leave).
func wakeQueue(cfg *config, path string) (stop *dirWatch) {
	key := waitKey{cfg.fs, path}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if wr, ok := cfg.fs.(fsops.Watcher); ok && len(reg.dirs) > 0 && comparable(wr) {
		dk := dirKey{wr, filepath.Dir(path)}
		if dw := reg.dirs[dk]; dw != nil && dw.idle {
			dw.setIdle(false)
			delete(reg.dirs, dk)
			stop = dw
		}
	}
	q := reg.queues[key]
	if q == nil {
		return stop
	}
	if q.armed > 0 {
		q.armed--
		if len(q.waiters) == 0 {
			q.setCourtesy(true)
			q.until, q.clk = cfg.clock.Mono()+cfg.timing.PollMin, cfg.clock
			sweepCourtesies()
		}
	}
	if len(q.waiters) > 0 {
		q.waiters[0].notify()
	}
	if q.idle() {
		delete(reg.queues, key)
	}
	return stop
}

// sweepCourtesies forgets the courtesies that are over, so that the
// registry does not keep an entry per lock ever released after contention.
// It runs when their number has doubled since the last sweep, so its cost
// per release is constant; reg.mu is held.
func sweepCourtesies() {
	if reg.courtesies <= reg.sweepAt {
		return
	}
	for k, q := range reg.queues {
		if q.courtesy && q.clk.Mono() >= q.until {
			q.setCourtesy(false)
			if q.idle() {
				delete(reg.queues, k)
			}
		}
	}
	reg.sweepAt = 2*reg.courtesies + 64
}

// setCourtesy sets q.courtesy, counting the queues that have one; reg.mu
// is held.
func (q *pathQueue) setCourtesy(on bool) {
	switch {
	case on && !q.courtesy:
		reg.courtesies++
	case !on && q.courtesy:
		reg.courtesies--
	}
	q.courtesy = on
}

// notify wakes w if it sleeps, or makes its next sleep return at once.
func (w *waiter) notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// subscribe adds w to the watch of its lock's directory, starting the
// watch if w is the first, if the FS implements fsops.Watcher. A watch that
// cannot be started is not tried again by w: polling goes on.
func (w *waiter) subscribe() {
	wr, ok := w.fs.(fsops.Watcher)
	if !ok || !comparable(wr) {
		w.watchErr = true
		return
	}
	w.dir, w.name = filepath.Dir(w.path), filepath.Base(w.path)
	key := dirKey{wr, w.dir}
	reg.mu.Lock()
	var dw *dirWatch
	for {
		dw = reg.dirs[key]
		if dw == nil || !dw.idle {
			break
		}
		dw.setIdle(false)
		if !dw.dead() {
			break
		}
		// It ended (its directory went) while idle: replace it.
		delete(reg.dirs, key)
		reg.mu.Unlock()
		_ = dw.watch.Close()
		<-dw.done
		reg.mu.Lock()
	}
	if dw == nil {
		// Started under reg.mu: one watch per directory. WatchDir is two
		// quick system calls on a local filesystem.
		watch, err := wr.WatchDir(w.dir)
		if err != nil {
			reg.mu.Unlock()
			w.watchErr = true
			return
		}
		dw = &dirWatch{key: key, watch: watch, subs: map[string]map[*waiter]struct{}{}, done: make(chan struct{})}
		if reg.dirs == nil {
			reg.dirs = map[dirKey]*dirWatch{}
		}
		reg.dirs[key] = dw
		go dw.dispatch()
	}
	dw.refs++
	if dw.subs[w.name] == nil {
		dw.subs[w.name] = map[*waiter]struct{}{}
	}
	dw.subs[w.name][w] = struct{}{}
	w.dw = dw
	reg.mu.Unlock()
}

// dispatch wakes the subscribers of each name that left the directory (all
// of them for ""), until the watch ends.
func (dw *dirWatch) dispatch() {
	defer close(dw.done)
	for name := range dw.watch.Left() {
		reg.mu.Lock()
		for n, subs := range dw.subs {
			if name == "" || n == name {
				for w := range subs {
					w.notify()
				}
			}
		}
		reg.mu.Unlock()
	}
	// The watch ended by itself (its directory went) or was closed: new
	// waiters start another one. An idle watch stays where its stopper
	// (a release, or the next subscriber) finds it.
	reg.mu.Lock()
	if reg.dirs[dw.key] == dw && !dw.idle {
		delete(reg.dirs, dw.key)
	}
	reg.mu.Unlock()
}

// dead reports whether the dispatcher has returned.
func (dw *dirWatch) dead() bool {
	select {
	case <-dw.done:
		return true
	default:
		return false
	}
}

// setIdle sets dw.idle, counting the idle watches; reg.mu is held.
func (dw *dirWatch) setIdle(on bool) {
	switch {
	case on && !dw.idle:
		reg.idle++
	case !on && dw.idle:
		reg.idle--
	}
	dw.idle = on
}
