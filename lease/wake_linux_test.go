package lease_test

import (
	"bufio"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nfslease/nfslease/clock"
	"github.com/nfslease/nfslease/lease"
)

func init() {
	extraHelpers["wakewait"] = helperWakeWait
}

// helperWakeWait waits for the lock at path on a fake clock that never
// moves, so that only a wake-up by the kernel (inotify) can end its wait:
// it says "waiting" once it sleeps until its next poll, and "acquired" when
// it has the lock. It gives up after 30 s of real time.
func helperWakeWait(path string) error {
	clk := clock.NewFake(time.Now())
	opts := append(helperOpts(), lease.WithClock(clk))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		_, release, err := lease.Acquire(ctx, path, opts...)
		if err == nil {
			fmt.Println("acquired")
			err = release()
		}
		res <- err
	}()
	// The acquisition tried once and sleeps on the fake clock.
	if err := clk.BlockUntil(ctx, 1); err != nil {
		return err
	}
	fmt.Println("waiting")
	if err := <-res; err != nil {
		return err
	}
	if clk.Mono() != 0 {
		return fmt.Errorf("the fake clock moved to %v", clk.Mono())
	}
	return nil
}

// TestWakeAcrossProcesses checks that a waiter in another process wakes
// when the lock is released, by inotify, without its poll: its clock never
// moves, so it would wait for ever otherwise.
func TestWakeAcrossProcesses(t *testing.T) {
	for name := range protocols {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.lock")
			opts := helperOptsFor(name)
			_, release, err := lease.Acquire(t.Context(), path, opts...)
			if err != nil {
				t.Fatal(err)
			}
			cmd := helperCmd(t, "wakewait", path, protoEnv+"="+name)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			rd := bufio.NewReader(out)
			if line, err := rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "waiting" {
				cmd.Process.Kill()
				t.Fatalf("helper said %q, %v; want waiting", line, err)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			if line, err := rd.ReadString('\n'); err != nil || strings.TrimSpace(line) != "acquired" {
				cmd.Process.Kill()
				t.Fatalf("helper said %q, %v; want acquired", line, err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("helper: %v", err)
			}
		})
	}
}

// helperOptsFor is helperOpts for the protocol name.
func helperOptsFor(name string) []lease.Option {
	return []lease.Option{lease.WithLifetime(2 * time.Second), lease.WithProtocol(protocols[name])}
}

// TestWatchSharedAndJoined checks that waiters in one directory share one
// watch, that only the first waiter of each lock watches (the others wait
// their turn), and that the watch and its goroutines are gone when the
// last waiter leaves.
func TestWatchSharedAndJoined(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	dir := t.TempDir()
	q0, w0, s0 := lease.RegistryCounts()
	opts := helperOptsFor("strict")
	var releases []func() error
	for _, n := range []string{"a.lock", "b.lock"} {
		_, release, err := lease.Acquire(t.Context(), filepath.Join(dir, n), opts...)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 6)
	for i := range 6 {
		path := filepath.Join(dir, []string{"a.lock", "b.lock"}[i%2])
		go func() {
			_, _, err := lease.Acquire(ctx, path, opts...)
			done <- err
		}()
	}
	// Wait (in real time) for the two first waiters to watch.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		q, w, s := lease.RegistryCounts()
		if q-q0 == 2 && w-w0 == 1 && s-s0 == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry: %d queues, %d watches, %d subscribers (before: %d, %d, %d); want 2 more queues, 1 more watch, 2 more subscribers",
				q, w, s, q0, w0, s0)
		}
	}
	cancel()
	for range 6 {
		if err := <-done; err == nil {
			t.Error("a waiter acquired a held lock")
		}
	}
	for _, r := range releases {
		if err := r(); err != nil {
			t.Fatal(err)
		}
	}
	if q, w, s := lease.RegistryCounts(); q != q0 || w != w0 || s != s0 {
		t.Errorf("registry after: %d queues, %d watches, %d subscribers; want %d, %d, %d as before", q, w, s, q0, w0, s0)
	}
}

// TestWatchStoppedByRelease checks that the watch of a waiter that took
// the lock is stopped and joined by its lease's release, not left behind.
func TestWatchStoppedByRelease(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	path := filepath.Join(t.TempDir(), "a.lock")
	opts := helperOptsFor("strict")
	_, q0, _ := lease.RegistryCounts()
	_, releaseA, err := lease.Acquire(t.Context(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		release func() error
		err     error
	}
	b := make(chan res, 1)
	go func() {
		_, release, err := lease.Acquire(t.Context(), path, opts...)
		b <- res{release, err}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, w, _ := lease.RegistryCounts(); w == q0+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiter did not start a watch")
		}
	}
	if err := releaseA(); err != nil {
		t.Fatal(err)
	}
	r := <-b
	if r.err != nil {
		t.Fatal(r.err)
	}
	if err := r.release(); err != nil {
		t.Fatal(err)
	}
	if _, w, s := lease.RegistryCounts(); w != q0 || s != 0 {
		t.Errorf("after the release: %d watches (%d before), %d subscribers; want the watch stopped", w, q0, s)
	}
}

// TestIdleWatchesBounded checks that at most a few watches stay open for
// the releases of leases that were acquired after a wait, however many
// directories they are in, and none after the releases.
func TestIdleWatchesBounded(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	opts := helperOptsFor("strict")
	_, w0, _ := lease.RegistryCounts()
	const dirs = 6
	type res struct {
		release func() error
		err     error
	}
	var holders []func() error
	var waiters []chan res
	for range dirs {
		path := filepath.Join(t.TempDir(), "a.lock")
		_, release, err := lease.Acquire(t.Context(), path, opts...)
		if err != nil {
			t.Fatal(err)
		}
		holders = append(holders, release)
		ch := make(chan res, 1)
		go func() {
			_, release, err := lease.Acquire(t.Context(), path, opts...)
			ch <- res{release, err}
		}()
		waiters = append(waiters, ch)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, w, _ := lease.RegistryCounts(); w-w0 == dirs {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiters did not start their watches")
		}
	}
	var releases []func() error
	for i, h := range holders {
		if err := h(); err != nil {
			t.Fatal(err)
		}
		r := <-waiters[i]
		if r.err != nil {
			t.Fatal(r.err)
		}
		releases = append(releases, r.release)
	}
	if _, w, _ := lease.RegistryCounts(); w-w0 > 4 {
		t.Errorf("%d watches left open for %d held leases, want at most 4", w-w0, dirs)
	}
	for _, r := range releases {
		if err := r(); err != nil {
			t.Fatal(err)
		}
	}
	if _, w, _ := lease.RegistryCounts(); w != w0 {
		t.Errorf("%d watches after the releases, want %d", w, w0)
	}
}
