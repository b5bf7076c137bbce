package lease_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/lease"
)

// TestWallClockStep: a step of the holder's wall clock, backward or
// forward, changes nothing about a held lease's timing, which runs on the
// monotonic clock: with refreshes working it is not lost early, and with
// every refresh failing it is lost at its renew deadline (10s after the
// start of the last successful refresh), no later.
func TestWallClockStep(t *testing.T) {
	for _, step := range []time.Duration{-time.Hour, -4 * time.Second, 4 * time.Second, time.Hour} {
		t.Run(step.String()+"/refreshes work", func(t *testing.T) {
			forEach(t, func(t *testing.T, w *world, f flavour) {
				held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
				if err != nil {
					t.Fatal(err)
				}
				w.advance(time.Second)
				w.clk.Set(w.clk.Now().Add(step))
				w.advance(time.Minute) // four lifetimes
				if isDone(held) {
					t.Fatalf("lost after a wall-clock step of %v: %v", step, context.Cause(held))
				}
				if err := release(); err != nil {
					t.Fatalf("release: %v", err)
				}
				w.wantEmpty()
			})
		})
		t.Run(step.String()+"/refreshes fail", func(t *testing.T) {
			forEach(t, func(t *testing.T, w *world, f flavour) {
				held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
				acquired := w.clk.Mono()
				w.inject(func(fsopstest.Op) *fsopstest.Fault { return &fsopstest.Fault{Err: syscall.EIO} })
				w.advance(time.Second)
				w.clk.Set(w.clk.Now().Add(step))
				for !isDone(held) && w.clk.Mono()-acquired < time.Minute {
					w.advance(50 * time.Millisecond)
				}
				lostAfter := w.clk.Mono() - acquired
				if lostAfter < 10*time.Second || lostAfter > 10*time.Second+50*time.Millisecond {
					t.Errorf("lost %v after acquisition (wall-clock step %v), want at the renew deadline (10s)", lostAfter, step)
				}
				if cause := context.Cause(held); !errors.Is(cause, lease.ErrLost) {
					t.Errorf("cause = %v, want ErrLost", cause)
				}
			})
		})
	}
}
