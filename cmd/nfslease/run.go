//go:build unix

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// runCommand is nfslease run, and with lead nfslease lead.
func runCommand(args []string, lead bool, stdout, stderr io.Writer) int {
	name := "run"
	if lead {
		name = "lead"
	}
	fl := newFlags(name, "nfslease "+name+" [flags] LOCKPATH [--] COMMAND [ARGS...]")
	var lf leaseFlags
	lf.register(fl, lead)
	fl.SetInterspersed(false) // flags end at LOCKPATH, as flock(1)'s
	if st, done := parse(fl, name, args, stdout, stderr); done {
		return st
	}
	rest := fl.Args()
	if len(rest) == 0 || rest[0] == "" {
		return usageError(stderr, name, "missing LOCKPATH")
	}
	path, argv := rest[0], rest[1:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		return usageError(stderr, name, "missing COMMAND")
	}
	if msg := lf.check(); msg != "" {
		return usageError(stderr, name, msg)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return failure(stderr, exitError, fmt.Errorf("%s: %w", path, err))
	}
	// Find the command before taking the lock: a typo fails at once.
	prog, err := exec.LookPath(argv[0])
	if err != nil {
		st := exitNoExec
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			st = exitNotFound
		}
		return failure(stderr, st, fmt.Errorf("cannot run %s: %w", argv[0], unwrapExec(err)))
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)

	r := &runner{lf: &lf, path: path, abs: abs, prog: prog, argv: argv, sigs: sigs, stderr: stderr, opts: lf.options(stderr)}
	for {
		nonblock := r.lf.nonblock || (r.lf.wait.set && r.lf.wait.d == 0)
		wait := time.Duration(0) // forever
		if r.lf.wait.set {
			wait = r.lf.wait.d
		}
		held, release, st, done := r.acquire(lead, nonblock, wait)
		if done {
			return st
		}
		out := r.supervise(held)
		rerr := release()
		switch {
		case out.err != nil:
			return failure(stderr, exitError, out.err)
		case out.lost:
			cause := context.Cause(held)
			if !lead {
				fmt.Fprintf(stderr, "nfslease: %s; the command was stopped\n", message(cause))
				return exitLost
			}
			fmt.Fprintf(stderr, "nfslease: %s; the command was stopped, campaigning again\n", message(cause))
			if out.signal != nil {
				return 128 + int(out.signal.(syscall.Signal))
			}
			continue
		case errors.Is(rerr, lease.ErrLost):
			fmt.Fprintf(stderr, "nfslease: %s (found at release, after the command exited with status %d)\n", message(rerr), out.status)
			return exitLost
		case rerr != nil:
			// The command was protected throughout; the lock stays
			// until it goes stale.
			fmt.Fprintf(stderr, "nfslease: %s\n", message(rerr))
		}
		if lf.verbose {
			fmt.Fprintf(stderr, "nfslease: released %s; the command exited with status %d\n", abs, out.status)
		}
		return out.status
	}
}

// runner is one run or lead.
type runner struct {
	lf     *leaseFlags
	path   string // as given
	abs    string
	prog   string   // the command, resolved
	argv   []string // the command line as given
	sigs   chan os.Signal
	stderr io.Writer
	opts   []lease.Option
}

// acquire takes the lease: one attempt if nonblock, else waiting for up
// to wait (0: forever), and stopping at a signal. done reports that the
// command is over with status st: a conflict, an error, or a signal while
// waiting.
func (r *runner) acquire(lead, nonblock bool, wait time.Duration) (held context.Context, release func() error, st int, done bool) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu       sync.Mutex
		finished bool
		timedOut bool
	)
	if !nonblock && wait > 0 {
		// Not context.WithTimeout: held derives from ctx and must not
		// end at the timeout once the lease is ours.
		t := time.AfterFunc(wait, func() {
			mu.Lock()
			defer mu.Unlock()
			if !finished {
				timedOut = true
				cancel()
			}
		})
		defer t.Stop()
	}
	type result struct {
		held    context.Context
		release func() error
		err     error
	}
	ch := make(chan result, 1)
	start := time.Now()
	go func() {
		var res result
		if nonblock {
			res.held, res.release, res.err = lease.TryAcquire(ctx, r.path, r.opts...)
		} else {
			res.held, res.release, res.err = lease.Acquire(ctx, r.path, r.opts...)
		}
		mu.Lock()
		finished = true
		if timedOut && res.err == nil {
			// Acquired just as the timeout fired: held is cancelled.
			_ = res.release()
			res.err = context.Canceled
		}
		mu.Unlock()
		ch <- res
	}()
	var res result
	var sig os.Signal
	select {
	case res = <-ch:
	case sig = <-r.sigs:
		cancel()
		res = <-ch
		if res.err == nil {
			_ = res.release()
		}
	}
	switch {
	case sig != nil:
		if r.lf.verbose {
			fmt.Fprintf(r.stderr, "nfslease: %v while waiting for %s\n", sig, r.abs)
		}
		cancel()
		return nil, nil, 128 + int(sig.(syscall.Signal)), true
	case res.err == nil:
		if tok, ok := lease.TokenOf(res.held); ok && r.lf.verbose {
			fmt.Fprintf(r.stderr, "nfslease: acquired %s (token %d) after %v\n", r.abs, tok, time.Since(start).Round(time.Millisecond))
		}
		return res.held, func() error { defer cancel(); return res.release() }, 0, false
	}
	cancel()
	mu.Lock()
	to := timedOut
	mu.Unlock()
	switch {
	case errors.Is(res.err, lease.ErrHeld) && !lead:
		var he *lease.HeldError
		if errors.As(res.err, &he) && !he.Holder.Expires.IsZero() && time.Now().After(he.Holder.Expires) {
			// Its recorded expiry has passed: the holder stopped
			// refreshing (a live one keeps it 4/5 of a lifetime
			// ahead), or its clock is far off. One look cannot prove
			// it stale; wait it out as a blocking run would, for as
			// long as that takes at most, so that a crashed holder
			// does not turn every later -n into a conflict.
			bound := he.Holder.Lifetime + time.Second
			if he.Holder.Lifetime == 0 {
				bound = proto.DefaultSkewAllowance // Python's: expiry + the skew allowance
			}
			bound += 2 * time.Second // polls and filesystem slack
			if r.lf.verbose {
				// (The message says how long ago it expired.)
				fmt.Fprintf(r.stderr, "nfslease: %s: waiting up to %v to prove it stale\n", message(res.err), bound)
			}
			return r.acquire(lead, false, bound)
		}
		if r.lf.verbose {
			fmt.Fprintf(r.stderr, "nfslease: %s\n", message(res.err))
		}
		return nil, nil, r.lf.conflict, true
	case to:
		if r.lf.verbose {
			who := ""
			if info, err := lease.Inspect(r.path, takeoverOptions(r.lf.takeover)...); err == nil {
				who = ": " + info.String()
			}
			fmt.Fprintf(r.stderr, "nfslease: timed out after %v waiting for %s%s\n", wait, r.abs, who)
		}
		return nil, nil, r.lf.conflict, true
	}
	return nil, nil, failure(r.stderr, exitError, res.err), true
}

// outcome is how a supervised command ended.
type outcome struct {
	status int       // its exit status, shell-style
	lost   bool      // the lease was lost and the command stopped
	signal os.Signal // a signal nfslease got while stopping it after a loss
	err    error     // it could not be started
}

// supervise runs the command while held is live: it forwards signals to
// its process group and stops the group if held ends.
func (r *runner) supervise(held context.Context) outcome {
	if held.Err() != nil {
		return outcome{lost: true} // lost before the command could start
	}
	tok, _ := lease.TokenOf(held)
	cmd := exec.Command(r.prog)
	cmd.Args = r.argv
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "NFSLEASE_PATH="+r.abs, "NFSLEASE_TOKEN="+strconv.FormatUint(tok, 10))
	fg := foreground()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Foreground: fg, Ctty: 0}
	if err := cmd.Start(); err != nil {
		return outcome{err: fmt.Errorf("cannot run %s: %w", r.argv[0], unwrapExec(err))}
	}
	if fg {
		defer takeForeground()
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	var waitErr error
	go func() {
		defer close(exited)
		waitErr = waitExit(cmd) // on Linux it stays a zombie: its group id stays ours
	}()
	group := func(sig syscall.Signal) { _ = syscall.Kill(-pid, sig) }
	var out outcome
loop:
	for {
		select {
		case <-exited:
			break loop
		case s := <-r.sigs:
			group(s.(syscall.Signal))
		case <-held.Done():
			out.lost = true
			group(syscall.SIGTERM)
			grace := time.NewTimer(r.lf.graceOrDefault())
		stopping:
			for {
				select {
				case <-exited:
					break stopping
				case <-grace.C:
					break stopping
				case s := <-r.sigs:
					out.signal = s
					group(s.(syscall.Signal))
				}
			}
			grace.Stop()
			// Whatever is left of the group, the command included: the
			// command's zombie keeps the group id from being reused.
			group(syscall.SIGKILL)
			<-exited
			break loop
		}
	}
	if out.lost {
		group(syscall.SIGKILL) // anything the group started while exiting
	}
	out.status = exitStatus(reap(cmd, waitErr))
	return out
}

// exitStatus is a command's status as a shell reports it: its exit code,
// or 128+N if signal N killed it.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return exitError
}

// unwrapExec drops os/exec's repetition of the command name.
func unwrapExec(err error) error {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Err
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// foreground reports whether the command should get the terminal: stdin
// is a terminal whose foreground process group is ours. The command runs
// in its own process group (so that a lost lease stops all of it), and it
// must be the terminal's foreground group to read from it.
func foreground() bool {
	pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}

// takeForeground makes our process group the terminal's foreground group
// again after the command's; SIGTTOU, which a background group gets for
// trying, is ignored meanwhile.
func takeForeground() {
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(0, unix.TIOCSPGRP, unix.Getpgrp())
}
