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
	// prot is the protocol of the world's leases: Flufl, whose files and
	// calls the tests in this file look at, unless set (protocols_test.go
	// runs tests over each protocol).
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

// acquired is what Acquire returned.
type acquired struct {
	held    context.Context
	release func() error
	err     error
}

// acquireAdvancing runs Acquire in the background and advances the fake
// clock a second at a time until it returns. Before each step it calls
// tick, if not nil, with the time advanced so far.
func (w *world) acquireAdvancing(ctx context.Context, path string, tick func(advanced time.Duration), opts ...lease.Option) acquired {
	w.t.Helper()
	done := make(chan acquired, 1)
	go func() {
		held, release, err := lease.Acquire(ctx, path, opts...)
		done <- acquired{held, release, err}
	}()
	for advanced := time.Duration(0); ; advanced += time.Second {
		if tick != nil {
			tick(advanced)
		}
		select {
		case r := <-done:
			return r
		default:
			w.advance(time.Second)
		}
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

func TestTryAcquireBreaksExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		path := dir + "/a.lock"
		crash(t, w, algorithm.Flufl, path, 15*time.Second)
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
	forEach(t, func(t *testing.T, w *world, f flavour) {
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
		r := w.acquireAdvancing(t.Context(), lock, nil, w.opts(hook)...)
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
		got = slices.DeleteFunc(got, func(k lease.EventKind) bool { return k == lease.EventWaiting }) // reports of the wait
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
}
