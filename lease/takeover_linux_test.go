package lease_test

// A holder killed with SIGKILL on this machine is provably dead: its lock
// records its boot id, pid namespace, pid and start time, and the pid is
// gone. These tests run real holder processes (re-executed test binaries)
// with the default lifetime of 15 s and check that its lock is taken at
// once: by TryAcquire in its single attempt, and by Acquire within 100 ms,
// whether Acquire starts after the kill (the cron pattern) or was waiting
// already. A live holder, including one of another user, is never taken.

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/lease"
)

// takeoverBound is the bound on how long Acquire may take to get a
// SIGKILLed local holder's lock.
const takeoverBound = 100 * time.Millisecond

func init() {
	extraHelpers["hold-default"] = helperHoldDefault
}

// helperHoldDefault acquires the lock with the default lifetime and the
// protocol named in the environment, says so, and holds it until killed.
func helperHoldDefault(path string) error {
	p, ok := protocols[os.Getenv(protoEnv)]
	if !ok {
		p = algorithm.Strict
	}
	_, release, err := lease.Acquire(context.Background(), path, lease.WithProtocol(p))
	if err != nil {
		return err
	}
	defer release()
	os.Stdout.WriteString("acquired\n")
	select {}
}

// startHolder starts a helper that holds the lock at path with the default
// lifetime, and returns once it holds it.
func startHolder(t *testing.T, path, proto string) *exec.Cmd {
	t.Helper()
	cmd := helperCmd(t, "hold-default", path, protoEnv+"="+proto)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "acquired" {
		t.Fatalf("holder said %q, %v", line, err)
	}
	return cmd
}

// kill kills the holder with SIGKILL and reaps it (as its parent, a shell
// or cron, would): from then on its pid is gone.
func kill(t *testing.T, cmd *exec.Cmd) time.Time {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	return time.Now()
}

func TestDeadLocalHolderTakenAtOnce(t *testing.T) {
	for name, p := range protocols {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "job.lock")
			opts := []lease.Option{lease.WithProtocol(p)} // default lifetime: 15 s

			// A live holder is never taken, and is not reported dead.
			holder := startHolder(t, path, name)
			_, _, err := lease.TryAcquire(t.Context(), path, opts...)
			var he *lease.HeldError
			if !errors.As(err, &he) || he.Holder.Pid != holder.Process.Pid || he.Holder.Dead {
				t.Fatalf("TryAcquire while the holder lives = %v, want ErrHeld naming pid %d, not dead", err, holder.Process.Pid)
			}

			// TryAcquire after the kill: its one attempt breaks and takes it.
			killed := kill(t, holder)
			_, release, err := lease.TryAcquire(t.Context(), path, opts...)
			if err != nil {
				t.Fatalf("TryAcquire after SIGKILL of the holder = %v, want the lock", err)
			}
			t.Logf("TryAcquire took the lock %v after SIGKILL (lifetime 15s)", time.Since(killed).Round(time.Microsecond))
			if err := release(); err != nil {
				t.Fatal(err)
			}

			// Acquire after the kill (the cron pattern).
			holder = startHolder(t, path, name)
			killed = kill(t, holder)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, release, err = lease.Acquire(ctx, path, opts...)
			took := time.Since(killed)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Acquire started after SIGKILL took the lock %v after it", took.Round(time.Microsecond))
			if took > takeoverBound {
				t.Errorf("Acquire took a SIGKILLed local holder's lock %v after the kill, want within %v", took, takeoverBound)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}

			// Acquire waiting already when the holder is killed.
			holder = startHolder(t, path, name)
			type result struct {
				at      time.Time
				release func() error
				err     error
			}
			done := make(chan result, 1)
			go func() {
				_, release, err := lease.Acquire(ctx, path, opts...)
				done <- result{time.Now(), release, err}
			}()
			time.Sleep(2 * time.Second) // long enough for the backoff to reach its longest waits
			select {
			case r := <-done:
				t.Fatalf("Acquire returned while the holder lives: %v", r.err)
			default:
			}
			killed = kill(t, holder)
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			took = r.at.Sub(killed)
			t.Logf("Acquire waiting at the kill took the lock %v after it", took.Round(time.Microsecond))
			if took > takeoverBound {
				t.Errorf("waiting Acquire took a SIGKILLed local holder's lock %v after the kill, want within %v", took, takeoverBound)
			}
			if err := r.release(); err != nil {
				t.Fatal(err)
			}
			for _, name := range dirNames(t, dir) {
				if !strings.Contains(name, ".token.") { // the fencing counter stays
					t.Errorf("left behind: %s", name)
				}
			}
		})
	}
}

// TestLiveHolderOfAnotherUser: a waiter of another user cannot read the
// holder's start time (kill(2) answers EPERM); the holder is alive, and
// its lock is never taken, by TryAcquire or by an Acquire that waits 3 s.
func TestLiveHolderOfAnotherUser(t *testing.T) {
	requireRoot(t)
	for name, p := range protocols {
		t.Run(name, func(t *testing.T) {
			bin := publicBinary(t)
			dir := publicDir(t)
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "job.lock")
			startHolder(t, path, name) // as root, lifetime 15 s
			if r := runAs(t, bin, nobody, p, "try", path); r.Acquired || !r.Held {
				t.Errorf("TryAcquire as uid %d of root's live lock = %+v, want ErrHeld", nobody, r)
			}
			if r := runAs(t, bin, nobody, p, "acquire", path); r.Acquired || !r.Deadline {
				t.Errorf("Acquire (5 s) as uid %d of root's live lock = %+v, want its deadline", nobody, r)
			}
		})
	}
}
