package lease_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/lease"
)

// typedMem is an in-memory filesystem that says it is of kind typ.
type typedMem struct {
	*fsopstest.Mem
	typ string
}

func (m typedMem) FSType(string) (string, error) { return m.typ, nil }

// TestLocalTakeoverByKind: the lock of a dead holder of this machine is
// taken at once only where the directory is on a local kind of
// filesystem, or where WithLocalTakeover forces it; on a network
// filesystem (where clones of one machine may share the lock) and where
// it is forced off, the holder is not judged dead and the lock is held
// until its lifetime says stale.
func TestLocalTakeoverByKind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   string
		force []lease.Option
		takes bool
	}{
		{"ext4", "ext4", nil, true},
		{"tmpfs", "tmpfs", nil, true},
		{"nfs4", "nfs4", nil, false},
		{"fuse.glusterfs", "fuse.glusterfs", nil, false}, {"cifs", "cifs", nil, false},
		{"no kind", "", nil, false},
		{"nfs4 forced on", "nfs4", []lease.Option{lease.WithLocalTakeover(true)}, true},
		{"ext4 forced off", "ext4", []lease.Option{lease.WithLocalTakeover(false)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forProtocols(t, func(t *testing.T, p algorithm.Protocol) {
				synctest.Test(t, func(t *testing.T) {
					w := newWorld(t)
					w.prot = p
					if tc.typ != "" {
						w.fs.(*fsopstest.Faulty).FS = typedMem{w.mem, tc.typ}
					}
					m := fsopstest.NewMachine("build-7", 4026531836)
					holder := m.Start(4242)
					waiter := m.Start(7)
					path := dir + "/job.lock"
					opts := func(host string, pid int, id fsops.ProcID) []lease.Option {
						return w.opts(append([]lease.Option{lease.WithIdentity(host, pid), lease.WithProcs(m.Procs(id, false))}, tc.force...)...)
					}
					_, release, err := lease.Acquire(t.Context(), path, opts("build-7", 4242, holder)...)
					if err != nil {
						t.Fatal(err)
					}
					defer release()
					w.advance(2 * time.Second)
					m.Kill(4242)
					info, err := lease.Inspect(path, opts("build-7", 7, waiter)...)
					if err != nil {
						t.Fatal(err)
					}
					if info.Dead != tc.takes {
						t.Errorf("Inspect: Dead = %v, want %v (%s)", info.Dead, tc.takes, info)
					}
					_, rel2, err := lease.TryAcquire(t.Context(), path, opts("build-7", 7, waiter)...)
					switch {
					case tc.takes && err != nil:
						t.Fatalf("TryAcquire of a dead holder's lock on %q: %v, want it taken at once", tc.typ, err)
					case tc.takes:
						rel2()
					case !errors.Is(err, lease.ErrHeld):
						t.Fatalf("TryAcquire of a dead holder's lock on %q: %v, want ErrHeld (the lifetime rule only)", tc.typ, err)
					}
				})
			})
		})
	}
}

// TestWaitingOnLiveLocalHolder: a waiter (Acquire, or a watching Break)
// of a holder that is a live process of this machine probes that process
// often but reads the lock no more often than its backoff says, and takes
// (or breaks) the lock within about proto.LocalPoll once the process is
// gone.
func TestWaitingOnLiveLocalHolder(t *testing.T) {
	for _, tc := range []struct {
		name      string
		brk       bool
		wait      time.Duration // waited on the live holder before its death
		callsPerS int64         // bound on the waiter's filesystem calls per second meanwhile
	}{
		// 20 attempts a second (a look at the lock every LocalPoll) would
		// be 60 calls or more; the backoff's 1 to 3 attempts, under 20.
		{"acquire", false, 10 * time.Second, 20},
		// Break watches a lock that a live holder refreshes every 3 s,
		// and refuses it once it changes: the holder dies before that.
		{"break", true, 2 * time.Second, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forProtocols(t, func(t *testing.T, p algorithm.Protocol) {
				synctest.Test(t, func(t *testing.T) {
					w := newWorld(t)
					w.prot = p
					ext4 := typedMem{w.mem, "ext4"}
					w.fs.(*fsopstest.Faulty).FS = ext4
					var calls atomic.Int64
					counted := &fsopstest.Faulty{FS: ext4, Inject: func(fsopstest.Op) *fsopstest.Fault { calls.Add(1); return nil }}
					m := fsopstest.NewMachine("build-7", 4026531836)
					path := dir + "/job.lock"
					_, release, err := lease.Acquire(t.Context(), path, w.opts(lease.WithIdentity("build-7", 4242), lease.WithProcs(m.Procs(m.Start(4242), false)))...)
					if err != nil {
						t.Fatal(err)
					}
					defer release()
					opts := w.opts(lease.WithFS(counted), lease.WithIdentity("build-7", 7), lease.WithProcs(m.Procs(m.Start(7), false)))
					done := make(chan error, 1)
					go func() {
						if tc.brk {
							_, err := lease.Break(t.Context(), path, false, opts...)
							done <- err
							return
						}
						_, rel, err := lease.Acquire(t.Context(), path, opts...)
						if err == nil {
							err = rel()
						}
						done <- err
					}()
					w.advance(tc.wait / 2)
					before := calls.Load()
					w.advance(tc.wait / 2)
					if n := calls.Load() - before; n > tc.callsPerS*int64(tc.wait/2/time.Second) {
						t.Errorf("%d filesystem calls in %v of waiting on a live local holder, over %d a second", n, tc.wait/2, tc.callsPerS)
					}
					select {
					case err := <-done:
						t.Fatalf("returned while the holder lived: %v", err)
					default:
					}
					m.Kill(4242)
					w.advance(100 * time.Millisecond)
					select {
					case err := <-done:
						if err != nil {
							t.Fatalf("after the holder's death: %v", err)
						}
					default:
						t.Fatalf("not taken within 100 ms of the holder's death")
					}
				})
			})
		})
	}
}
