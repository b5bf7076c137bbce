package lease_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/lease"
)

// leadResult runs Lead in a goroutine and returns a channel for its error.
func goLead(ctx context.Context, path string, fn func(context.Context) error, opts ...lease.Option) <-chan error {
	done := make(chan error, 1)
	go func() { done <- lease.Lead(ctx, path, fn, opts...) }()
	return done
}

func TestLeadFnReturnsNil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var started, stopped int
		cb := lease.WithLeaderCallbacks(lease.LeaderCallbacks{
			OnStartedLeading: func() { started++ },
			OnStoppedLeading: func() { stopped++ },
		})
		calls := 0
		err := lease.Lead(t.Context(), dir+"/a.lock", func(leading context.Context) error {
			calls++
			if leading.Err() != nil {
				t.Errorf("leading done inside fn: %v", context.Cause(leading))
			}
			if info, err := lease.Inspect(dir+"/a.lock", w.opts()...); err != nil || info.State != lease.Ours {
				t.Errorf("Inspect while leading = %v, %v; want ours", info, err)
			}
			return nil
		}, w.opts(cb)...)
		if err != nil || calls != 1 || started != 1 || stopped != 1 {
			t.Errorf("Lead = %v after %d calls, %d starts, %d stops; want nil, 1, 1, 1", err, calls, started, stopped)
		}
		w.wantEmpty()
	})
}

func TestLeadFnReturnsError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		boom := errors.New("boom")
		err := lease.Lead(t.Context(), dir+"/a.lock", func(context.Context) error { return boom }, w.opts()...)
		if err != boom {
			t.Errorf("Lead = %v, want fn's error", err)
		}
		w.wantEmpty()
	})
}

// When the lock is removed behind the leader's back, leading is cancelled
// with ErrLost, and Lead campaigns again and calls fn again.
func TestLeadLostCampaignsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var causes []error
		var mu sync.Mutex
		done := goLead(t.Context(), dir+"/a.lock", func(leading context.Context) error {
			mu.Lock()
			n := len(causes)
			mu.Unlock()
			if n > 0 {
				return nil // second term: done
			}
			<-leading.Done()
			mu.Lock()
			causes = append(causes, context.Cause(leading))
			mu.Unlock()
			return context.Cause(leading)
		}, w.opts()...)
		synctest.Wait()
		if err := w.mem.Remove(dir + "/a.lock"); err != nil {
			t.Fatal(err)
		}
		w.advance(5 * time.Second)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Lead = %v, want nil from the second term", err)
			}
		default:
			t.Fatal("Lead did not return after the second term")
		}
		if len(causes) != 1 || !errors.Is(causes[0], lease.ErrLost) {
			t.Errorf("first term's cause = %v, want ErrLost", causes)
		}
		w.wantEmpty()
	})
}

// When ctx is cancelled, Lead returns at once, wrapping ctx.Err(), and the
// lock is released.
func TestLeadContextCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		ctx, cancel := context.WithCancel(t.Context())
		done := goLead(ctx, dir+"/a.lock", func(leading context.Context) error {
			<-leading.Done()
			return context.Cause(leading)
		}, w.opts()...)
		w.advance(10 * time.Second)
		cancel()
		synctest.Wait() // no time passes
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Lead = %v, want it to wrap context.Canceled", err)
			}
		default:
			t.Fatal("Lead did not return promptly after cancel")
		}
		w.wantEmpty()
	})
}

// A process campaigning when ctx is cancelled returns at once too.
func TestLeadCancelledWhileCampaigning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		_, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts(lease.WithIdentity("other", 2))...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		ctx, cancel := context.WithCancel(t.Context())
		done := goLead(ctx, dir+"/a.lock", func(context.Context) error {
			t.Error("fn called while another holds the lock")
			return nil
		}, w.opts()...)
		w.advance(5 * time.Second)
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Lead = %v, want it to wrap context.Canceled", err)
			}
		default:
			t.Fatal("Lead did not return promptly after cancel")
		}
	})
}

// A leader that steps down hands over to a waiting process within the
// poll interval, not the lifetime; the waiter saw the leader meanwhile.
func TestLeadHandoff(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		path := dir + "/a.lock"
		stepDown := make(chan struct{})
		doneA := goLead(t.Context(), path, func(leading context.Context) error {
			<-stepDown
			return nil
		}, w.opts(lease.WithIdentity("a", 1))...)
		synctest.Wait()

		var startedB atomic.Pointer[time.Time]
		var seen []lease.Holder
		doneB := goLead(t.Context(), path, func(leading context.Context) error { return nil },
			w.opts(lease.WithIdentity("b", 2), lease.WithLeaderCallbacks(lease.LeaderCallbacks{
				OnStartedLeading: func() { now := w.clk.Now(); startedB.Store(&now) },
				OnNewLeader:      func(h lease.Holder) { seen = append(seen, h) },
			}))...)
		w.advance(20 * time.Second) // B's backoff reaches the poll interval (1s)
		if startedB.Load() != nil {
			t.Fatal("B leads while A does")
		}
		close(stepDown)
		synctest.Wait()
		if err := <-doneA; err != nil {
			t.Fatal(err)
		}
		released := w.clk.Now()
		for startedB.Load() == nil && w.clk.Now().Sub(released) < time.Minute {
			w.advance(10 * time.Millisecond)
		}
		handoff := startedB.Load().Sub(released)
		t.Logf("handoff after release: %v (poll interval 1s, lifetime 15s)", handoff)
		if handoff > time.Second+10*time.Millisecond {
			t.Errorf("B took over %v after A released, want within the poll interval (1s)", handoff)
		}
		if err := <-doneB; err != nil {
			t.Fatal(err)
		}
		if len(seen) != 1 || seen[0].Host != "a" || seen[0].Pid != 1 {
			t.Errorf("OnNewLeader saw %+v, want A once", seen)
		}
		w.wantEmpty()
	})
}

// Lead rejects invalid options before campaigning.
func TestLeadInvalidOption(t *testing.T) {
	err := lease.Lead(t.Context(), "/nonexistent/a.lock", func(context.Context) error { return nil }, lease.WithLifetime(time.Millisecond))
	if !errors.Is(err, lease.ErrInvalidOption) {
		t.Errorf("Lead = %v, want ErrInvalidOption", err)
	}
}
