package lease_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/lease"
)

// acquireAsync starts a blocking Acquire of path in a goroutine; the
// channel delivers its release function (nil on error, reported).
func acquireAsync(t *testing.T, ctx context.Context, path string, opts []lease.Option) <-chan func() error {
	t.Helper()
	ch := make(chan func() error, 1)
	go func() {
		_, release, err := lease.Acquire(ctx, path, opts...)
		if err != nil && ctx.Err() == nil {
			t.Errorf("Acquire: %v", err)
		}
		ch <- release
	}()
	return ch
}

// got returns what ch holds, or nil if nothing yet.
func got(ch <-chan func() error) func() error {
	select {
	case r := <-ch:
		return r
	default:
		return nil
	}
}

// TestReleaseWakesWaiter checks that a waiter of this process is woken by
// the release at once, not at its next poll: the fake clock never moves,
// so a waiter that needed its poll would never acquire.
func TestReleaseWakesWaiter(t *testing.T) {
	for _, p := range bothProtocols {
		t.Run(p.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w.prot = p
				path := dir + "/a.lock"
				_, release, err := lease.Acquire(t.Context(), path, w.opts()...)
				if err != nil {
					t.Fatal(err)
				}
				before := w.clk.Mono()
				b := acquireAsync(t, t.Context(), path, w.opts())
				synctest.Wait() // b has tried, and sleeps until its poll
				if got(b) != nil {
					t.Fatal("the waiter acquired a held lock")
				}
				if err := release(); err != nil {
					t.Fatal(err)
				}
				synctest.Wait()
				rb := got(b)
				if rb == nil {
					t.Fatal("the waiter did not acquire after the release without its poll")
				}
				if now := w.clk.Mono(); now != before {
					t.Fatalf("the clock moved by %v", now-before)
				}
				if err := rb(); err != nil {
					t.Fatal(err)
				}
				w.wantEmpty()
			})
		})
	}
}

// TestWaitersFIFO checks that waiters of one process are served in the
// order they came, and that a holder that releases and acquires again at
// once waits its turn behind them.
func TestWaitersFIFO(t *testing.T) {
	for _, p := range bothProtocols {
		t.Run(p.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w.prot = p
				path := dir + "/a.lock"
				_, releaseA, err := lease.Acquire(t.Context(), path, w.opts()...)
				if err != nil {
					t.Fatal(err)
				}
				b := acquireAsync(t, t.Context(), path, w.opts())
				synctest.Wait()
				c := acquireAsync(t, t.Context(), path, w.opts())
				synctest.Wait()
				if err := releaseA(); err != nil {
					t.Fatal(err)
				}
				a2 := acquireAsync(t, t.Context(), path, w.opts()) // the releaser, again
				synctest.Wait()
				for i, next := range []struct {
					name string
					ch   <-chan func() error
				}{{"B", b}, {"C", c}, {"A again", a2}} {
					r := got(next.ch)
					if r == nil {
						t.Fatalf("turn %d: %s did not acquire", i, next.name)
					}
					for _, o := range []<-chan func() error{b, c, a2} {
						if o != next.ch && len(o) > 0 {
							t.Fatalf("turn %d: another waiter acquired besides %s", i, next.name)
						}
					}
					if err := r(); err != nil {
						t.Fatal(err)
					}
					synctest.Wait()
				}
				if w.clk.Mono() != 0 {
					t.Errorf("the clock moved to %v", w.clk.Mono())
				}
				w.wantEmpty()
			})
		})
	}
}

// TestWakeBurstBounded checks that a burst of wake-ups makes a waiter
// attempt once at once, and no more until PollMin has passed.
func TestWakeBurstBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var ops atomic.Int64
		w.inject(func(fsopstest.Op) *fsopstest.Fault { ops.Add(1); return nil })
		path := dir + "/a.lock"
		_, release, err := lease.Acquire(t.Context(), path, w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		b := acquireAsync(t, ctx, path, w.opts())
		synctest.Wait()
		// One wake-up: one attempt, of k calls.
		n0 := ops.Load()
		lease.Released(path, w.opts()...)
		synctest.Wait()
		k := ops.Load() - n0
		if k == 0 {
			t.Fatal("a wake-up caused no attempt")
		}
		// A burst, at once after it: nothing until PollMin has passed since
		// the last attempt a wake-up caused, then one attempt.
		n1 := ops.Load()
		for range 100 {
			lease.Released(path, w.opts()...)
			synctest.Wait()
		}
		if d := ops.Load() - n1; d != 0 {
			t.Fatalf("a burst of 100 wake-ups within PollMin made %d calls, want 0 before PollMin", d)
		}
		w.clk.Advance(10 * time.Millisecond) // PollMin
		synctest.Wait()
		if d := ops.Load() - n1; d != k {
			t.Fatalf("after PollMin the burst made %d calls, want one attempt (%d)", d, k)
		}
		cancel()
		synctest.Wait()
		if got(b) != nil {
			t.Error("the waiter acquired a held lock")
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCourtesyOnlyAfterContention checks the courtesy window: a holder
// whose acquisition waited for another holder, acquiring again at once
// after its release, waits PollMin before its first attempt; one whose
// acquisition did not wait does not.
func TestCourtesyOnlyAfterContention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		w.prot = algorithm.Strict
		path := dir + "/a.lock"
		q0, _, _ := lease.RegistryCounts()
		// Uncontended: release and acquire again, no time passes.
		for range 3 {
			_, release, err := lease.Acquire(t.Context(), path, w.opts()...)
			if err != nil {
				t.Fatal(err)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
		}
		// Contended: B waits for A, takes it, releases, acquires again.
		_, releaseA, err := lease.Acquire(t.Context(), path, w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		b := acquireAsync(t, t.Context(), path, w.opts())
		synctest.Wait()
		if err := releaseA(); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		rb := got(b)
		if rb == nil {
			t.Fatal("B did not acquire")
		}
		if err := rb(); err != nil {
			t.Fatal(err)
		}
		b2 := acquireAsync(t, t.Context(), path, w.opts())
		synctest.Wait()
		if got(b2) != nil {
			t.Fatal("B acquired again at once after a contended release, without the courtesy window")
		}
		w.clk.Advance(10 * time.Millisecond)
		synctest.Wait()
		rb2 := got(b2)
		if rb2 == nil {
			t.Fatal("B did not acquire after the courtesy window")
		}
		if err := rb2(); err != nil {
			t.Fatal(err)
		}
		if q, _, _ := lease.RegistryCounts(); q != q0 {
			t.Errorf("%d queues in the registry, %d before: want none left", q, q0)
		}
	})
}
