package lease_test

import (
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// The tests in this file run the lease shell over the Strict protocol,
// the default.

func newStrictWorld(t *testing.T) *world {
	w := newWorld(t)
	w.prot = algorithm.Strict
	return w
}

func TestStrictIsTheDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		opts := []lease.Option{lease.WithFS(w.fs), lease.WithClock(w.clk)}
		_, release, err := lease.Acquire(t.Context(), dir+"/a.lock", opts...)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := w.mem.Lstat(dir + "/a.lock"); err != nil || !fi.Mode.IsDir() {
			t.Errorf("lock path: %+v, %v; want a generation directory", fi, err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

func TestStrictAcquireRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newStrictWorld(t)
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		if names := w.files(); !slices.Equal(names, []string{"a.lock"}) {
			t.Errorf("while held: %q, want the lock directory only", names)
		}
		w.advance(time.Minute)
		if isDone(held) {
			t.Fatalf("held done after refreshes: %v", context.Cause(held))
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

func TestStrictLockRemovedByAnother(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newStrictWorld(t)
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		w.advance(time.Second)
		if err := w.mem.Remove(dir + "/a.lock/owner"); err != nil {
			t.Fatal(err)
		}
		removed := w.clk.Now()
		for !isDone(held) && w.clk.Now().Sub(removed) < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		if got := w.clk.Now().Sub(removed); got > 3*time.Second {
			t.Errorf("loss noticed after %v, want within one refresh interval (3s)", got)
		}
		if cause := context.Cause(held); !errors.Is(cause, lease.ErrLost) || !errors.Is(cause, algorithm.ErrNotHeld) {
			t.Fatalf("cause = %v, want ErrLost wrapping algorithm.ErrNotHeld", cause)
		}
		if err := release(); !errors.Is(err, lease.ErrLost) {
			t.Errorf("release after loss = %v, want ErrLost", err)
		}
	})
}

func TestStrictRefreshEIOUntilDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newStrictWorld(t)
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		acquired := w.clk.Now()
		w.inject(eioOn("Dir.Chtimes", "Dir.ReadFile"))
		for !isDone(held) && w.clk.Now().Sub(acquired) < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		if lost := w.clk.Now().Sub(acquired); lost > 10*time.Second+50*time.Millisecond || lost < 10*time.Second {
			t.Errorf("lost %v after acquisition, want at the renew deadline (10s)", lost)
		}
		if cause := context.Cause(held); !errors.Is(cause, lease.ErrLost) || !errors.Is(cause, syscall.EIO) {
			t.Errorf("cause = %v, want ErrLost with the last EIO", cause)
		}
		w.inject(nil)
		if err := release(); !errors.Is(err, lease.ErrLost) {
			t.Errorf("release after loss = %v, want ErrLost", err)
		}
		// Past our deadline nothing shared is removed: the lock stays
		// until a waiter judges it stale.
		if names := w.files(); !slices.Equal(names, []string{"a.lock"}) {
			t.Errorf("files after release of a lost lease: %q, want only the lock", names)
		}
	})
}

func TestStrictBreakCrashedHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newStrictWorld(t)
		path := dir + "/a.lock"
		lk, err := algorithm.Strict.New(w.mem, path, proto.Config{Lifetime: 15 * time.Second, Hostname: "dead", Pid: 99})
		if err != nil {
			t.Fatal(err)
		}
		if att, err := lk.Acquire(proto.Instant{Wall: w.clk.Now(), Mono: w.clk.Now().Sub(epoch)}); err != nil || !att.Acquired {
			t.Fatalf("crash: %+v, %v", att, err)
		}
		crashed := w.clk.Now()
		// One look cannot prove a Strict lock stale: TryAcquire says held.
		_, _, err = lease.TryAcquire(t.Context(), path, w.opts()...)
		var he *lease.HeldError
		if !errors.As(err, &he) || he.Holder.Host != "dead" || he.Holder.Pid != 99 || he.Holder.Protocol != "strict" {
			t.Fatalf("TryAcquire = %v, want ErrHeld by dead/99", err)
		}
		got := make(chan error, 1)
		var release func() error
		go func() {
			var err error
			_, release, err = lease.Acquire(t.Context(), path, w.opts()...)
			got <- err
		}()
		for len(got) == 0 && w.clk.Now().Sub(crashed) < time.Minute {
			w.advance(10 * time.Millisecond)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		took := w.clk.Now().Sub(crashed)
		if want := 15*time.Second + proto.StaleMargin; took < want || took > want+100*time.Millisecond {
			t.Errorf("took over after %v, want %v", took, want)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

func TestStrictAcquireCancelledLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newStrictWorld(t)
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
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Fatalf("waiter: %v, want Canceled", err)
		}
		if names := w.files(); !slices.Equal(names, []string{"a.lock"}) {
			t.Errorf("files = %q, want the holder's lock only (no stage of the waiter)", names)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

func TestStrictSelfTestFailureIsClear(t *testing.T) {
	w := newWorld(t)
	_, _, err := lease.Acquire(t.Context(), dir+"/a.lock", lease.WithFS(rmdirAnything{w.mem}), lease.WithClock(w.clk))
	if !errors.Is(err, algorithm.ErrUnsupportedFS) {
		t.Fatalf("Acquire = %v, want ErrUnsupportedFS", err)
	}
	t.Log(err)
	w.wantEmpty()
}

// rmdirAnything is a filesystem whose rmdir removes directories with
// entries, which Strict cannot be safe on.
type rmdirAnything struct{ *fsopstest.Mem }

var _ fsops.FS = rmdirAnything{}

func (f rmdirAnything) Rmdir(name string) error {
	names, _ := f.ReadDir(name)
	for _, n := range names {
		f.Remove(name + "/" + n)
	}
	return f.Mem.Rmdir(name)
}
