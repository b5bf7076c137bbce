package lease_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/clock"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

const dir = "/locks"

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// world is an in-memory filesystem and a fake clock shared by the leases of
// one test. Tests run inside a synctest bubble so that synctest.Wait can
// tell when the refresher goroutines have caught up with the fake clock.
type world struct {
	t   *testing.T
	clk *clock.Fake
	mem *fsopstest.Mem
	fs  fsops.FS // what leases use: mem, or mem wrapped in faults
	// proto is the protocol of the world's leases. The tests in this file
	// look at files and calls of the Flufl format; strict_test.go has
	// those of the Strict format.
	prot algorithm.Protocol

	faults atomic.Pointer[func(fsopstest.Op) *fsopstest.Fault]
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, clk: clock.NewFake(epoch), prot: algorithm.Flufl}
	w.mem = fsopstest.NewMem(w.clk)
	if err := w.mem.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	w.fs = &fsopstest.Faulty{FS: w.mem, Inject: func(op fsopstest.Op) *fsopstest.Fault {
		if f := w.faults.Load(); f != nil {
			return (*f)(op)
		}
		return nil
	}}
	return w
}

// inject sets the fault function (nil: no faults).
func (w *world) inject(f func(fsopstest.Op) *fsopstest.Fault) {
	if f == nil {
		w.faults.Store(nil)
		return
	}
	w.faults.Store(&f)
}

func (w *world) opts(extra ...lease.Option) []lease.Option {
	return append([]lease.Option{lease.WithFS(w.fs), lease.WithClock(w.clk), lease.WithIdentity("test", 1), lease.WithProtocol(w.prot)}, extra...)
}

// advance moves the fake clock forward by d in small steps, letting every
// goroutine of the bubble run to a standstill after each step.
func (w *world) advance(d time.Duration) {
	w.t.Helper()
	const step = 50 * time.Millisecond
	for d > 0 {
		s := min(step, d)
		w.clk.Advance(s)
		synctest.Wait()
		d -= s
	}
}

func (w *world) files() []string {
	w.t.Helper()
	names, err := w.mem.ReadDir(dir)
	if err != nil {
		w.t.Fatal(err)
	}
	return withoutToken(w.t, names)
}

// withoutToken returns names without the fencing-token counter files
// (".<lock>.token.<N>"), which stay after a release: one per lock name.
// Two of one lock fail the test.
func withoutToken(t *testing.T, names []string) []string {
	t.Helper()
	var out []string
	seen := map[string]string{}
	for _, n := range names {
		i := strings.LastIndex(n, ".token.")
		if !strings.HasPrefix(n, ".") || i < 1 {
			out = append(out, n)
			continue
		}
		base := n[1:i]
		if _, ok := proto.ParseTokenName(n, base); !ok {
			out = append(out, n)
			continue
		}
		if prev, ok := seen[base]; ok {
			t.Errorf("two token counter files of lock %q: %q and %q", base, prev, n)
		}
		seen[base] = n
	}
	return out
}

func (w *world) wantEmpty() {
	w.t.Helper()
	if names := w.files(); len(names) != 0 {
		w.t.Errorf("files left behind in %s: %q", dir, names)
	}
}

func isDone(ctx context.Context) bool {
	select {
	case <-ctx.Done():
		return true
	default:
		return false
	}
}

func TestAcquireRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(w.files()); n != 2 {
			t.Errorf("while held: %d files %q, want the lock and its claim", n, w.files())
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
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		w.advance(time.Second)
		if err := w.mem.Remove(dir + "/a.lock"); err != nil {
			t.Fatal(err)
		}
		removed := w.clk.Now()
		for !isDone(held) && w.clk.Now().Sub(removed) < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		// Refresh every lifetime/5 = 3s: noticed within one refresh.
		if got := w.clk.Now().Sub(removed); got > 3*time.Second {
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
		for _, n := range names {
			if op.Name == n {
				return &fsopstest.Fault{Err: syscall.EIO}
			}
		}
		return nil
	}
}

func TestRefreshEIOUntilDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		acquired := w.clk.Now()
		w.inject(eioOn("Chtimes", "ReadFile"))
		for !isDone(held) && w.clk.Now().Sub(acquired) < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		lostAfter := w.clk.Now().Sub(acquired)
		// Renew deadline 10s after the start of the last successful
		// refresh (the acquisition): lost at 10s, well before the
		// lifetime (15s) when others may judge the lock stale.
		if lostAfter > 10*time.Second+50*time.Millisecond || lostAfter < 10*time.Second {
			t.Errorf("lost %v after acquisition, want at the renew deadline (10s)", lostAfter)
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
		// The lock itself stays until it is judged stale: we never remove
		// a lock after our deadline. Only our claim is gone.
		if names := w.files(); len(names) != 1 || names[0] != "a.lock" {
			t.Errorf("files after release of a lost lease: %q, want only the lock", names)
		}
	})
}

func TestRefreshTransientEIO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		w.inject(eioOn("Chtimes"))
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
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		acquired := w.clk.Now()
		// Every refresh applies but takes 4s (longer than the 3s refresh
		// interval): a waiter may have judged the lock before it landed,
		// so it must not move the deadline.
		w.inject(func(op fsopstest.Op) *fsopstest.Fault {
			if op.Name == "Chtimes" {
				w.clk.Advance(4 * time.Second)
			}
			return nil
		})
		for !isDone(held) && w.clk.Now().Sub(acquired) < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		if got := w.clk.Now().Sub(acquired); got > 15*time.Second {
			t.Errorf("lost only %v after acquisition; slow refreshes extended it", got)
		}
		if !errors.Is(context.Cause(held), lease.ErrLost) {
			t.Errorf("cause = %v, want ErrLost", context.Cause(held))
		}
	})
}

func TestReleaseAfterLossReportsLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		_, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		// Replace the lock with someone else's, as a breaker would.
		if err := w.mem.Remove(dir + "/a.lock"); err != nil {
			t.Fatal(err)
		}
		other := dir + "/a.lock|other|7|9"
		if err := w.mem.WriteFile(other, []byte(other), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := w.mem.Link(other, dir+"/a.lock"); err != nil {
			t.Fatal(err)
		}
		// Release before any refresh noticed: release itself finds out,
		// reports the loss, and leaves the other holder's lock alone.
		err = release()
		if !errors.Is(err, lease.ErrLost) {
			t.Fatalf("release = %v, want ErrLost", err)
		}
		if err2 := release(); err2 != err {
			t.Errorf("second release = %v, want the first result %v", err2, err)
		}
		names := w.files()
		if len(names) != 2 || names[0] != "a.lock" || names[1] != "a.lock|other|7|9" {
			t.Errorf("files = %q, want the other holder's lock and claim untouched", names)
		}
	})
}

func TestParentCancelReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
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
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
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
		if he.Holder.Host != "test" || he.Holder.Pid != 1 || he.Holder.Lifetime != lease.DefaultLifetime {
			t.Errorf("holder = %+v, want host test pid 1 lifetime 15s", he.Holder)
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
		released := w.clk.Now()
		for len(got) == 0 {
			w.advance(10 * time.Millisecond)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		if d := w.clk.Now().Sub(released); d > 1200*time.Millisecond {
			t.Errorf("handoff took %v, want within the poll interval (1s)", d)
		}
		if err := release2(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

func TestAcquireCancelledWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		_, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
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
		if n := len(w.files()); n != 2 {
			t.Errorf("files = %q, want only the holder's lock and claim", w.files())
		}
	})
}

// crash leaves a lock as a holder that died would: acquired with the
// algorithm directly, then never refreshed or released.
func crash(t *testing.T, w *world, path string, lifetime time.Duration) {
	t.Helper()
	lk, err := algorithm.Flufl.New(w.mem, path, proto.Config{Lifetime: lifetime, Hostname: "dead", Pid: 99})
	if err != nil {
		t.Fatal(err)
	}
	att, err := lk.Acquire(proto.Instant{Wall: w.clk.Now(), Mono: w.clk.Now().Sub(epoch)})
	if err != nil || !att.Acquired {
		t.Fatalf("crash: acquire = %+v, %v", att, err)
	}
}

func TestBreakCrashedHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		path := dir + "/a.lock"
		crash(t, w, path, 15*time.Second)
		crashed := w.clk.Now()

		// TryAcquire cannot prove it stale yet.
		if _, _, err := lease.TryAcquire(t.Context(), path, w.opts()...); !errors.Is(err, lease.ErrHeld) {
			t.Fatalf("TryAcquire on a fresh crashed lock = %v, want ErrHeld", err)
		}
		got := make(chan error, 1)
		var release func() error
		go func() {
			var err error
			_, release, err = lease.Acquire(t.Context(), path, w.opts(lease.WithSkewAllowance(-1))...)
			got <- err
		}()
		for len(got) == 0 && w.clk.Now().Sub(crashed) < time.Minute {
			w.advance(10 * time.Millisecond)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		// Watched unchanged for the recorded lifetime plus the margin.
		took := w.clk.Now().Sub(crashed)
		if want := 15*time.Second + proto.StaleMargin; took < want || took > want+100*time.Millisecond {
			t.Errorf("took over after %v, want %v", took, want)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty() // the dead holder's claim went with the break
	})
}

func TestTryAcquireBreaksExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		path := dir + "/a.lock"
		crash(t, w, path, 15*time.Second)
		// Expired by more than the skew allowance (10s) on the wall clock.
		w.clk.Advance(25*time.Second + time.Millisecond)
		_, release, err := lease.TryAcquire(t.Context(), path, w.opts()...)
		if err != nil {
			t.Fatalf("TryAcquire on an expired lock: %v", err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

func TestNonRetryableErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *world) string
		want  error
	}{
		{"missing directory", func(w *world) string { return "/nowhere/a.lock" }, fs.ErrNotExist},
		{"lock path is a directory", func(w *world) string {
			if err := w.mem.MkdirAll(dir+"/d.lock", 0o755); err != nil {
				t.Fatal(err)
			}
			return dir + "/d.lock"
		}, algorithm.ErrNotLock},
		{"unrelated file at the lock path", func(w *world) string {
			if err := w.mem.WriteFile(dir+"/notes.txt", []byte("my notes"), 0o644); err != nil {
				t.Fatal(err)
			}
			return dir + "/notes.txt"
		}, algorithm.ErrNotLock},
		{"path names a directory", func(w *world) string { return dir + "/" }, algorithm.ErrBadPath},
		{"separator in path", func(w *world) string { return dir + "/a|b.lock" }, algorithm.ErrBadPath},
		{"name too long", func(w *world) string { return dir + "/" + strings.Repeat("x", 220) }, syscall.ENAMETOOLONG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				path := tt.setup(w)
				before := w.files()
				_, _, err := lease.Acquire(t.Context(), path, w.opts()...)
				if !errors.Is(err, tt.want) {
					t.Fatalf("Acquire(%q) = %v, want %v", path, err, tt.want)
				}
				if !strings.Contains(err.Error(), strings.TrimSuffix(path, "/")) {
					t.Errorf("error %q does not name the path", err)
				}
				if after := w.files(); strings.Join(after, ",") != strings.Join(before, ",") {
					t.Errorf("files changed from %q to %q", before, after)
				}
			})
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		opts []lease.Option
	}{
		{"zero lifetime", []lease.Option{lease.WithLifetime(0)}},
		{"negative lifetime", []lease.Option{lease.WithLifetime(-time.Second)}},
		{"absurd lifetime", []lease.Option{lease.WithLifetime(100 * 365 * 24 * time.Hour)}},
		{"renew deadline not shorter than lifetime", []lease.Option{lease.WithRenewDeadline(15 * time.Second)}},
		{"renew deadline plus refresh too long", []lease.Option{lease.WithRenewDeadline(12 * time.Second), lease.WithRefreshInterval(4 * time.Second)}},
		{"margin under 5%", []lease.Option{lease.WithRenewDeadline(11900 * time.Millisecond), lease.WithRefreshInterval(3 * time.Second)}},
		{"refresh over half the deadline", []lease.Option{lease.WithRefreshInterval(6 * time.Second)}},
		{"negative renew deadline", []lease.Option{lease.WithRenewDeadline(-1)}},
		{"tiny refresh", []lease.Option{lease.WithRefreshInterval(time.Nanosecond)}},
		{"poll longer than lifetime", []lease.Option{lease.WithPollInterval(time.Minute)}},
		{"file mode with type bits", []lease.Option{lease.WithFileMode(fs.ModeDir | 0o644)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			_, _, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts(tt.opts...)...)
			if !errors.Is(err, lease.ErrInvalidOption) {
				t.Fatalf("Acquire = %v, want ErrInvalidOption", err)
			}
			w.wantEmpty()
		})
	}
}

func TestFileMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		_, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts(lease.WithFileMode(0o664))...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		fi, err := w.mem.Lstat(filepath.Join(dir, "a.lock"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode.Perm() != 0o664 {
			t.Errorf("lock mode = %v, want 0664", fi.Mode.Perm())
		}
	})
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return withoutToken(t, names)
}

// TestAcquireLateGrantTriesAgain: an attempt that took longer than the
// renew deadline (a call hung in a partition) acquires a lease that would
// be over before it is handed out, on a lock that others may be breaking
// as stale at that moment. Acquire does not hand it out and does not
// release it by name (that would race the breakers): it leaves it to go
// stale, waits like any waiter, breaks it, and returns a live lease with
// a fresh token.
func TestAcquireLateGrantTriesAgain(t *testing.T) {
	for _, prot := range []algorithm.Protocol{algorithm.Flufl, algorithm.Strict} {
		t.Run(prot.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w.prot = prot
				lock := dir + "/a.lock"
				hung := 0
				w.inject(func(op fsopstest.Op) *fsopstest.Fault {
					if op.Path2 == lock && hung == 0 {
						// The call that takes the lock name hangs for
						// longer than the renew deadline, then succeeds.
						hung++
						w.clk.Advance(time.Minute)
					}
					return nil
				})
				var (
					mu     sync.Mutex
					events []lease.EventKind
				)
				hook := lease.WithEventHook(func(e lease.Event) {
					mu.Lock()
					defer mu.Unlock()
					events = append(events, e.Kind)
				})
				type result struct {
					held    context.Context
					release func() error
					err     error
				}
				done := make(chan result, 1)
				go func() {
					held, release, err := lease.Acquire(t.Context(), lock, w.opts(hook)...)
					done <- result{held, release, err}
				}()
				var r result
				for r.held == nil && r.err == nil {
					select {
					case r = <-done:
					default:
						w.advance(time.Second)
					}
				}
				if r.err != nil {
					t.Fatal(r.err)
				}
				if hung != 1 {
					t.Fatalf("%d calls hung, want 1: the test did not run its case", hung)
				}
				if isDone(r.held) {
					t.Fatalf("Acquire returned a lease already over: %v", context.Cause(r.held))
				}
				if tok, _ := lease.TokenOf(r.held); tok != 2 {
					t.Errorf("token = %d, want 2 (the late grant's token 1 was never handed out)", tok)
				}
				mu.Lock()
				got := slices.Clone(events)
				mu.Unlock()
				if !slices.Equal(got, []lease.EventKind{lease.EventBrokeStale, lease.EventAcquired}) {
					t.Errorf("events = %v, want the late lock broken as stale, then one acquisition", got)
				}
				if err := r.release(); err != nil {
					t.Fatal(err)
				}
				w.wantEmpty()

				// TryAcquire makes one attempt: it says so and leaves
				// the lock to go stale.
				hung = 0
				_, _, err := lease.TryAcquire(t.Context(), lock, w.opts()...)
				if err == nil || !strings.Contains(err.Error(), "past the renew deadline") || !strings.Contains(err.Error(), lock) {
					t.Fatalf("TryAcquire with a hung call = %v, want an error naming %s and the renew deadline", err, lock)
				}
				if hung != 1 {
					t.Fatalf("TryAcquire: %d calls hung, want 1", hung)
				}
			})
		})
	}
}
