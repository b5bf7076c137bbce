package clock

import (
	"container/heap"
	"context"
	"math"
	"sync"
	"time"
)

// Fake is a manual Clock for tests. Its time moves only when Advance or Set
// is called; it never sleeps and never starts goroutines, so a test using it
// runs as fast as the code under test and fires timers in the same order
// every run.
//
// A Fake keeps two times. The wall time is what Now returns. The monotonic
// time is what Mono returns and timers are measured on: it only moves
// forward, by Advance. Set steps the wall time alone, forward or back (an
// NTP correction, date(1)): it neither fires timers nor delays them and
// leaves Mono where it was, just as a step of the host's clock does not
// affect *time.Timer or time.Since. Times returned by Now carry no
// monotonic reading, so Sub between two of them shows such a step, as it
// would for times read from a file server.
//
// Timers fire only inside Advance, in the goroutine that calls it:
// a NewTimer timer sends the current time on its channel (buffered, capacity
// 1; the send is dropped if a value is already pending, like *time.Timer),
// and an AfterFunc timer calls its function synchronously after the Fake's
// lock is released, so the function may use the Fake and its timers. A timer
// armed with d <= 0 is due at once but, like every other, fires at the next
// Advance (Advance(0) will do).
//
// A Fake is safe for concurrent use. Time is meant to be driven by one
// goroutine; concurrent calls to Advance are safe and never move the
// monotonic time backwards, but how their steps interleave is unspecified.
//
// Use NewFake to make one; the zero value is a Fake whose wall time is the
// zero Time. A Fake must not be copied after first use.
type Fake struct {
	mu     sync.Mutex
	wall   time.Time     // what Now returns; no monotonic reading
	mono   time.Duration // monotonic time elapsed; timer deadlines are on this scale
	seq    uint64        // arming counter, to break deadline ties in arming order
	timers timerHeap     // armed (active) timers, earliest deadline first

	// changed is closed, and cleared, whenever a timer is armed, to wake
	// BlockUntil callers. It is nil while nobody waits, so arming a timer
	// costs no allocation in the common case.
	changed chan struct{}
}

var (
	_ Clock = (*Fake)(nil)
	_ Timer = (*fakeTimer)(nil)
)

// NewFake returns a Fake whose current time is now. Any monotonic reading in
// now is dropped (see Fake).
func NewFake(now time.Time) *Fake {
	return &Fake{wall: now.Round(0)}
}

// Now returns the Fake's current wall time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wall
}

// Mono returns the Fake's monotonic time: the sum of the durations passed
// to Advance since NewFake. Set does not change it.
func (f *Fake) Mono() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mono
}

// NewTimer returns a Timer that sends the Fake's current time on its channel
// once time has been advanced by at least d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{f: f, c: make(chan time.Time, 1), index: -1}
	f.mu.Lock()
	f.arm(t, d)
	f.mu.Unlock()
	return t
}

// AfterFunc returns a Timer that calls fn once time has been advanced by at
// least d. fn runs in the goroutine calling Advance, which waits for it; fn may Reset its own Timer to run again. The Timer's channel is nil.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	if fn == nil {
		// time.AfterFunc would panic only when the timer fires, far from
		// the mistake; a test double can afford to be stricter.
		panic("clock: Fake.AfterFunc with nil func")
	}
	t := &fakeTimer{f: f, fn: fn, index: -1}
	f.mu.Lock()
	f.arm(t, d)
	f.mu.Unlock()
	return t
}

// Advance moves time forward by d and fires, in deadline order, every timer
// whose deadline is at or before the new time. It steps from one deadline to
// the next, so Now inside a timer's function, and the value a timer sends,
// is that timer's deadline, and a timer armed by one of those functions
// fires in this same call if its deadline is still within reach. (A function
// that keeps re-arming itself with d <= 0 therefore never lets Advance
// return.) Advance(0) fires the timers that are already due. Advance panics
// if d is negative: use Set to step the wall clock back.
func (f *Fake) Advance(d time.Duration) {
	if d < 0 {
		panic("clock: Fake.Advance with negative duration")
	}
	f.mu.Lock()
	target := addSat(f.mono, d)
	f.mu.Unlock()
	f.advanceTo(target)
}

// Set steps the wall time to t, forward or back, as a correction of the
// host's clock would (NTP, date(1)): only what Now returns moves. Mono does
// not move, no timer fires, and every armed timer still fires after the
// same amount of further Advance as before. Use Advance to let time pass.
// Any monotonic reading in t is dropped.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wall = t.Round(0)
}

// Waiters returns the number of active timers: armed, and neither fired nor
// stopped. AfterFunc timers count.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// BlockUntil blocks until at least n timers are active (see Waiters) or ctx
// is done, and returns nil or ctx.Err() respectively. It lets a test wait
// for the goroutine under test to arm its timers before advancing time,
// without sleeping. If n timers are active already, it returns nil even if
// ctx is done.
func (f *Fake) BlockUntil(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		if len(f.timers) >= n {
			f.mu.Unlock()
			return nil
		}
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		changed := f.changed
		f.mu.Unlock()

		select {
		case <-changed:
			// A timer was armed; recount, since others may have fired
			// or been stopped meanwhile.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// NextDeadline returns the wall time at which the earliest active timer is
// due, and false if there is none. A test jumps to the next event with
// Advance(next.Sub(Now())). The deadline is Now or earlier when
// a timer is due but not yet fired, for example one armed with d <= 0; it is
// reckoned from the current wall time, so a later Set moves it with the wall
// too.
func (f *Fake) NextDeadline() (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.timers) == 0 {
		return time.Time{}, false
	}
	return f.wall.Add(f.timers[0].when - f.mono), true
}

// advanceTo moves the monotonic time up to target, firing due timers one at
// a time. The lock is taken afresh for each timer so that an AfterFunc
// function runs unlocked and whatever it arms is seen by the next iteration.
func (f *Fake) advanceTo(target time.Duration) {
	for {
		f.mu.Lock()
		if len(f.timers) == 0 || f.timers[0].when > target {
			f.moveTo(target)
			f.mu.Unlock()
			return
		}
		t := heap.Pop(&f.timers).(*fakeTimer)
		f.moveTo(t.when)
		if t.c != nil {
			// Non-blocking, like the runtime's timer send: a value
			// still pending is the one the receiver will see.
			select {
			case t.c <- f.wall:
			default:
			}
		}
		fn := t.fn
		f.mu.Unlock()

		if fn != nil {
			fn()
		}
	}
}

// moveTo moves the monotonic time, and the wall time with it, forward to m.
// It never moves them back: with concurrent Advance calls, one may target a
// time another has already passed. f.mu must be held.
func (f *Fake) moveTo(m time.Duration) {
	if m > f.mono {
		f.wall = f.wall.Add(m - f.mono)
		f.mono = m
	}
}

// arm schedules t to fire d from now, in arming order after any timer with
// the same deadline, and wakes BlockUntil callers. t must not be armed.
// f.mu must be held.
func (f *Fake) arm(t *fakeTimer, d time.Duration) {
	if d < 0 {
		// Keep deadlines at or after the monotonic time, so that time
		// never appears to run backwards when such a timer fires.
		d = 0
	}
	t.when = addSat(f.mono, d)
	f.seq++
	t.seq = f.seq
	heap.Push(&f.timers, t)
	if f.changed != nil {
		close(f.changed)
		f.changed = nil
	}
}

// addSat returns a+b for b >= 0, saturating instead of overflowing, so that
// a timer armed for math.MaxInt64 simply never fires.
func addSat(a, b time.Duration) time.Duration {
	if b > math.MaxInt64-a {
		return math.MaxInt64
	}
	return a + b
}

// fakeTimer is the Timer of a Fake. All its fields but f, c and fn are
// guarded by f.mu.
type fakeTimer struct {
	f     *Fake
	c     chan time.Time // nil for AfterFunc timers
	fn    func()         // nil for NewTimer timers
	when  time.Duration  // deadline on f.mono
	seq   uint64         // f.seq when armed
	index int            // position in f.timers; -1 when not armed
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	return t.disarm()
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	f := t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	active := t.disarm()
	f.arm(t, d)
	return active
}

// disarm removes t from the heap if armed and discards any value it sent
// that nobody received, which gives Stop and Reset the Go 1.23 guarantee of
// no stale value. Sends happen under f.mu too, so none can slip in between.
// It reports whether t was still running in Go 1.23's terms: armed, or
// fired with its value undelivered. t.f.mu must be held.
func (t *fakeTimer) disarm() bool {
	active := t.index >= 0
	if active {
		heap.Remove(&t.f.timers, t.index)
	}
	if t.c != nil {
		select {
		case <-t.c:
			active = true
		default:
		}
	}
	return active
}

// timerHeap is a min-heap of armed timers ordered by deadline, then by
// arming order. It keeps each timer's index current so Stop and Reset can
// remove a timer in O(log n).
type timerHeap []*fakeTimer

func (h timerHeap) Len() int { return len(h) }

func (h timerHeap) Less(i, j int) bool {
	if h[i].when != h[j].when {
		return h[i].when < h[j].when
	}
	return h[i].seq < h[j].seq
}

func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}

func (h *timerHeap) Push(x any) {
	t := x.(*fakeTimer)
	t.index = len(*h)
	*h = append(*h, t)
}

func (h *timerHeap) Pop() any {
	old := *h
	n := len(old)
	t := old[n-1]
	old[n-1] = nil // let a stopped timer be collected
	t.index = -1
	*h = old[:n-1]
	return t
}
