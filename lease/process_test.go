package lease_test

// Cross-process tests re-execute the test binary as a helper process that
// takes the lock with the real filesystem and the real clock, as lockedfile
// does in the Go command's tests.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

const (
	helperEnv = "NFSLEASE_TEST_HELPER"   // the helper's role
	pathEnv   = "NFSLEASE_TEST_PATH"     // the lock path
	countEnv  = "NFSLEASE_TEST_COUNT"    // acquisitions to make (contend)
	protoEnv  = "NFSLEASE_TEST_PROTOCOL" // "flufl" or "strict" (default)
)

// protocols are the protocols the cross-process tests run under.
var protocols = map[string]algorithm.Protocol{"flufl": algorithm.Flufl, "strict": algorithm.Strict}

// helperOpts are the options of a helper's leases: a 2 s lifetime and the
// protocol named in the environment.
func helperOpts() []lease.Option {
	p, ok := protocols[os.Getenv(protoEnv)]
	if !ok {
		p = algorithm.Strict
	}
	return []lease.Option{lease.WithLifetime(2 * time.Second), lease.WithProtocol(p)}
}

// extraHelpers are helper roles defined by platform-specific test files.
var extraHelpers = map[string]func(path string) error{}

// runHelper runs the helper role named in the environment, if any, and
// reports whether it did.
func runHelper() bool {
	role := os.Getenv(helperEnv)
	if role == "" {
		return false
	}
	path := os.Getenv(pathEnv)
	var err error
	switch role {
	case "hold":
		err = helperHold(path)
	case "contend":
		n, _ := strconv.Atoi(os.Getenv(countEnv))
		err = helperContend(path, n)
	default:
		if h, ok := extraHelpers[role]; ok {
			err = h(path)
		} else {
			err = fmt.Errorf("unknown helper role %q", role)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// helperHold acquires the lock, says so on stdout, and holds it until
// killed.
func helperHold(path string) error {
	_, release, err := lease.Acquire(context.Background(), path, helperOpts()...)
	if err != nil {
		return err
	}
	defer release()
	fmt.Println("acquired")
	select {}
}

// helperContend takes the lock n times. Inside, it creates a marker file
// exclusively: if another holder is inside at the same time, the create
// fails, and that is a violation of mutual exclusion.
func helperContend(path string, n int) error {
	marker := path + ".inside"
	for i := range n {
		held, release, err := lease.Acquire(context.Background(), path, helperOpts()...)
		if err != nil {
			return err
		}
		f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			release()
			return fmt.Errorf("VIOLATION at acquisition %d: %w", i, err)
		}
		f.Close()
		time.Sleep(time.Millisecond)
		if held.Err() != nil {
			return fmt.Errorf("lease lost inside: %w", context.Cause(held))
		}
		if err := os.Remove(marker); err != nil {
			return err
		}
		if err := release(); err != nil {
			return fmt.Errorf("release: %w", err)
		}
	}
	return nil
}

func helperCmd(t *testing.T, role, path string, env ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+role, pathEnv+"="+path)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

func TestCrossProcessContention(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("cross-process tests use POSIX signals")
	}
	for name := range protocols {
		t.Run(name, func(t *testing.T) { testCrossProcessContention(t, name) })
	}
}

func testCrossProcessContention(t *testing.T, name string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.lock")
	const procs, each = 3, 40
	var cmds []*exec.Cmd
	for range procs {
		cmd := helperCmd(t, "contend", path, countEnv+"="+strconv.Itoa(each), protoEnv+"="+name)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper %d: %v", i, err)
		}
	}
	t.Logf("%d processes made %d acquisitions in total, one holder at a time", procs, procs*each)
	for _, name := range dirNames(t, dir) {
		t.Errorf("left behind: %s", name)
	}
}

func TestHolderKilled(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("cross-process tests use POSIX signals")
	}
	for name := range protocols {
		t.Run(name, func(t *testing.T) { testHolderKilled(t, name) })
	}
}

func testHolderKilled(t *testing.T, name string) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.lock")
	opts := []lease.Option{lease.WithLifetime(2 * time.Second), lease.WithProtocol(protocols[name])}
	cmd := helperCmd(t, "hold", path, protoEnv+"="+name)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "acquired" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q, %v", line, err)
	}
	// While the helper lives, the lock is its.
	if _, _, err := lease.TryAcquire(t.Context(), path, opts...); !errors.Is(err, lease.ErrHeld) {
		t.Fatalf("TryAcquire while the helper holds = %v, want ErrHeld", err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	cmd.Wait()

	_, release, err := lease.Acquire(t.Context(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(killed)
	t.Logf("took over %v after SIGKILL (lifetime 2s, stale margin %v, poll interval 200ms)", took.Round(time.Millisecond), proto.StaleMargin)
	// A waiter that starts after the crash watches the lock unchanged for
	// the recorded lifetime plus the margin; add one poll interval and
	// generous scheduling slack. flufl.lock would wait lifetime + 10 s.
	if limit := 2*time.Second + proto.StaleMargin + 200*time.Millisecond + 2*time.Second; took > limit {
		t.Errorf("took over after %v, want within %v", took, limit)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	for _, name := range dirNames(t, dir) {
		t.Errorf("left behind: %s", name)
	}
}

// TestOSNonRetryable checks the errors of the real filesystem for cases the
// in-memory one cannot show.
func TestOSNonRetryable(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "sym.lock")); err != nil {
		t.Fatal(err)
	}
	_, _, err := lease.Acquire(t.Context(), filepath.Join(dir, "sym.lock"))
	if !errors.Is(err, algorithm.ErrNotLock) {
		t.Errorf("Acquire on a symlink = %v, want ErrNotLock", err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "sym.lock")); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("symlink disturbed: %v %v", fi, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files = %v, want only the symlink", entries)
	}
}
