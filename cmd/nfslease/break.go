//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

func breakCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("break", "nfslease break [--force] [-v] [--local-takeover auto|on|off] LOCKPATH")
	force := fs.BoolP("force", "f", false, "break the lock at once, whoever holds it (the holder finds out at its next refresh)")
	verbose := fs.BoolP("verbose", "v", false, "say what is being waited for")
	var takeover string
	registerTakeover(fs, &takeover)
	if st, done := parse(fs, "break", args, stdout, stderr); done {
		return st
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		return usageError(stderr, "break", "want exactly one LOCKPATH")
	}
	path := fs.Arg(0)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	before, err := lease.Inspect(path, takeoverOptions(takeover)...)
	if err != nil {
		return failure(stderr, exitError, err)
	}
	if !*force && before.State != lease.Unlocked && !before.Dead && (*verbose || isTerminal(os.Stderr)) {
		wait := "until it is proven stale"
		if !before.Expires.IsZero() {
			// The wall-clock rule: expiry + the 10s skew allowance.
			wait = fmt.Sprintf("until its expiry + 10s (in %v) to prove it stale", time.Until(before.Expires.Add(proto.DefaultSkewAllowance)).Round(100*time.Millisecond))
		}
		if before.Lifetime > 0 {
			wait = fmt.Sprintf("for up to %v (its lifetime + 1s) to prove it stale", before.Lifetime+time.Second)
		}
		fmt.Fprintf(stderr, "nfslease: watching %s %s; --force breaks it at once\n", path, wait)
	}
	info, err := lease.Break(ctx, path, *force, append(takeoverOptions(takeover), lease.WithLogger(newLogger(stderr, *verbose)))...)
	var he *lease.HeldError
	switch {
	case errors.As(err, &he):
		fmt.Fprintf(stderr, "nfslease: %s: refreshed while watched, so its holder is alive; nothing changed (--force breaks it anyway)\n", message(err))
		return exitConflict
	case err != nil && ctx.Err() != nil:
		fmt.Fprintf(stderr, "nfslease: %s: break interrupted; nothing changed\n", path)
		return exitConflict
	case err != nil:
		return failure(stderr, exitError, err)
	case info.State == lease.Unlocked:
		fmt.Fprintf(stdout, "%s: unlocked, nothing to break\n", path)
		return exitOK
	}
	fmt.Fprintf(stdout, "broke %s\n", info)
	return exitOK
}
