package clock_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/clock"
)

// The real timers are exercised without timing bounds: the tests only check
// that they fire at all, since CI machines can be arbitrarily slow.

func TestRealNow(t *testing.T) {
	before := time.Now()
	got := clock.Real().Now()
	if got.Before(before) {
		t.Errorf("Real().Now() = %v, before time.Now() = %v", got, before)
	}
}

func TestRealTimerFires(t *testing.T) {
	tm := clock.Real().NewTimer(time.Millisecond)
	<-tm.C()
	if tm.Stop() {
		t.Error("Stop after firing = true, want false")
	}
}

func TestRealAfterFuncFires(t *testing.T) {
	done := make(chan struct{})
	tm := clock.Real().AfterFunc(time.Millisecond, func() { close(done) })
	if tm.C() != nil {
		t.Error("AfterFunc timer's C() is not nil")
	}
	<-done
}

func TestRealStop(t *testing.T) {
	tm := clock.Real().NewTimer(time.Hour)
	if !tm.Stop() {
		t.Error("Stop of active timer = false, want true")
	}
	if tm.Stop() {
		t.Error("second Stop = true, want false")
	}
}

// TestRealNoStaleValue checks, in a synctest bubble where the time package
// runs on a fake clock, that Real's timers have the Go 1.23 semantics the
// Timer interface promises: a value sent before Reset is not received after
// it.
func TestRealNoStaleValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tm := clock.Real().NewTimer(time.Second)
		time.Sleep(2 * time.Second) // the timer fires; nobody receives
		// The value was never delivered, so the timer still counts as
		// running, as the Fake's does.
		if !tm.Reset(time.Hour) {
			t.Error("Reset with value pending = false, want true")
		}
		select {
		case v := <-tm.C():
			t.Errorf("received stale value %v after Reset", v)
		default:
		}
		if !tm.Stop() {
			t.Error("Stop after Reset = false, want true")
		}
	})
}

// Real's Mono never goes backwards and moves with time.Since.
func TestRealMono(t *testing.T) {
	c := clock.Real()
	a := c.Mono()
	start := time.Now()
	time.Sleep(time.Millisecond)
	b := c.Mono()
	if a < 0 || b-a < time.Since(start)-time.Millisecond || b < a {
		t.Errorf("Mono went %v -> %v over a sleep of at least 1ms", a, b)
	}
}
