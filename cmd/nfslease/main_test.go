//go:build linux

package main

// End-to-end tests: the binary is built once (go build into a temporary
// directory) and run as real processes, as a shell script or cron would.
// Lifetimes are 1 s where a loss or a stale lock should come quickly, and
// 2 s where a holder must keep its lease on a loaded CI machine (race
// detector, two cores). They take about 10-15 s, most tests in parallel.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/fsops"
)

// bin is the nfslease binary under test.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "nfslease-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "nfslease")
	build := exec.Command(goTool(), "build", "-o", bin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building nfslease:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func goTool() string {
	if p := filepath.Join(os.Getenv("GOROOT"), "bin", "go"); os.Getenv("GOROOT") != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// syncBuffer is a bytes.Buffer safe for a process's writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// proc is a running nfslease.
type proc struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	done           chan struct{}
	err            error
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	// A command killed with nfslease, or left running in its own process
	// group, may keep the output pipes open: do not wait for it.
	p.cmd.WaitDelay = time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		// SIGTERM first: nfslease forwards it to the command's group.
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit status (-1 if a
// signal killed it).
func (p *proc) wait(timeout time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.t.Fatalf("nfslease %q still running after %v; stderr %q", p.cmd.Args[1:], timeout, p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	case errors.Is(p.err, exec.ErrWaitDelay):
		return 0 // exited 0; something it started kept its output open
	}
	p.t.Fatal(p.err)
	return 0
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) signal(sig syscall.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
}

// run runs nfslease to completion.
func run(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	p := start(t, args...)
	st := p.wait(30 * time.Second)
	return st, p.stdout.String(), p.stderr.String()
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// gone reports whether pid no longer runs (absent, or a zombie nobody
// reaped yet).
func gone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || strings.HasPrefix(s[i+1:], " Z") || strings.HasPrefix(s[i+1:], " X")
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// oneErrorLine checks the nfslease error convention: one line, one
// "nfslease: " prefix, no "lease: " or "algorithm: " left, naming want.
func oneErrorLine(t *testing.T, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 1 {
		t.Errorf("stderr has %d lines, want one: %q", len(lines), stderr)
	}
	l := lines[0]
	rest, ok := strings.CutPrefix(l, "nfslease: ")
	if !ok || strings.Contains(rest, "lease: ") || strings.Contains(rest, "algorithm: ") ||
		strings.Contains(stderr, "goroutine ") || !strings.Contains(l, want) {
		t.Errorf("error line %q: want one \"nfslease: \" prefix, no package prefixes, naming %q", l, want)
	}
}

// holder is a script that reports its pid, marks that it runs, and
// waits for release to exist.
func holderScript(dir string) string {
	return fmt.Sprintf(`echo $$ > %[1]s/child.pid; touch %[1]s/running; while [ ! -e %[1]s/release ]; do sleep 0.02; done; rm %[1]s/running`, dir)
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"run"},
		{"run", "x.lock"},
		{"run", "x.lock", "--"},
		{"run", "--bogus", "x.lock", "true"},
		{"run", "-w", "abc", "x.lock", "true"},
		{"run", "-w", "-1", "x.lock", "true"},
		{"run", "-E", "256", "x.lock", "true"},
		{"run", "--lifetime", "100ms", "x.lock", "true"},
		{"run", "--protocol", "nfs", "x.lock", "true"},
		{"run", "--local-takeover", "maybe", "x.lock", "true"},
		{"status", "--local-takeover=yes", "x.lock"},
		{"lead", "x.lock"},
		{"lead", "-n", "x.lock", "true"}, // lead never gives up
		{"status"},
		{"status", "a", "b"},
		{"break"},
		{"break", "--force"},
		{"bench", "--procs", "1"},
		{"bench", "extra"},
		{"version", "extra"},
	} {
		st, stdout, stderr := run(t, args...)
		if st != 64 || stdout != "" || (len(args) > 0 && !strings.HasPrefix(stderr, "nfslease: ")) {
			t.Errorf("nfslease %q: status %d, stdout %q, stderr %q; want 64 and a message", args, st, stdout, stderr)
		}
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"run", "--help"}, {"lead", "-h"}, {"status", "--help"},
		{"break", "--help"}, {"bench", "--help"}, {"version", "--help"},
	} {
		st, stdout, stderr := run(t, args...)
		if st != 0 || !strings.Contains(stdout, "Usage:") || stderr != "" {
			t.Errorf("nfslease %q: status %d, stdout %q, stderr %q; want 0 and usage", args, st, stdout, stderr)
		}
	}
	st, stdout, _ := run(t, "version")
	if st != 0 || !strings.HasPrefix(stdout, "nfslease ") {
		t.Errorf("version: %d %q", st, stdout)
	}
}

// The command's exit status is passed through, 128+N for a signal; the
// child sees the lock path and its token.
func TestRunExitStatus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")
	for _, c := range []struct {
		script string
		want   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -KILL $$", 128 + 9},
		{"kill -TERM $$", 128 + 15},
	} {
		if st, _, stderr := run(t, "run", lock, "sh", "-c", c.script); st != c.want {
			t.Errorf("run %q: status %d, want %d (stderr %q)", c.script, st, c.want, stderr)
		}
	}
	st, stdout, _ := run(t, "run", "--", lock, "sh", "-c", `echo "$NFSLEASE_PATH $NFSLEASE_TOKEN"`)
	if f := strings.Fields(stdout); st != 0 || len(f) != 2 || f[0] != lock || f[1] == "" || f[1] == "0" {
		t.Errorf("child environment: %q (status %d), want the lock path and a token", stdout, st)
	}
	st, stdout2, _ := run(t, "run", lock, "--", "sh", "-c", `echo "$NFSLEASE_TOKEN"`)
	t1, _ := strconv.Atoi(f1(stdout))
	t2, _ := strconv.Atoi(strings.TrimSpace(stdout2))
	if st != 0 || t2 <= t1 {
		t.Errorf("second token %q not above the first %q", stdout2, stdout)
	}
	// Nothing is left but the token counter.
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		if !strings.HasPrefix(n.Name(), ".a.lock.token.") {
			t.Errorf("left behind: %s", n.Name())
		}
	}
	// A command that cannot be run: before the lock is taken.
	st, _, stderr := run(t, "run", lock, "no-such-command-xyz")
	if st != 127 {
		t.Errorf("missing command: status %d, want 127", st)
	}
	oneErrorLine(t, stderr, "no-such-command-xyz")
	noexec := filepath.Join(dir, "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := run(t, "run", lock, noexec); st != 126 {
		t.Errorf("command not executable: status %d, want 126", st)
	}
	// A lock in a missing directory: one line naming it.
	st, _, stderr = run(t, "run", filepath.Join(dir, "missing", "a.lock"), "true")
	if st != 71 {
		t.Errorf("missing directory: status %d, want 71", st)
	}
	oneErrorLine(t, stderr, filepath.Join(dir, "missing"))
}

func f1(s string) string {
	f := strings.Fields(s)
	if len(f) < 2 {
		return ""
	}
	return f[1]
}

// Two runs contend: -n and -E, -w in seconds and as a duration, and a
// blocking run that starts its command only after the first one's ended.
func TestRunContention(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"strict", "flufl"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			lock := filepath.Join(dir, "a.lock")
			first := start(t, "run", "--protocol", proto, "--lifetime", "2s", lock, "sh", "-c", holderScript(dir))
			waitFor(t, 10*time.Second, "the first command to run", func() bool { return exists(filepath.Join(dir, "running")) })

			if st, stdout, stderr := run(t, "run", "--protocol", proto, "-n", lock, "true"); st != 1 || stdout != "" || stderr != "" {
				t.Errorf("-n while held: status %d, stdout %q, stderr %q; want 1, silent (as flock)", st, stdout, stderr)
			}
			if st, _, stderr := run(t, "run", "--protocol", proto, "--nonblock", "-E", "9", "-v", lock, "true"); st != 9 || !strings.Contains(stderr, lock) {
				t.Errorf("-n -E 9 -v while held: status %d, stderr %q; want 9 and the holder named", st, stderr)
			}
			for _, w := range []string{"0.3", "300ms"} {
				t0 := time.Now()
				st, _, _ := run(t, "run", "--protocol", proto, "-w", w, lock, "true")
				if took := time.Since(t0); st != 1 || took < 300*time.Millisecond || took > 5*time.Second {
					t.Errorf("-w %s while held: status %d after %v; want 1 after 0.3s", w, st, took)
				}
			}
			if st, _, _ := run(t, "run", "--protocol", proto, "--timeout=0", lock, "true"); st != 1 {
				t.Errorf("--timeout=0 while held: status %d, want 1", st)
			}
			// Held for longer than its lifetime: the lease is refreshed.
			time.Sleep(2500 * time.Millisecond)
			if first.exited() {
				t.Fatalf("first run exited: stderr %q", first.stderr.String())
			}
			// A blocking run waits, and runs once the first has released.
			second := start(t, "run", "--protocol", proto, "-w", "20", lock, "sh", "-c",
				fmt.Sprintf(`[ -e %[1]s/running ] && echo overlap; echo second > %[1]s/second`, dir))
			time.Sleep(300 * time.Millisecond)
			if exists(filepath.Join(dir, "second")) {
				t.Fatal("the second command ran while the first held the lock")
			}
			if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if st := first.wait(10 * time.Second); st != 0 {
				t.Errorf("first run: status %d, stderr %q", st, first.stderr.String())
			}
			if st := second.wait(10 * time.Second); st != 0 || strings.Contains(second.stdout.String(), "overlap") {
				t.Errorf("second run: status %d, stdout %q, stderr %q", st, second.stdout.String(), second.stderr.String())
			}
		})
	}
}

// SIGTERM, SIGINT and SIGHUP sent to nfslease reach the command; its
// status comes back and the lock is released.
func TestRunSignalForwarding(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		sig  syscall.Signal
		trap string
		want int
	}{
		{syscall.SIGTERM, `trap 'echo TERM > "$D/got"; exit 7' TERM`, 7},
		{syscall.SIGINT, `trap 'echo INT > "$D/got"; exit 8' INT`, 8},
		{syscall.SIGHUP, `trap 'echo HUP > "$D/got"; exit 9' HUP`, 9},
		{syscall.SIGTERM, `:`, 128 + 15}, // no trap: killed by it
	} {
		t.Run(c.sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			lock := filepath.Join(dir, "a.lock")
			script := fmt.Sprintf(`D=%s; %s; touch "$D/running"; while :; do sleep 0.02; done`, dir, c.trap)
			p := start(t, "run", "--lifetime", "2s", lock, "sh", "-c", script)
			waitFor(t, 10*time.Second, "the command to run", func() bool { return exists(filepath.Join(dir, "running")) })
			p.signal(c.sig)
			if st := p.wait(10 * time.Second); st != c.want {
				t.Errorf("after %v: status %d, want %d (stderr %q)", c.sig, st, c.want, p.stderr.String())
			}
			if c.trap != ":" && !exists(filepath.Join(dir, "got")) {
				t.Errorf("the command did not get %v", c.sig)
			}
			if exists(lock) {
				t.Error("the lock was not released")
			}
		})
	}
}

// The lock removed under a run: the command's process group (a child
// that ignores SIGTERM and a grandchild) is killed, SIGKILL after the
// grace period, and nfslease exits 75 naming the path.
func TestRunLeaseLost(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"strict", "flufl"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			lock := filepath.Join(dir, "a.lock")
			script := fmt.Sprintf(`D=%s; trap '' TERM; sh -c 'trap "" TERM; echo $$ > "$0/grandchild.pid"; while :; do sleep 0.02; done' "$D" & echo $$ > "$D/child.pid"; while [ ! -e "$D/grandchild.pid" ]; do sleep 0.01; done; touch "$D/running"; while :; do sleep 0.02; done`, dir)
			p := start(t, "run", "--protocol", proto, "--lifetime", "1s", "--grace", "300ms", lock, "sh", "-c", script)
			waitFor(t, 10*time.Second, "the command to run", func() bool { return exists(filepath.Join(dir, "running")) })
			child, grandchild := readPid(t, filepath.Join(dir, "child.pid")), readPid(t, filepath.Join(dir, "grandchild.pid"))
			t0 := time.Now()
			if err := os.RemoveAll(lock); err != nil {
				t.Fatal(err)
			}
			st := p.wait(10 * time.Second)
			took := time.Since(t0)
			if st != 75 {
				t.Fatalf("after the lock was removed: status %d, want 75 (stderr %q)", st, p.stderr.String())
			}
			oneErrorLine(t, p.stderr.String(), lock+": lease lost: ")
			if !strings.HasSuffix(p.stderr.String(), "; the command was stopped\n") {
				t.Errorf("the loss line %q does not say the command was stopped", p.stderr.String())
			}
			// Detected at the next refresh (200ms), then 300ms of grace.
			if took < 300*time.Millisecond || took > 5*time.Second {
				t.Errorf("exited %v after the removal; want about 0.2s + the 0.3s grace", took)
			}
			waitFor(t, 5*time.Second, "the command's group to die", func() bool { return gone(child) && gone(grandchild) })
			t.Logf("stopped %v after the removal: %s", took.Round(time.Millisecond), strings.TrimSpace(p.stderr.String()))
		})
	}
}

// status --json on a held lock, an unlocked one, and --check.
func TestStatusJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")
	st, stdout, _ := run(t, "status", "--json", lock)
	var s map[string]any
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || st != 0 {
		t.Fatalf("status --json of an unlocked lock: %d %q %v", st, stdout, err)
	}
	if s["schema"] != 1.0 || s["state"] != "unlocked" || s["holder"] != nil || s["live"] != false {
		t.Errorf("unlocked: %v", s)
	}
	if st, _, _ := run(t, "status", "--check", lock); st != 1 {
		t.Errorf("status --check of an unlocked lock: %d, want 1", st)
	}

	p := start(t, "run", "--lifetime", "2s", lock, "sh", "-c", holderScript(dir))
	waitFor(t, 10*time.Second, "the command to run", func() bool { return exists(filepath.Join(dir, "running")) })
	st, stdout, _ = run(t, "status", "--json", "--check", lock)
	var got statusJSON
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || st != 0 {
		t.Fatalf("status --json --check of a held lock: %d %q %v", st, stdout, err)
	}
	host, _ := os.Hostname()
	h := got.Holder
	if got.Schema != 1 || got.State != "held" || !got.Live || got.Abs != lock || h == nil || h.Pid != p.cmd.Process.Pid ||
		h.Protocol != "strict" || h.Host != host || !h.Local || h.LifetimeMs == nil || *h.LifetimeMs != 2000 ||
		h.Token == nil || *h.Token != got.LastToken || got.LastToken == 0 || h.Expires == nil || h.ExpiresInMs == nil || h.Dead == nil || *h.Dead {
		t.Errorf("status --json of a held lock: %s", stdout)
	}
	if !strings.Contains(stdout, `"dead": false`) {
		t.Errorf("holder.dead of a live holder of this machine must be false: %s", stdout)
	}
	st, stdout, _ = run(t, "status", lock)
	if want := fmt.Sprintf("held by pid %d on %s (strict, lifetime 2s)", p.cmd.Process.Pid, host); st != 0 || !strings.Contains(stdout, want) {
		t.Errorf("status: %d %q, want it to say %q", st, stdout, want)
	}
	os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
	p.wait(10 * time.Second)

	// Not a lock: an error naming the path.
	junk := filepath.Join(dir, "junk.lock")
	os.WriteFile(junk, []byte("hello\n"), 0o644)
	st, _, stderr := run(t, "status", junk)
	if st != 71 {
		t.Errorf("status of a file that is not a lock: %d, want 71", st)
	}
	oneErrorLine(t, stderr, junk)
}

const python = "/usr/bin/python3"

const pyHold = `
import sys, os
from flufl.lock import Lock
lock = Lock(sys.argv[1], lifetime=30)
lock.lock()
print("locked", os.getpid(), flush=True)
sys.stdin.read()
print("is_locked", lock.is_locked, flush=True)
`

// status, and break --force, of a lock held by Python flufl.lock
// (python3-flufl.lock). .ci/run installs it and sets
// NFSLEASE_REQUIRE_FLUFL=1: then this fails rather than skips without it.
func TestStatusPythonFlufl(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(python, "-c", "import flufl.lock; print(flufl.lock.__version__)").CombinedOutput()
	if err != nil {
		msg := "Python flufl.lock is not available (apt-get install python3-flufl.lock): " + strings.TrimSpace(string(out))
		if os.Getenv("NFSLEASE_REQUIRE_FLUFL") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")
	py := exec.Command(python, "-c", pyHold, lock)
	stdin, _ := py.StdinPipe()
	stdout, _ := py.StdoutPipe()
	py.Stderr = os.Stderr
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); py.Wait() }()
	pyOut := bufio.NewReader(stdout)
	line, _ := pyOut.ReadString('\n')
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "locked" {
		t.Fatalf("Python said %q", line)
	}
	pid, _ := strconv.Atoi(f[1])
	st, text, _ := run(t, "status", lock)
	st2, js, _ := run(t, "status", "--json", "--check", lock)
	var s statusJSON
	if err := json.Unmarshal([]byte(js), &s); err != nil || st != 0 || st2 != 0 {
		t.Fatalf("status of a Python lock: %d %q; --json --check %d %q %v", st, text, st2, js, err)
	}
	if h := s.Holder; s.State != "held" || h == nil || h.Protocol != "flufl.lock" || h.Pid != pid || h.LifetimeMs != nil || h.Token != nil || h.Expires == nil {
		t.Errorf("status --json of a Python flufl.lock lock (pid %d): %s", pid, js)
	}
	if !strings.Contains(text, fmt.Sprintf("held by pid %d", pid)) || !strings.Contains(text, "flufl.lock, no recorded lifetime") {
		t.Errorf("status of a Python lock: %q", text)
	}
	t.Logf("Python flufl.lock %s holds it: nfslease status: %s", strings.TrimSpace(string(out)), strings.TrimSpace(text))

	// break --force breaks it at once (its expiry is 30 s away), and
	// Python finds it is no longer locked.
	st, stdout2, stderr := run(t, "break", "--force", lock)
	if want := fmt.Sprintf("broke %s: held by pid %d", lock, pid); st != 0 || !strings.HasPrefix(stdout2, want) {
		t.Fatalf("break --force of a Python lock: %d %q %q, want %q", st, stdout2, stderr, want)
	}
	if st, _, _ := run(t, "status", "--check", lock); st != 1 {
		t.Errorf("status --check after the break: %d, want 1", st)
	}
	stdin.Close()
	if line, _ := pyOut.ReadString('\n'); strings.TrimSpace(line) != "is_locked False" {
		t.Errorf("Python after the break: %q, want is_locked False", line)
	}
	names, _ := os.ReadDir(dir)
	for _, n := range names {
		t.Errorf("left behind: %s", n.Name())
	}
}

// break refuses a live lock (nothing changed) and removes the lock of a
// holder killed with SIGKILL once it has gone stale; --force breaks a
// live one, whose run then stops its command and exits 75.
func TestBreak(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")

	if st, stdout, _ := run(t, "break", lock); st != 0 || !strings.Contains(stdout, "nothing to break") {
		t.Errorf("break of nothing: %d %q", st, stdout)
	}

	live := start(t, "run", "--lifetime", "2s", lock, "sh", "-c", holderScript(dir))
	waitFor(t, 10*time.Second, "the command to run", func() bool { return exists(filepath.Join(dir, "running")) })
	st, stdout, stderr := run(t, "break", lock)
	if st != 1 || stdout != "" {
		t.Errorf("break of a live lock: status %d, stdout %q; want 1", st, stdout)
	}
	oneErrorLine(t, stderr, lock)
	if live.exited() || !exists(filepath.Join(dir, "running")) {
		t.Errorf("the holder stopped after a refused break: %q", live.stderr.String())
	}
	if st, _, _ := run(t, "status", "--check", lock); st != 0 {
		t.Error("the lock is not held after a refused break")
	}

	// --force: the holder finds out at its next refresh.
	st, stdout, _ = run(t, "break", "--force", lock)
	if want := fmt.Sprintf("broke %s: held by pid %d", lock, live.cmd.Process.Pid); st != 0 || !strings.HasPrefix(stdout, want) {
		t.Errorf("break --force: %d %q, want %q", st, stdout, want)
	}
	if st := live.wait(10 * time.Second); st != 75 {
		t.Errorf("the holder whose lock was broken: status %d, want 75 (stderr %q)", st, live.stderr.String())
	}
	os.Remove(filepath.Join(dir, "running"))

	// A holder killed with SIGKILL (its command too): it ran on this
	// machine, its process is gone, so its lock is proven stale at once
	// (a holder of another machine's lock stays until proven stale,
	// lifetime + 1s after break starts watching: TestRunNonblockCrashedHolder).
	deadPid := killHolder(t, dir, lock, "1s")
	if !exists(lock) {
		t.Fatal("the killed holder's lock is gone already")
	}
	t0 := time.Now()
	st, stdout, stderr = run(t, "break", lock)
	took := time.Since(t0)
	if want := fmt.Sprintf("broke %s: held by pid %d", lock, deadPid); st != 0 || !strings.HasPrefix(stdout, want) {
		t.Errorf("break of a dead holder's lock: %d %q %q, want %q", st, stdout, stderr, want)
	}
	if took >= time.Second || !strings.Contains(stdout, "dead") {
		t.Errorf("break took %v (%q); want it at once, within the lifetime (1s), the holder said dead", took, stdout)
	}
	if exists(lock) {
		t.Error("the lock is still there")
	}
	t.Logf("broke the dead holder's lock after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(stdout))
}

// Two leads: one leads; when it crashes (nfslease and its command killed)
// the other takes over at once, the dead leader's process proven gone on
// this machine (not after lifetime + 1 s); SIGTERM stops a leader.
func TestLeadFailover(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")
	script := fmt.Sprintf(`echo $PPID $$ >> %[1]s/leaders; while :; do sleep 0.02; done`, dir)
	a := start(t, "lead", "--lifetime", "2s", lock, "sh", "-c", script)
	b := start(t, "lead", "--lifetime", "2s", lock, "sh", "-c", script)
	leaders := func() [][]string {
		data, _ := os.ReadFile(filepath.Join(dir, "leaders"))
		var out [][]string
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			if f := strings.Fields(l); len(f) == 2 {
				out = append(out, f)
			}
		}
		return out
	}
	waitFor(t, 10*time.Second, "a leader", func() bool { return len(leaders()) >= 1 })
	time.Sleep(2500 * time.Millisecond) // longer than the lifetime: no second leader meanwhile
	if l := leaders(); len(l) != 1 {
		t.Fatalf("two leaders at once: %q", l)
	}
	first, other := a, b
	if l := leaders(); l[0][0] == strconv.Itoa(b.cmd.Process.Pid) {
		first, other = b, a
	} else if l[0][0] != strconv.Itoa(a.cmd.Process.Pid) {
		t.Fatalf("leader %q is neither nfslease %d nor %d", l[0], a.cmd.Process.Pid, b.cmd.Process.Pid)
	}
	child, _ := strconv.Atoi(leaders()[0][1])
	// Crash the leader: nfslease and its command, with SIGKILL.
	t0 := time.Now()
	first.signal(syscall.SIGKILL)
	syscall.Kill(-child, syscall.SIGKILL)
	first.wait(5 * time.Second)
	waitFor(t, 10*time.Second, "the other to lead", func() bool { return len(leaders()) >= 2 })
	took := time.Since(t0)
	if l := leaders(); l[1][0] != strconv.Itoa(other.cmd.Process.Pid) {
		t.Errorf("second leader %q is not the other nfslease %d", l[1], other.cmd.Process.Pid)
	}
	if took >= 2*time.Second {
		t.Errorf("failover after %v; want it at once, within the lifetime (2s): the leader's process is gone", took)
	}
	t.Logf("failover after the leader's crash: %v", took.Round(time.Millisecond))
	// SIGTERM to the leader goes to its command, which dies of it.
	other.signal(syscall.SIGTERM)
	if st := other.wait(10 * time.Second); st != 128+15 {
		t.Errorf("leader after SIGTERM: status %d, want 143 (stderr %q)", st, other.stderr.String())
	}
	if exists(lock) {
		t.Error("the lock was not released")
	}
}

// Leadership lost (the lock removed under the leader): the command is
// stopped and nfslease campaigns again, and leads again.
func TestLeadCampaignsAgain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")
	script := fmt.Sprintf(`echo $$ >> %[1]s/terms; while :; do sleep 0.02; done`, dir)
	p := start(t, "lead", "--lifetime", "1s", "--grace", "200ms", lock, "sh", "-c", script)
	terms := func() int {
		data, _ := os.ReadFile(filepath.Join(dir, "terms"))
		return strings.Count(string(data), "\n")
	}
	waitFor(t, 10*time.Second, "the first term", func() bool { return terms() >= 1 })
	n := terms()
	os.RemoveAll(lock)
	waitFor(t, 10*time.Second, "a second term", func() bool { return terms() > n })
	if p.exited() {
		t.Fatal("lead exited after a loss")
	}
	if !strings.Contains(p.stderr.String(), "campaigning again") {
		t.Errorf("stderr %q, want it to say it campaigns again", p.stderr.String())
	}
	p.signal(syscall.SIGTERM)
	if st := p.wait(10 * time.Second); st != 143 {
		t.Errorf("status %d, want 143", st)
	}
}

func TestBench(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	st, stdout, stderr := run(t, "bench", "--dir", dir, "--procs", "2", "--duration", "200ms")
	if st != 0 {
		t.Fatalf("bench: status %d, stderr %q, stdout %q", st, stderr, stdout)
	}
	for _, want := range []string{"strict self-test: passed", "strict cycle", "strict refresh", "strict handoff", "flufl  handoff", "recommendation: --protocol strict", "recommendation: --lifetime"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("bench output lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "\r") {
		t.Error("progress display written to a pipe")
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 0 {
		t.Errorf("bench left %v in its directory", names)
	}
	t.Log("\n" + stdout)
}

// On a terminal, the command runs in its own process group and gets the
// terminal: it can read from it (a background group would be stopped by
// SIGTTIN), and nfslease takes the terminal back afterwards (with TOSTOP
// set, its -v line after the command would stop it otherwise).
func TestRunOnTerminal(t *testing.T) {
	t.Parallel()
	master, slave := openPTY(t)
	tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Lflag |= unix.TOSTOP
	if err := unix.IoctlSetTermios(int(slave.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command(bin, "run", "-v", filepath.Join(dir, "a.lock"), "sh", "-c", `read x; echo "got $x"`)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var out syncBuffer
	read := make(chan struct{})
	go func() {
		defer close(read)
		buf := make([]byte, 256)
		for {
			n, err := master.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return
			}
		}
	}()
	if _, err := master.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("nfslease run on a terminal: %v; output %q", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("nfslease run on a terminal still running after 10s (the command stopped by SIGTTIN, or nfslease by SIGTTOU?); output %q", out.String())
	}
	master.Close()
	<-read
	if !strings.Contains(out.String(), "got hello") || !strings.Contains(out.String(), "nfslease: released") {
		t.Errorf("the command did not read from the terminal, or nfslease did not report the release: output %q", out.String())
	}
}

// openPTY opens a pseudo-terminal pair.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// -n and a crashed holder. One of this machine (killed here): its process
// is gone, so -n takes its lock at once. One of another machine (a record
// that names no process of ours): while its recorded expiry is ahead, a
// conflict at once (it may be alive); once it has passed, -n waits the
// holder out as a blocking run would (lifetime + 1 s), instead of failing
// for good.
func TestRunNonblockCrashedHolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")
	killHolder(t, dir, lock, "1s")
	t0 := time.Now()
	if st, _, stderr := run(t, "run", "-n", lock, "true"); st != 0 || time.Since(t0) >= time.Second {
		t.Errorf("-n after this machine's holder was killed: status %d after %v (%q), want 0 at once", st, time.Since(t0), stderr)
	}

	// A crashed holder of another machine: a Strict lock whose record
	// names no process of this machine (five lines, as a system without
	// /proc writes), expiring in a second.
	if err := os.Mkdir(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := "nfslease-strict 1\ngen 0123456789abcdef0123456789abcdef\nhost elsewhere\npid 4242\nlifetime_ms 1000\n"
	if err := os.WriteFile(filepath.Join(lock, "owner"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(time.Second)
	if err := os.Chtimes(filepath.Join(lock, "owner"), exp, exp); err != nil {
		t.Fatal(err)
	}
	var s statusJSON
	_, js, _ := run(t, "status", "--json", lock)
	if err := json.Unmarshal([]byte(js), &s); err != nil || s.Holder == nil || s.Holder.Expires == nil {
		t.Fatalf("status of the crashed holder's lock: %q %v", js, err)
	}
	if time.Now().Before(*s.Holder.Expires) {
		if st, _, _ := run(t, "run", "-n", lock, "true"); st != 1 {
			t.Errorf("-n before the crashed holder's expiry: status %d, want 1", st)
		}
	}
	time.Sleep(time.Until(*s.Holder.Expires) + 50*time.Millisecond)
	t0 = time.Now()
	st, _, stderr := run(t, "run", "-n", "-v", lock, "true")
	took := time.Since(t0)
	if st != 0 || took < time.Second || took > 8*time.Second {
		t.Errorf("-n after the crashed holder's expiry: status %d after %v, stderr %q; want 0 after about lifetime + 1s", st, took, stderr)
	}
	t.Logf("-n took the crashed holder's lock after %v: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr))
}

// killHolder starts nfslease run holding lock with the given lifetime and
// kills it and its command with SIGKILL once the command runs, leaving the
// lock of a dead holder of this machine. It returns the holder's pid.
func killHolder(t *testing.T, dir, lock, lifetime string) int {
	t.Helper()
	dead := start(t, "run", "--lifetime", lifetime, lock, "sh", "-c", holderScript(dir))
	waitFor(t, 10*time.Second, "the command to run", func() bool { return exists(filepath.Join(dir, "running")) })
	child := readPid(t, filepath.Join(dir, "child.pid"))
	dead.signal(syscall.SIGKILL)
	syscall.Kill(-child, syscall.SIGKILL)
	dead.wait(10 * time.Second)
	return dead.cmd.Process.Pid
}

// --local-takeover: off waits for a killed holder of this machine as for
// one of another machine (its lock is held until it goes stale, and
// status cannot tell it dead); auto (here, on a local filesystem) and on
// take it at once. (On a network filesystem auto is off; that choice is
// lease's, tested there.)
func TestRunLocalTakeoverFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")
	// The local kinds of lease.WithLocalTakeover's doc.
	if kind, err := fsops.OS().(fsops.Typer).FSType(dir); err != nil || !strings.Contains(" ext2 ext3 ext4 xfs btrfs tmpfs f2fs zfs bcachefs ramfs overlay ", " "+kind+" ") {
		t.Skipf("the test directory is on %q (%v), not a local kind: auto would be off there", kind, err)
	}
	killHolder(t, dir, lock, "20s")

	if st, _, stderr := run(t, "run", "-n", "--local-takeover", "off", lock, "true"); st != 1 {
		t.Errorf("-n --local-takeover off after this machine's holder was killed: status %d (%q), want 1 (held until stale)", st, stderr)
	}
	for _, c := range []struct {
		flag  string
		state string
		dead  string
	}{
		{"--local-takeover=off", "held", `"dead": null`},
		{"--local-takeover=auto", "stale", `"dead": true`},
		{"--local-takeover=on", "stale", `"dead": true`},
	} {
		st, stdout, stderr := run(t, "status", "--json", c.flag, lock)
		var s statusJSON
		if err := json.Unmarshal([]byte(stdout), &s); st != 0 || err != nil || s.State != c.state || !strings.Contains(stdout, c.dead) {
			t.Errorf("status %s: %d %v %q %q; want state %q and %s", c.flag, st, err, stdout, stderr, c.state, c.dead)
		}
	}
	t0 := time.Now()
	if st, _, stderr := run(t, "run", "-n", "--local-takeover", "on", lock, "true"); st != 0 || time.Since(t0) >= 2*time.Second {
		t.Errorf("-n --local-takeover on: status %d after %v (%q), want 0 at once", st, time.Since(t0), stderr)
	}
}

// The error lines of the commands: one "nfslease: " prefix, then the
// path and the cause, exit 71.
func TestErrorLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sym := filepath.Join(dir, "sym.lock")
	if err := os.Symlink("/etc/passwd", sym); err != nil {
		t.Fatal(err)
	}
	under := filepath.Join(dir, "file", "a.lock")
	missing := filepath.Join(dir, "nodir", "a.lock")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", missing, "true"}, missing + ": the directory " + filepath.Join(dir, "nodir") + " does not exist (no such file or directory)"},
		{[]string{"run", "-n", under, "true"}, under + ": " + filepath.Join(dir, "file") + " is not a directory"},
		{[]string{"status", missing}, missing + ": the directory " + filepath.Join(dir, "nodir") + " does not exist (no such file or directory)"},
		{[]string{"status", sym}, sym + ": holds a symbolic link, not a strict or flufl lock: not a lock file"},
		{[]string{"status", under}, under + ": " + filepath.Join(dir, "file") + " is not a directory"},
		{[]string{"break", sym}, sym + ": holds a symbolic link, not a strict or flufl lock: not a lock file"},
		{[]string{"run", "--protocol", "flufl", sym, "true"}, sym + ": holds a symbolic link, not a flufl lock: not a lock file"},
	} {
		st, stdout, stderr := run(t, c.args...)
		if st != exitError || stdout != "" {
			t.Errorf("nfslease %q: status %d, stdout %q; want 71 and nothing", c.args, st, stdout)
		}
		oneErrorLine(t, stderr, "nfslease: "+c.want)
		t.Logf("%s", strings.TrimSpace(stderr))
	}
}

// break interrupted while it watches a live holder's lock: exit 1, one
// line naming the path, nothing changed.
func TestBreakInterrupted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lock := filepath.Join(dir, "a.lock")
	holder := start(t, "run", lock, "sh", "-c", holderScript(dir))
	waitFor(t, 10*time.Second, "the command to run", func() bool { return exists(filepath.Join(dir, "running")) })
	b := start(t, "break", "-v", lock)
	waitFor(t, 10*time.Second, "break to watch", func() bool { return strings.Contains(b.stderr.String(), "nfslease: watching ") })
	b.signal(syscall.SIGINT)
	if st := b.wait(10 * time.Second); st != 1 {
		t.Errorf("break after SIGINT: status %d, want 1", st)
	}
	lines := strings.Split(strings.TrimSuffix(b.stderr.String(), "\n"), "\n")
	if last := lines[len(lines)-1]; last != "nfslease: "+lock+": break interrupted; nothing changed" {
		t.Errorf("last line %q, want %q", last, "nfslease: "+lock+": break interrupted; nothing changed")
	}
	if holder.exited() || !exists(filepath.Join(dir, "running")) {
		t.Error("the holder's command stopped")
	}
	t.Logf("%s", strings.TrimSpace(b.stderr.String()))
	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if st := holder.wait(10 * time.Second); st != 0 {
		t.Errorf("holder: status %d", st)
	}
}
