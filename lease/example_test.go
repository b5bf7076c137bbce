package lease_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nfslease/nfslease/lease"
)

// A worker holds a lease while it works and stops as soon as it is lost.
func ExampleAcquire() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "nightly.lock")

	held, release, err := lease.Acquire(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer release()

	for step := range 3 {
		// Check the lease before each action it protects.
		if held.Err() != nil {
			fmt.Println("lease lost:", context.Cause(held))
			return
		}
		fmt.Println("step", step)
	}
	if err := release(); err != nil {
		fmt.Println("release:", err)
	}
	fmt.Println("cause after release:", context.Cause(held))
	// Output:
	// step 0
	// step 1
	// step 2
	// cause after release: lease: released
}

// TryAcquire does not wait: it reports who holds the lock.
func ExampleTryAcquire() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "nightly.lock")

	_, release, err := lease.Acquire(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer release()

	_, _, err = lease.TryAcquire(context.Background(), path)
	var he *lease.HeldError
	if errors.As(err, &he) {
		fmt.Println("held by pid", he.Holder.Pid == os.Getpid(), "lifetime", he.Holder.Lifetime)
	}
	fmt.Println(errors.Is(err, lease.ErrHeld))
	// Output:
	// held by pid true lifetime 15s
	// true
}

// When the lease is lost, context.Cause(held) says why, and release
// reports that the work was not protected throughout.
func ExampleLostError() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "nightly.lock")

	held, release, err := lease.Acquire(context.Background(), path,
		lease.WithLifetime(time.Second), lease.WithRenewDeadline(600*time.Millisecond), lease.WithRefreshInterval(100*time.Millisecond))
	if err != nil {
		fmt.Println(err)
		return
	}
	os.RemoveAll(path) // someone else removes our lock
	<-held.Done()

	var le *lease.LostError
	fmt.Println(errors.Is(context.Cause(held), lease.ErrLost), errors.As(context.Cause(held), &le))
	fmt.Println(errors.Is(release(), lease.ErrLost))
	// Output:
	// true true
	// true
}

// Inspect tells who holds a lock without touching it.
func ExampleInspect() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "nightly.lock")

	info, err := lease.Inspect(path)
	fmt.Println(info.State, err)

	_, release, err := lease.Acquire(context.Background(), path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer release()
	info, err = lease.Inspect(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.State, info.Protocol, info.Pid == os.Getpid(), info.Lifetime)
	// Output:
	// unlocked <nil>
	// ours strict true 15s
}

// Lead runs a function while this process is the leader, and campaigns
// again if leadership is lost.
func ExampleLead() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "leader.lock")

	cb := lease.LeaderCallbacks{
		OnStartedLeading: func() { fmt.Println("started leading") },
		OnStoppedLeading: func() { fmt.Println("stopped leading") },
	}
	err := lease.Lead(context.Background(), path, func(leading context.Context) error {
		// Do the leader's work; stop when leading is done.
		fmt.Println("leading:", leading.Err() == nil)
		return nil
	}, lease.WithLeaderCallbacks(cb))
	fmt.Println("Lead:", err)
	// Output:
	// started leading
	// leading: true
	// stopped leading
	// Lead: <nil>
}

// An event hook sees what happens to a lease, for metrics or tracing.
func ExampleWithEventHook() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "nightly.lock")

	hook := lease.WithEventHook(func(e lease.Event) {
		// Called synchronously: keep it fast (count, observe a histogram).
		fmt.Println(e.Kind, e.Err)
	})
	_, release, err := lease.Acquire(context.Background(), path, hook)
	if err != nil {
		fmt.Println(err)
		return
	}
	release()
	// Output:
	// acquired <nil>
	// released <nil>
}

// Leader callbacks tell a campaigning process when it starts and stops
// leading, and who leads meanwhile.
func ExampleWithLeaderCallbacks() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "leader.lock")

	terms := 0
	cb := lease.LeaderCallbacks{
		OnStartedLeading: func() { terms++ },
		OnStoppedLeading: func() { fmt.Println("term", terms, "over") },
	}
	for range 2 {
		_ = lease.Lead(context.Background(), path, func(context.Context) error { return nil },
			lease.WithLeaderCallbacks(cb))
	}
	// Output:
	// term 1 over
	// term 2 over
}

// WithLogger sends the lease's own log lines (acquired, refreshed,
// retries, losses, releases) to a slog.Logger; Debug shows every step.
func ExampleWithLogger() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "nightly.lock")

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		// Drop or shorten what changes from run to run, to keep the
		// output below.
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			switch a.Key {
			case slog.TimeKey, "waited", "took":
				return slog.Attr{}
			case "lock":
				return slog.String("lock", filepath.Base(a.Value.String()))
			}
			return a
		},
	}))
	_, release, err := lease.Acquire(context.Background(), path, lease.WithLogger(logger))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := release(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// level=DEBUG msg=acquired lock=nightly.lock token=1
	// level=DEBUG msg=released lock=nightly.lock
}
