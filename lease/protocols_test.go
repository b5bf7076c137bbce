package lease_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// bothProtocols are the protocols every hardening case that applies to
// both runs under.
var bothProtocols = []algorithm.Protocol{algorithm.Flufl, algorithm.Strict}

// The tests in this file run the lease shell over each protocol. What
// differs between them is in a flavour: the files a held lock shows, how
// another process removes it, and the calls a refresh makes.

type flavour struct {
	prot algorithm.Protocol
	// held reports whether names (the lock directory's entries, without
	// the token counter) are what one held lock a.lock shows.
	held func(names []string) bool
	// steal removes the lock at path from under its holder, as a breaker
	// that judged it wrongly would.
	steal func(w *world, path string) error
	// refresh names the calls a refresh makes: a touch and a read back.
	refresh []string
}

var flavours = []flavour{
	{
		prot: algorithm.Flufl,
		// The lock and its claim.
		held:    func(names []string) bool { return len(names) == 2 && slices.Contains(names, "a.lock") },
		steal:   func(w *world, path string) error { return w.mem.Remove(path) },
		refresh: []string{"Chtimes", "ReadFile"},
	},
	{
		prot: algorithm.Strict,
		// The generation directory, and no stage.
		held: func(names []string) bool { return slices.Equal(names, []string{"a.lock"}) },
		steal: func(w *world, path string) error {
			if err := w.mem.Remove(path + "/owner"); err != nil {
				return err
			}
			return w.mem.Rmdir(path)
		},
		refresh: []string{"Dir.Chtimes", "Dir.ReadFile"},
	},
}

// forEach runs test in a synctest bubble, in a world of each flavour.
func forEach(t *testing.T, test func(t *testing.T, w *world, f flavour)) {
	for _, f := range flavours {
		t.Run(f.prot.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w.prot = f.prot
				test(t, w, f)
			})
		})
	}
}

func TestAcquireRelease(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		if names := w.files(); !f.held(names) {
			t.Errorf("while held: %q, want one held lock", names)
		}
		w.advance(time.Minute) // four lifetimes: refreshes keep it
		if isDone(held) {
			t.Fatalf("held done after refreshes: %v", context.Cause(held))
		}
		if err := release(); err != nil {
			t.Fatalf("release: %v", err)
		}
		if !errors.Is(context.Cause(held), lease.ErrReleased) {
			t.Errorf("cause after release = %v, want ErrReleased", context.Cause(held))
		}
		if err := release(); err != nil {
			t.Errorf("second release: %v", err)
		}
		w.wantEmpty()
	})
}

func TestLockRemovedByAnother(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		w.advance(time.Second)
		if err := f.steal(w, dir+"/a.lock"); err != nil {
			t.Fatal(err)
		}
		removed := w.clk.Mono()
		for !isDone(held) && w.clk.Mono()-removed < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		// Refresh every lifetime/5 = 3s: noticed within one refresh.
		if got := w.clk.Mono() - removed; got > 3*time.Second {
			t.Errorf("loss noticed after %v, want within one refresh interval (3s)", got)
		}
		cause := context.Cause(held)
		var le *lease.LostError
		if !errors.Is(cause, lease.ErrLost) || !errors.As(cause, &le) || !errors.Is(cause, algorithm.ErrNotHeld) {
			t.Fatalf("cause = %v, want a *LostError wrapping ErrLost and algorithm.ErrNotHeld", cause)
		}
		if err := release(); !errors.Is(err, lease.ErrLost) {
			t.Errorf("release after loss = %v, want ErrLost", err)
		}
		w.wantEmpty()
	})
}

func eioOn(names ...string) func(fsopstest.Op) *fsopstest.Fault {
	return func(op fsopstest.Op) *fsopstest.Fault {
		if slices.Contains(names, op.Name) {
			return &fsopstest.Fault{Err: syscall.EIO}
		}
		return nil
	}
}

func TestRefreshEIOUntilDeadline(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		acquired := w.clk.Mono()
		w.inject(eioOn(f.refresh...))
		for !isDone(held) && w.clk.Mono()-acquired < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		// Renew deadline 10s after the start of the last successful
		// refresh (the acquisition): lost at 10s, well before the
		// lifetime (15s) when others may judge the lock stale.
		if lost := w.clk.Mono() - acquired; lost > 10*time.Second+50*time.Millisecond || lost < 10*time.Second {
			t.Errorf("lost %v after acquisition, want at the renew deadline (10s)", lost)
		}
		cause := context.Cause(held)
		if !errors.Is(cause, lease.ErrLost) || !errors.Is(cause, syscall.EIO) {
			t.Errorf("cause = %v, want ErrLost with the last EIO", cause)
		}
		// Refreshes that succeed now never revive the lease.
		w.inject(nil)
		w.advance(10 * time.Second)
		if !errors.Is(context.Cause(held), lease.ErrLost) {
			t.Errorf("cause changed to %v", context.Cause(held))
		}
		if err := release(); !errors.Is(err, lease.ErrLost) {
			t.Errorf("release after loss = %v, want ErrLost", err)
		}
		// Past our deadline nothing shared is removed: the lock stays
		// until a waiter judges it stale. Only what only we use is gone.
		if names := w.files(); !slices.Equal(names, []string{"a.lock"}) {
			t.Errorf("files after release of a lost lease: %q, want only the lock", names)
		}
	})
}

func TestRefreshTransientEIO(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		w.inject(eioOn(f.refresh[0]))
		w.advance(7 * time.Second) // two failed rounds and retries, deadline at 10s
		w.inject(nil)
		w.advance(30 * time.Second)
		if isDone(held) {
			t.Fatalf("lost after transient errors: %v", context.Cause(held))
		}
		if err := release(); err != nil {
			t.Fatalf("release: %v", err)
		}
		w.wantEmpty()
	})
}

func TestSlowRefreshDoesNotCount(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		acquired := w.clk.Mono()
		// Every refresh applies but takes 4s (longer than the 3s refresh
		// interval): a waiter may have judged the lock before it landed,
		// so it must not move the deadline.
		w.inject(func(op fsopstest.Op) *fsopstest.Fault {
			if op.Name == f.refresh[0] {
				w.clk.Advance(4 * time.Second)
			}
			return nil
		})
		for !isDone(held) && w.clk.Mono()-acquired < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		if got := w.clk.Mono() - acquired; got > 15*time.Second {
			t.Errorf("lost only %v after acquisition; slow refreshes extended it", got)
		}
		if !errors.Is(context.Cause(held), lease.ErrLost) {
			t.Errorf("cause = %v, want ErrLost", context.Cause(held))
		}
	})
}

func TestParentCancelReleases(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		ctx, cancel := context.WithCancelCause(t.Context())
		held, release, err := lease.Acquire(ctx, dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		boom := errors.New("shutting down")
		cancel(boom)
		synctest.Wait()
		if got := context.Cause(held); got != boom {
			t.Errorf("cause = %v, want the parent's %v", got, boom)
		}
		w.wantEmpty() // released promptly, without waiting for release()
		if err := release(); err != nil {
			t.Errorf("release = %v", err)
		}
	})
}

func TestSameProcessExclusion(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		path := dir + "/a.lock"
		_, release1, err := lease.Acquire(t.Context(), path, w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = lease.TryAcquire(t.Context(), path, w.opts()...)
		var he *lease.HeldError
		if !errors.Is(err, lease.ErrHeld) || !errors.As(err, &he) {
			t.Fatalf("TryAcquire while held = %v, want ErrHeld", err)
		}
		if he.Holder.Host != "test" || he.Holder.Pid != 1 || he.Holder.Lifetime != lease.DefaultLifetime || he.Holder.Protocol != f.prot.Name() {
			t.Errorf("holder = %+v, want host test pid 1 lifetime 15s protocol %s", he.Holder, f.prot.Name())
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the path", err)
		}

		got := make(chan error, 1)
		var release2 func() error
		go func() {
			var err error
			_, release2, err = lease.Acquire(t.Context(), path, w.opts()...)
			got <- err
		}()
		w.advance(20 * time.Second) // longer than a lifetime: refreshes keep it ours
		select {
		case err := <-got:
			t.Fatalf("second Acquire returned %v while the first held the lock", err)
		default:
		}
		if err := release1(); err != nil {
			t.Fatal(err)
		}
		released := w.clk.Mono()
		for len(got) == 0 {
			w.advance(10 * time.Millisecond)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if d := w.clk.Mono() - released; d > 1200*time.Millisecond {
			t.Errorf("handoff took %v, want within the poll interval (1s)", d)
		}
		if err := release2(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

func TestAcquireCancelledWhileWaiting(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		_, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		got := make(chan error, 1)
		go func() {
			_, _, err := lease.Acquire(ctx, dir+"/a.lock", w.opts()...)
			got <- err
		}()
		w.advance(2 * time.Second)
		cancel()
		synctest.Wait()
		err = <-got
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), dir+"/a.lock") {
			t.Errorf("Acquire = %v, want an error naming the path and wrapping context.Canceled", err)
		}
		if names := w.files(); !f.held(names) {
			t.Errorf("files = %q, want only the holder's lock (nothing of the waiter)", names)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

// crash leaves a lock as a holder that died would: acquired with the
// protocol directly, then never refreshed or released.
func crash(t *testing.T, w *world, prot algorithm.Protocol, path string, lifetime time.Duration) {
	t.Helper()
	lk, err := prot.New(w.mem, path, proto.Config{Lifetime: lifetime, Hostname: "dead", Pid: 99})
	if err != nil {
		t.Fatal(err)
	}
	att, err := lk.Acquire(proto.Instant{Wall: w.clk.Now(), Mono: w.clk.Mono()})
	if err != nil || !att.Acquired {
		t.Fatalf("crash: acquire = %+v, %v", att, err)
	}
}

func TestBreakCrashedHolder(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		path := dir + "/a.lock"
		crash(t, w, f.prot, path, 15*time.Second)
		crashed := w.clk.Mono()

		// One look cannot prove it stale yet.
		_, _, err := lease.TryAcquire(t.Context(), path, w.opts()...)
		var he *lease.HeldError
		if !errors.As(err, &he) || he.Holder.Host != "dead" || he.Holder.Pid != 99 || he.Holder.Protocol != f.prot.Name() {
			t.Fatalf("TryAcquire on a fresh crashed lock = %v, want ErrHeld by dead/99 (%s)", err, f.prot.Name())
		}
		got := make(chan error, 1)
		var release func() error
		go func() {
			var err error
			// No wall-clock rule (Flufl): only the watch judges.
			_, release, err = lease.Acquire(t.Context(), path, w.opts(lease.WithSkewAllowance(-1))...)
			got <- err
		}()
		for len(got) == 0 && w.clk.Mono()-crashed < time.Minute {
			w.advance(10 * time.Millisecond)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		// Watched unchanged for the recorded lifetime plus the margin.
		took := w.clk.Mono() - crashed
		if want := 15*time.Second + proto.StaleMargin; took < want || took > want+100*time.Millisecond {
			t.Errorf("took over after %v, want %v", took, want)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty() // the dead holder's files went with the break
	})
}
