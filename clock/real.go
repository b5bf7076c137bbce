package clock

import "time"

// Real returns the Clock backed by the time package: time.Now, time.Since
// (of a time taken at start-up, for Mono), time.NewTimer and
// time.AfterFunc. See the package documentation for what
// it does not guarantee across system suspend.
func Real() Clock { return realClock{} }

type realClock struct{}

var _ Clock = realClock{}

func (realClock) Now() time.Time { return time.Now() }

// realOrigin is the origin of Real's Mono readings; it carries a monotonic
// reading, so time.Since(realOrigin) is immune to wall-clock steps.
var realOrigin = time.Now()

func (realClock) Mono() time.Duration { return time.Since(realOrigin) }

func (realClock) NewTimer(d time.Duration) Timer {
	return realTimer{time.NewTimer(d)}
}

func (realClock) AfterFunc(d time.Duration, f func()) Timer {
	// time.AfterFunc leaves the timer's C nil, which is what Timer.C
	// promises for AfterFunc timers.
	return realTimer{time.AfterFunc(d, f)}
}

// realTimer adapts *time.Timer, whose channel is a field, to Timer, whose
// channel is a method.
type realTimer struct{ t *time.Timer }

var _ Timer = realTimer{}

func (r realTimer) C() <-chan time.Time        { return r.t.C }
func (r realTimer) Stop() bool                 { return r.t.Stop() }
func (r realTimer) Reset(d time.Duration) bool { return r.t.Reset(d) }
