package clock_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/clock"
)

var epoch = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// recv returns the value pending on c, if any, without blocking: with a
// Fake, a timer has either fired by the time Advance returns or not at all.
func recv(c <-chan time.Time) (time.Time, bool) {
	select {
	case v := <-c:
		return v, true
	default:
		return time.Time{}, false
	}
}

func TestFakeNow(t *testing.T) {
	f := clock.NewFake(time.Now()) // has a monotonic reading, which must go
	start := f.Now()
	if s := start.String(); s != start.Round(0).String() {
		t.Errorf("Now() kept a monotonic reading: %s", s)
	}
	f.Advance(time.Minute)
	if got := f.Now().Sub(start); got != time.Minute {
		t.Errorf("after Advance(1m), Now moved by %v", got)
	}
}

func TestFakeTimerFiresAtDeadlineNotEarly(t *testing.T) {
	tests := []struct {
		name     string
		d        time.Duration
		advances []time.Duration // the timer must fire on the last, not before
	}{
		{"one step", 10 * time.Second, []time.Duration{10 * time.Second}},
		{"overshoot", 10 * time.Second, []time.Duration{time.Hour}},
		{"small steps", 3 * time.Second, []time.Duration{time.Second, time.Second, time.Second}},
		{"just short", 10 * time.Second, []time.Duration{10*time.Second - 1, 1}},
		{"zero fires on Advance(0)", 0, []time.Duration{0}},
		{"negative is due now", -time.Second, []time.Duration{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(epoch)
			tm := f.NewTimer(tt.d)
			want := epoch.Add(max(tt.d, 0))
			for i, d := range tt.advances {
				if v, ok := recv(tm.C()); ok {
					t.Fatalf("fired early, before advance %d: %v", i, v)
				}
				f.Advance(d)
			}
			v, ok := recv(tm.C())
			if !ok {
				t.Fatal("did not fire")
			}
			if !v.Equal(want) {
				t.Errorf("sent %v, want its deadline %v", v, want)
			}
			if n := f.Waiters(); n != 0 {
				t.Errorf("Waiters() = %d after firing, want 0", n)
			}
		})
	}
}

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	f := clock.NewFake(epoch)
	type firing struct {
		name string
		at   time.Duration // Now inside the function, relative to epoch
	}
	var got []firing
	add := func(name string, d time.Duration) {
		f.AfterFunc(d, func() { got = append(got, firing{name, f.Now().Sub(epoch)}) })
	}
	// Armed out of order; b1 and b2 tie and must fire in arming order.
	add("c", 3*time.Second)
	add("a", 1*time.Second)
	add("b1", 2*time.Second)
	add("b2", 2*time.Second)
	add("late", time.Hour)

	f.Advance(5 * time.Second)

	want := []firing{{"a", time.Second}, {"b1", 2 * time.Second}, {"b2", 2 * time.Second}, {"c", 3 * time.Second}}
	if !slices.Equal(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
	if got := f.Now().Sub(epoch); got != 5*time.Second {
		t.Errorf("Now after Advance = epoch+%v, want epoch+5s", got)
	}
	if n := f.Waiters(); n != 1 {
		t.Errorf("Waiters() = %d, want 1 (late)", n)
	}
}

func TestFakeStopAfterReceive(t *testing.T) {
	f := clock.NewFake(epoch)
	tm := f.NewTimer(time.Second)
	ran := false
	fn := f.AfterFunc(time.Second, func() { ran = true })
	f.Advance(time.Second)
	<-tm.C()
	if tm.Stop() {
		t.Error("Stop after value received = true, want false")
	}
	if !ran || fn.Stop() {
		t.Errorf("AfterFunc ran = %v, Stop after it ran = true; want true, false", ran)
	}
}

func TestFakeStop(t *testing.T) {
	f := clock.NewFake(epoch)
	tm := f.NewTimer(time.Second)
	called := false
	fn := f.AfterFunc(time.Second, func() { called = true })

	if !tm.Stop() || !fn.Stop() {
		t.Fatal("Stop of active timer = false, want true")
	}
	if tm.Stop() || fn.Stop() {
		t.Error("second Stop = true, want false")
	}
	if n := f.Waiters(); n != 0 {
		t.Errorf("Waiters() = %d after Stop, want 0", n)
	}
	f.Advance(time.Hour)
	if v, ok := recv(tm.C()); ok {
		t.Errorf("stopped timer sent %v", v)
	}
	if called {
		t.Error("stopped AfterFunc ran")
	}
}

func TestFakeStopDrainsFiredValue(t *testing.T) {
	f := clock.NewFake(epoch)
	tm := f.NewTimer(time.Second)
	f.Advance(time.Second) // fires; nobody receives
	// Like *time.Timer since Go 1.23: the value is not delivered until
	// received, so the timer still counts as running.
	if !tm.Stop() {
		t.Error("Stop with value pending = false, want true")
	}
	if v, ok := recv(tm.C()); ok {
		t.Errorf("received stale value %v after Stop", v)
	}
}

func TestFakeReset(t *testing.T) {
	tests := []struct {
		name       string
		prepare    func(f *clock.Fake, tm clock.Timer)
		wantActive bool
	}{
		{"active", func(*clock.Fake, clock.Timer) {}, true},
		{"stopped", func(_ *clock.Fake, tm clock.Timer) { tm.Stop() }, false},
		{"fired, value pending", func(f *clock.Fake, _ clock.Timer) { f.Advance(time.Minute) }, true},
		{"fired, value received", func(f *clock.Fake, tm clock.Timer) {
			f.Advance(time.Minute)
			<-tm.C()
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(epoch)
			tm := f.NewTimer(time.Minute)
			tt.prepare(f, tm)
			base := f.Now()

			if got := tm.Reset(10 * time.Second); got != tt.wantActive {
				t.Errorf("Reset = %v, want %v", got, tt.wantActive)
			}
			if v, ok := recv(tm.C()); ok {
				t.Fatalf("received stale value %v after Reset", v)
			}
			f.Advance(10*time.Second - 1)
			if v, ok := recv(tm.C()); ok {
				t.Fatalf("fired early after Reset: %v", v)
			}
			f.Advance(1)
			v, ok := recv(tm.C())
			if !ok {
				t.Fatal("did not fire at the Reset deadline")
			}
			if want := base.Add(10 * time.Second); !v.Equal(want) {
				t.Errorf("sent %v, want %v", v, want)
			}
		})
	}
}

func TestFakeResetMovesDeadlineEarlier(t *testing.T) {
	f := clock.NewFake(epoch)
	var order []string
	a := f.AfterFunc(time.Hour, func() { order = append(order, "a") })
	f.AfterFunc(time.Minute, func() { order = append(order, "b") })
	a.Reset(time.Second)
	f.Advance(time.Hour)
	if want := []string{"a", "b"}; !slices.Equal(order, want) {
		t.Errorf("fired %v, want %v", order, want)
	}
}

// An AfterFunc that re-arms itself, as a lease renewal loop does, must fire
// at every period within a single Advance, seeing the right Now each time.
func TestFakeAfterFuncRearmsWithinAdvance(t *testing.T) {
	f := clock.NewFake(epoch)
	var at []time.Duration
	var tm clock.Timer
	tm = f.AfterFunc(time.Second, func() {
		at = append(at, f.Now().Sub(epoch))
		tm.Reset(time.Second) // calls back into the Fake: must not deadlock
	})
	if tm.C() != nil {
		t.Error("AfterFunc timer's C() is not nil")
	}

	f.Advance(5*time.Second + 500*time.Millisecond)

	want := []time.Duration{1 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second}
	if !slices.Equal(at, want) {
		t.Errorf("ran at %v, want %v", at, want)
	}
	if n := f.Waiters(); n != 1 {
		t.Errorf("Waiters() = %d, want 1 (re-armed)", n)
	}
	if d, ok := f.NextDeadline(); !ok || !d.Equal(epoch.Add(6*time.Second)) {
		t.Errorf("NextDeadline() = %v, %v; want epoch+6s, true", d, ok)
	}
}

// A timer armed by an AfterFunc function during Advance fires in the same
// Advance, in order with the timers that were already armed.
func TestFakeTimerArmedDuringAdvance(t *testing.T) {
	f := clock.NewFake(epoch)
	var inner clock.Timer
	var got []string
	f.AfterFunc(time.Second, func() {
		got = append(got, "outer")
		inner = f.NewTimer(time.Second) // due at 2s
	})
	f.AfterFunc(3*time.Second, func() {
		if _, ok := recv(inner.C()); ok {
			got = append(got, "inner before 3s")
		}
	})
	f.Advance(10 * time.Second)
	if want := []string{"outer", "inner before 3s"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestFakeSet: Set steps the wall clock alone, either way: Now moves, Mono
// does not, no timer fires, and none is delayed or hastened.
func TestFakeSet(t *testing.T) {
	tests := []struct {
		name string
		to   time.Duration // Set(epoch + advanced + to)
	}{
		{"backwards", -time.Hour},
		{"forward short of deadline", 4 * time.Second},
		{"forward to deadline", 6 * time.Second},
		{"forward past deadline", time.Hour},
		{"same time", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := clock.NewFake(epoch)
			tm := f.NewTimer(10 * time.Second)
			f.Advance(4 * time.Second)
			wall := epoch.Add(4*time.Second + tt.to)

			f.Set(wall)

			if got := f.Now(); !got.Equal(wall) {
				t.Errorf("Now() = %v, want %v", got, wall)
			}
			if got := f.Mono(); got != 4*time.Second {
				t.Errorf("Mono() = %v after Set, want 4s (as before)", got)
			}
			if _, fired := recv(tm.C()); fired {
				t.Fatal("Set fired a timer")
			}
			if d, _ := f.NextDeadline(); d.Sub(f.Now()) != 6*time.Second {
				t.Errorf("NextDeadline is Now+%v, want Now+6s", d.Sub(f.Now()))
			}
			f.Advance(6*time.Second - 1)
			if _, ok := recv(tm.C()); ok {
				t.Fatal("fired early")
			}
			f.Advance(1)
			v, ok := recv(tm.C())
			if !ok {
				t.Fatal("did not fire after the remaining time")
			}
			if want := wall.Add(6 * time.Second); !v.Equal(want) {
				t.Errorf("timer sent %v, want the wall time at its deadline %v", v, want)
			}
			if got := f.Mono(); got != 10*time.Second {
				t.Errorf("Mono() = %v, want 10s", got)
			}
		})
	}
}

func TestFakeAdvanceNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Advance(-1) did not panic")
		}
	}()
	clock.NewFake(epoch).Advance(-1)
}

func TestFakeHugeDurationNeverFires(t *testing.T) {
	f := clock.NewFake(epoch)
	f.Advance(time.Hour)
	tm := f.NewTimer(math.MaxInt64) // must not overflow into the past
	f.Advance(time.Hour)
	if _, ok := recv(tm.C()); ok {
		t.Error("timer armed for MaxInt64 fired")
	}
}

func TestFakeWaitersAndNextDeadline(t *testing.T) {
	f := clock.NewFake(epoch)
	if _, ok := f.NextDeadline(); ok {
		t.Error("NextDeadline() reported a deadline with no timers")
	}
	a := f.NewTimer(2 * time.Second)
	f.AfterFunc(5*time.Second, func() {})
	if n := f.Waiters(); n != 2 {
		t.Errorf("Waiters() = %d, want 2", n)
	}
	if d, ok := f.NextDeadline(); !ok || !d.Equal(epoch.Add(2*time.Second)) {
		t.Errorf("NextDeadline() = %v, %v; want epoch+2s, true", d, ok)
	}
	a.Stop()
	if d, ok := f.NextDeadline(); !ok || !d.Equal(epoch.Add(5*time.Second)) {
		t.Errorf("after Stop, NextDeadline() = %v, %v; want epoch+5s, true", d, ok)
	}
	d, _ := f.NextDeadline()
	f.Advance(d.Sub(f.Now())) // a test's jump to the next event
	if n := f.Waiters(); n != 0 {
		t.Errorf("Waiters() = %d after all fired, want 0", n)
	}
}

// BlockUntil must wait, without polling, for another goroutine to arm
// timers. synctest.Wait tells us when every goroutine in the bubble is
// durably blocked, so "has not returned yet" is a fact, not a guess.
func TestFakeBlockUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := clock.NewFake(epoch)
		done := make(chan error, 1)
		go func() { done <- f.BlockUntil(t.Context(), 2) }()

		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("BlockUntil returned %v with no timers", err)
		default:
		}

		armed := make(chan struct{})
		go func() {
			f.NewTimer(time.Second)
			f.AfterFunc(time.Second, func() {})
			close(armed)
		}()
		<-armed
		if err := <-done; err != nil {
			t.Errorf("BlockUntil = %v, want nil", err)
		}
		// Already satisfied: returns at once.
		if err := f.BlockUntil(t.Context(), 2); err != nil {
			t.Errorf("BlockUntil when satisfied = %v, want nil", err)
		}
	})
}

func TestFakeBlockUntilHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := clock.NewFake(epoch)
		f.NewTimer(time.Second) // one is not enough

		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- f.BlockUntil(ctx, 2) }()
		synctest.Wait()
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("BlockUntil = %v, want context.Canceled", err)
		}

		// A deadline on the real (here, bubbled) clock works too.
		ctx, cancel = context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		if err := f.BlockUntil(ctx, 2); err != context.DeadlineExceeded {
			t.Errorf("BlockUntil = %v, want context.DeadlineExceeded", err)
		}
	})
}

// TestFakeConcurrent gives the race detector something to chew on: timers
// armed, reset, stopped and received from while another goroutine advances
// time. Every timer must fire exactly once after its last Reset unless it
// was stopped.
func TestFakeConcurrent(t *testing.T) {
	f := clock.NewFake(epoch)
	const workers, rounds = 8, 200
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
				f.Advance(time.Millisecond)
			}
		}
	}()
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				d := time.Duration(i%5) * time.Millisecond
				tm := f.NewTimer(d)
				tm.Reset(d)
				_ = f.Now()
				_ = f.Waiters()
				_, _ = f.NextDeadline()
				if (w+i)%2 == 0 {
					tm.Stop()
					continue
				}
				<-tm.C()
			}
		})
	}
	wg.Wait()
	close(stop)
}

func ExampleFake() {
	start := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(start)

	// A renewal loop: every 30s, renew and re-arm.
	var renew clock.Timer
	renew = clk.AfterFunc(30*time.Second, func() {
		fmt.Println("renew at", clk.Now().Sub(start))
		renew.Reset(30 * time.Second)
	})
	expiry := clk.NewTimer(time.Minute + 15*time.Second)

	clk.Advance(2 * time.Minute) // returns at once, having fired everything due

	fmt.Println("expired at", (<-expiry.C()).Sub(start))
	fmt.Println("now", clk.Now().Sub(start), "with", clk.Waiters(), "timer armed")
	// Output:
	// renew at 30s
	// renew at 1m0s
	// renew at 1m30s
	// renew at 2m0s
	// expired at 1m15s
	// now 2m0s with 1 timer armed
}
