package lease_test

import (
	"errors"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/lease"
)

type eventLog struct {
	mu     sync.Mutex
	events []lease.Event
}

func (l *eventLog) hook(e lease.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) take() []lease.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

func kinds(es []lease.Event) []lease.EventKind {
	var k []lease.EventKind
	for _, e := range es {
		k = append(k, e.Kind)
	}
	return k
}

func TestEventHookLifecycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var log eventLog
		path := dir + "/a.lock"
		_, release, err := lease.Acquire(t.Context(), path, w.opts(lease.WithEventHook(log.hook))...)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the refresher has started its timer
		es := log.take()
		if len(es) != 1 || es[0].Kind != lease.EventAcquired || es[0].Path != path || es[0].Duration != 0 || !es[0].At.Equal(epoch) {
			t.Fatalf("events after Acquire = %+v, want one EventAcquired", es)
		}
		w.advance(3 * time.Second) // the first refresh
		if es := log.take(); len(es) != 1 || es[0].Kind != lease.EventRefreshed || es[0].Err != nil {
			t.Fatalf("events after a refresh = %+v, want EventRefreshed", es)
		}
		w.inject(eioOn("Chtimes"))
		w.advance(3 * time.Second)
		w.inject(nil)
		if es := log.take(); len(es) != 1 || es[0].Kind != lease.EventRefreshFailed || !errors.Is(es[0].Err, syscall.EIO) {
			t.Fatalf("events after a failed refresh = %+v, want EventRefreshFailed with EIO", es)
		}
		w.advance(time.Second) // the retry, 4x as often
		if es := log.take(); len(es) != 1 || es[0].Kind != lease.EventRefreshed {
			t.Fatalf("events after the retry = %+v, want EventRefreshed", es)
		}
		held := w.clk.Now().Sub(epoch)
		if err := release(); err != nil {
			t.Fatal(err)
		}
		es = log.take()
		if len(es) != 1 || es[0].Kind != lease.EventReleased || es[0].Duration != held || es[0].Err != nil {
			t.Fatalf("events after release = %+v, want EventReleased after %v", es, held)
		}
	})
}

func TestEventHookLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		var log eventLog
		held, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts(lease.WithEventHook(log.hook))...)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the refresher has started its timer
		log.take()
		if err := w.mem.Remove(dir + "/a.lock"); err != nil {
			t.Fatal(err)
		}
		w.advance(3 * time.Second)
		<-held.Done()
		es := log.take()
		if got := kinds(es); len(got) != 2 || got[0] != lease.EventRefreshFailed || got[1] != lease.EventLost || !errors.Is(es[1].Err, lease.ErrLost) {
			t.Fatalf("events after the lock was removed = %+v, want refresh failed, lost", es)
		}
		release()
		if es := log.take(); len(es) != 0 {
			t.Errorf("events after releasing a lost lease = %+v, want none", es)
		}
	})
}

func TestEventHookBrokeStale(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		var log eventLog
		holdDead(t, w, f.prot, dir+"/a.lock", "gone", 7)
		start := w.clk.Now()
		done := make(chan error, 1)
		go func() {
			_, release, err := lease.Acquire(t.Context(), dir+"/a.lock", w.opts(lease.WithEventHook(log.hook))...)
			if err == nil {
				err = release()
			}
			done <- err
		}()
		for len(done) == 0 && w.clk.Now().Sub(start) < time.Minute {
			w.advance(50 * time.Millisecond)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		es := log.take()
		// 16 s of waiting: one EventWaiting, after 5 s.
		if got := kinds(es); !slices.Equal(got, []lease.EventKind{lease.EventWaiting, lease.EventBrokeStale, lease.EventAcquired, lease.EventReleased}) {
			t.Fatalf("events = %v, want waiting, broke stale, acquired, released", got)
		}
		if h, d := es[0].Holder, es[0].Duration; h == nil || h.Host != "gone" || h.Pid != 7 || d < 5*time.Second || d > 6*time.Second {
			t.Errorf("waiting event: holder %+v after %v, want pid 7 on gone after 5 s", h, d)
		}
		es = es[1:]
		if h := es[0].Holder; h == nil || h.Host != "gone" || h.Pid != 7 {
			t.Errorf("stale holder = %+v, want pid 7 on gone", h)
		}
		if es[1].Duration < 15*time.Second {
			t.Errorf("acquired after waiting %v, want at least the lifetime", es[1].Duration)
		}
		t.Logf("broke %v's lock, acquired after %v", es[0].Holder.Pid, es[1].Duration)
	})
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[lease.EventKind]string{
		lease.EventAcquired: "acquired", lease.EventRefreshed: "refreshed", lease.EventRefreshFailed: "refresh failed",
		lease.EventLost: "lost", lease.EventReleased: "released", lease.EventBrokeStale: "broke stale", 0: "EventKind(0)",
	} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(k), k, want)
		}
	}
}
