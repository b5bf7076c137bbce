// Command worker is a long-running worker that holds a lease while it
// works and stops its work the moment the lease is lost.
//
// It acquires a lease, works while a background goroutine refreshes it
// (watch the lock's expiry move forward, as lease.Inspect reports it),
// then simulates a loss by removing the lock as a stale-lock breaker on
// another host would: the worker sees held cancelled and stops, and
// release reports the loss. It then acquires again, finishes, and releases
// cleanly, leaving only the lock's fencing-token counter behind.
//
//	go run ./examples/worker [-dir DIR] [-lifetime 3s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/nfslease/nfslease/lease"
)

func main() {
	dir := flag.String("dir", "", "directory for the lock (default: a new temporary directory)")
	lifetime := flag.Duration("lifetime", 3*time.Second, "lease lifetime")
	flag.Parse()
	if err := run(*dir, *lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(dir string, lifetime time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// A demo must end: give up if something keeps it waiting.
	ctx, cancel := context.WithTimeout(ctx, 10*lifetime+time.Minute)
	defer cancel()
	if dir == "" {
		d, err := os.MkdirTemp("", "nfslease-worker-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "nightly.lock")
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := []lease.Option{lease.WithLifetime(lifetime), lease.WithLogger(logger)}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("%6.2fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}

	// Round 1: work until the lease is lost.
	held, release, err := lease.Acquire(ctx, path, opts...)
	if err != nil {
		return err
	}
	say("acquired %s (lifetime %v)", path, lifetime)
	lose := time.AfterFunc(2*lifetime, func() {
		say("simulating a loss: someone else removes the lock")
		os.RemoveAll(path)
	})
	defer lose.Stop()
	units := work(ctx, held, say, path, -1)
	say("stopped after %d units: %v", units, context.Cause(held))
	if err := release(); errors.Is(err, lease.ErrLost) {
		say("release reports the loss: the work was not protected throughout")
	} else if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}

	// Round 2: acquire again, finish, release cleanly.
	held, release, err = lease.Acquire(ctx, path, opts...)
	if err != nil {
		return err
	}
	say("acquired %s again", path)
	units = work(ctx, held, say, path, 4)
	if err := release(); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	say("finished %d units and released; left in %s: %q (the fencing-token counter)", units, dir, names)
	return nil
}

// work does units of work, each checking the lease first, until held is
// done, ctx is done, or n units are done (n < 0: no limit). It shows the
// lock's expiry as lease.Inspect reads it, which the background refresher
// keeps moving forward.
func work(ctx, held context.Context, say func(string, ...any), path string, n int) int {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	var lastExpiry time.Time
	for i := 0; n < 0 || i < n; i++ {
		select {
		case <-held.Done():
			return i
		case <-ctx.Done():
			return i
		case <-tick.C:
		}
		state := "gone"
		if info, err := lease.Inspect(path); err == nil && info.State != lease.Unlocked {
			state = "expires in " + time.Until(info.Expires).Round(100*time.Millisecond).String()
			if !lastExpiry.IsZero() && info.Expires.After(lastExpiry) {
				state = "refreshed, " + state
			}
			lastExpiry = info.Expires
		}
		say("working: unit %d (lock %s)", i+1, state)
	}
	return n
}
