package clock

import "time"

// Clock is the source of time for package lease: the wall time, a
// monotonic time, and timers. It is the whole of what the concurrent shell
// needs; the protocol steps in package algorithm never read a clock and
// take "now" as an argument instead.
//
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current wall time: what is written to disk and
	// compared with other hosts' times. It may step backwards or forwards.
	Now() time.Time

	// Mono returns the time elapsed since an origin the Clock fixes, on a
	// clock that a wall-clock step does not move. The times package lease
	// gives the protocol steps, on which its deadlines and a waiter's
	// watch are measured, are Mono readings. Timers run on the same clock.
	Mono() time.Duration

	// NewTimer creates a Timer that sends the current time on its channel
	// after at least d.
	NewTimer(d time.Duration) Timer

	// AfterFunc waits for d to elapse and then calls f in its own
	// goroutine (Real) or in the goroutine that advances time (Fake). It
	// returns a Timer whose Stop cancels the call; the channel of that
	// Timer is nil.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a single-shot timer, like *time.Timer. Its methods follow
// *time.Timer's Go 1.23 semantics: Stop and Reset never leave a stale value
// in the channel.
type Timer interface {
	// C returns the channel on which the timer delivers the time it fired.
	// It is nil for a Timer made by AfterFunc.
	C() <-chan time.Time

	// Stop prevents the timer from firing. It reports whether it stopped
	// the timer: true if the timer was armed, or (channel timers only) had
	// fired but its value had not been received, since in Go 1.23 the
	// channel is synchronous and the value is delivered only when
	// received. False means the value was received, the AfterFunc function
	// has started, or the timer was already stopped. After Stop returns,
	// nothing is received from C until the timer is Reset and fires again.
	// Stop does not wait for an AfterFunc function that has started.
	Stop() bool

	// Reset re-arms the timer to fire after d, whether or not it was
	// stopped or had fired, and reports what Stop would have. As with
	// Stop, a value the timer sent before Reset is not received after it.
	// A Timer made by AfterFunc calls its function again when it fires
	// after Reset.
	Reset(d time.Duration) bool
}
