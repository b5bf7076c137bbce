package lease_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/lease"
)

// breakResult is what a Break run in its own goroutine returned.
type breakResult struct {
	info lease.Info
	err  error
}

// startBreak runs Break in a goroutine of the bubble, so that the test can
// move the fake clock while it watches.
func startBreak(ctx context.Context, w *world, path string, force bool) <-chan breakResult {
	ch := make(chan breakResult, 1)
	go func() {
		info, err := lease.Break(ctx, path, force, w.opts()...)
		ch <- breakResult{info, err}
	}()
	return ch
}

func received(ch <-chan breakResult) (breakResult, bool) {
	select {
	case r := <-ch:
		return r, true
	default:
		return breakResult{}, false
	}
}

func TestBreakUnlocked(t *testing.T) {
	for _, force := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld(t)
			info, err := lease.Break(t.Context(), dir+"/a.lock", force, w.opts()...)
			if err != nil || info.State != lease.Unlocked {
				t.Errorf("Break(force=%v) of nothing = %+v, %v; want unlocked", force, info, err)
			}
			w.wantEmpty()
		})
	}
}

// A live holder refreshes its lock while Break watches: refused, and the
// holder keeps its lease.
func TestBreakRefusesLiveHolder(t *testing.T) {
	for _, proto := range bothProtocols {
		t.Run(proto.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w.prot = proto
				path := dir + "/a.lock"
				held, release, err := lease.Acquire(t.Context(), path, w.opts(lease.WithIdentity("holder", 2))...)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
				before := w.files()
				ch := startBreak(t.Context(), w, path, false)
				var r breakResult
				for i := 0; ; i++ {
					w.advance(100 * time.Millisecond)
					var ok bool
					if r, ok = received(ch); ok {
						break
					}
					if i > 100 {
						t.Fatal("Break still watching a live lock after 10s (the holder refreshes every 3s)")
					}
				}
				var he *lease.HeldError
				if !errors.Is(r.err, lease.ErrHeld) || !errors.As(r.err, &he) || he.Holder.Host != "holder" || he.Holder.Pid != 2 {
					t.Fatalf("Break of a live lock = %+v, %v; want ErrHeld naming the holder", r.info, r.err)
				}
				if held.Err() != nil {
					t.Errorf("the holder lost its lease: %v", context.Cause(held))
				}
				if after := w.files(); !slices.Equal(before, after) {
					t.Errorf("files before Break %q, after %q", before, after)
				}
				t.Log(r.err)
			})
		})
	}
}

// A crashed holder's lock is broken once it has stayed unchanged for its
// lifetime plus the stale margin, and not before.
func TestBreakDeadHolder(t *testing.T) {
	for _, proto := range bothProtocols {
		t.Run(proto.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w.prot = proto
				path := dir + "/a.lock"
				holdDead(t, w, proto, path, "gone", 7)
				ch := startBreak(t.Context(), w, path, false)
				w.advance(15 * time.Second)
				if r, ok := received(ch); ok {
					t.Fatalf("Break returned after watching 15s, less than lifetime + 1s: %+v, %v", r.info, r.err)
				}
				w.advance(3 * time.Second)
				r, ok := received(ch)
				if !ok {
					t.Fatal("Break still watching 18s after it started; want it broken after 16s and a poll")
				}
				if r.err != nil || r.info.State == lease.Unlocked || r.info.Host != "gone" || r.info.Pid != 7 || r.info.Protocol != proto.Name() {
					t.Fatalf("Break of a dead holder = %+v, %v", r.info, r.err)
				}
				w.wantEmpty()
			})
		})
	}
}

// A Flufl lock whose expiry is older than the skew allowance is stale in
// one look: Break needs no wait (a sleep would deadlock the bubble).
func TestBreakFluflExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		path := dir + "/a.lock"
		holdDead(t, w, algorithm.Flufl, path, "gone", 7)
		w.clk.Advance(26 * time.Second) // expiry at 15s, + 10s allowance
		info, err := lease.Break(t.Context(), path, false, w.opts()...)
		if err != nil || info.State != lease.Stale || info.Host != "gone" {
			t.Fatalf("Break of an expired Flufl lock = %+v, %v", info, err)
		}
		w.wantEmpty()
	})
}

// A forced break takes no wait, names the holder, and the holder finds out
// at its next refresh; nothing is left behind once it releases.
func TestBreakForceLiveHolder(t *testing.T) {
	for _, proto := range bothProtocols {
		t.Run(proto.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w.prot = proto
				path := dir + "/a.lock"
				held, release, err := lease.Acquire(t.Context(), path, w.opts(lease.WithIdentity("holder", 2))...)
				if err != nil {
					t.Fatal(err)
				}
				w.advance(time.Second)
				var events []lease.Event
				hook := lease.WithEventHook(func(e lease.Event) { events = append(events, e) })
				info, err := lease.Break(t.Context(), path, true, w.opts(hook)...)
				if err != nil || info.State != lease.Held || info.Host != "holder" || info.Pid != 2 || info.Protocol != proto.Name() {
					t.Fatalf("forced Break = %+v, %v", info, err)
				}
				if len(events) != 1 || events[0].Kind != lease.EventBrokeStale || events[0].Holder == nil || events[0].Holder.Pid != 2 {
					t.Errorf("events = %+v, want one EventBrokeStale naming the holder", events)
				}
				if i, err := lease.Inspect(path, w.opts()...); err != nil || i.State != lease.Unlocked {
					t.Errorf("after the break Inspect = %v, %v; want unlocked", i, err)
				}
				if held.Err() != nil {
					t.Errorf("held cancelled before the holder's next refresh: %v", context.Cause(held))
				}
				w.advance(3 * time.Second) // the refresh interval
				if !errors.Is(context.Cause(held), lease.ErrLost) {
					t.Errorf("held after the next refresh: cause %v, want ErrLost", context.Cause(held))
				}
				if err := release(); !errors.Is(err, lease.ErrLost) {
					t.Errorf("release = %v, want ErrLost", err)
				}
				w.wantEmpty()
			})
		})
	}
}

func TestBreakForceDeadHolder(t *testing.T) {
	for _, proto := range bothProtocols {
		t.Run(proto.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				path := dir + "/a.lock"
				holdDead(t, w, proto, path, "gone", 7)
				info, err := lease.Break(t.Context(), path, true, w.opts()...)
				if err != nil || info.Host != "gone" {
					t.Fatalf("forced Break of a dead holder = %+v, %v", info, err)
				}
				w.wantEmpty()
				// The lock is usable again at once.
				_, release, err := lease.TryAcquire(t.Context(), path, w.opts()...)
				if err != nil {
					t.Fatal(err)
				}
				if err := release(); err != nil {
					t.Fatal(err)
				}
			})
		})
	}
}

// A holder that releases while Break watches: nothing to break.
func TestBreakReleasedWhileWatched(t *testing.T) {
	for _, proto := range bothProtocols {
		t.Run(proto.Name(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				w := newWorld(t)
				w.prot = proto
				path := dir + "/a.lock"
				_, release, err := lease.Acquire(t.Context(), path, w.opts(lease.WithIdentity("holder", 2))...)
				if err != nil {
					t.Fatal(err)
				}
				ch := startBreak(t.Context(), w, path, false)
				w.advance(500 * time.Millisecond)
				if err := release(); err != nil {
					t.Fatal(err)
				}
				w.advance(2 * time.Second)
				r, ok := received(ch)
				if !ok || r.err != nil || r.info.State != lease.Unlocked {
					t.Fatalf("Break of a lock released meanwhile = %+v, %v (returned %v); want unlocked", r.info, r.err, ok)
				}
				w.wantEmpty()
			})
		})
	}
}

// Cancelling ctx stops the watch and changes nothing.
func TestBreakCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		w.prot = algorithm.Strict
		path := dir + "/a.lock"
		holdDead(t, w, algorithm.Strict, path, "gone", 7)
		before := memSnapshot(t, w.mem, dir)
		ctx, cancel := context.WithCancel(t.Context())
		ch := startBreak(ctx, w, path, false)
		w.advance(5 * time.Second)
		cancel()
		synctest.Wait()
		r, ok := received(ch)
		if !ok || !errors.Is(r.err, context.Canceled) || r.info.Host != "gone" {
			t.Fatalf("cancelled Break = %+v, %v (returned %v); want context.Canceled", r.info, r.err, ok)
		}
		if after := memSnapshot(t, w.mem, dir); !slices.Equal(before, after) {
			t.Errorf("a cancelled Break changed the directory:\nbefore %q\nafter  %q", before, after)
		}
	})
}

// Something that is not a lock is reported and left alone, forced or not.
func TestBreakNotALock(t *testing.T) {
	for _, force := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld(t)
			path := dir + "/a.lock"
			if err := w.mem.WriteFile(path, []byte("hello\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := memSnapshot(t, w.mem, dir)
			_, err := lease.Break(t.Context(), path, force, w.opts()...)
			if !errors.Is(err, algorithm.ErrNotLock) || !strings.HasPrefix(err.Error(), "lease: "+path+": ") {
				t.Errorf("Break(force=%v) of a file = %v, want ErrNotLock, beginning %q", force, err, "lease: "+path+": ")
			}
			if after := memSnapshot(t, w.mem, dir); !slices.Equal(before, after) {
				t.Errorf("Break changed the directory:\nbefore %q\nafter  %q", before, after)
			}
		})
	}
}

// Break on the real filesystem: a forced break of a live Strict lease.
func TestBreakOS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.lock")
	held, release, err := lease.Acquire(t.Context(), path, lease.WithLifetime(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	info, err := lease.Break(t.Context(), path, true)
	if err != nil || info.Pid != os.Getpid() {
		t.Fatalf("Break = %+v, %v", info, err)
	}
	select {
	case <-held.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("held not cancelled 5s after a forced break (refresh interval 200ms)")
	}
	if !errors.Is(context.Cause(held), lease.ErrLost) {
		t.Errorf("cause = %v", context.Cause(held))
	}
}
