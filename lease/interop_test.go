package lease_test

// Interoperation with Python's flufl.lock (Debian's python3-flufl.lock,
// run with /usr/bin/python3). .ci/run installs the package and sets
// NFSLEASE_REQUIRE_FLUFL=1, so that there these tests fail rather than skip
// when Python or the package is missing.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

const python = "/usr/bin/python3"

func needFlufl(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import flufl.lock; print(flufl.lock.__version__)").CombinedOutput()
	if err != nil {
		msg := "Python flufl.lock is not available (apt-get install python3-flufl.lock): " + strings.TrimSpace(string(out))
		if os.Getenv("NFSLEASE_REQUIRE_FLUFL") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Logf("Python flufl.lock %s", strings.TrimSpace(string(out)))
}

// py starts a Python script with the lock path as argv[1]. Its stdout is
// read line by line; closing its stdin tells it to finish.
type py struct {
	cmd   *exec.Cmd
	out   *bufio.Reader
	stdin io.WriteCloser
}

func startPython(t *testing.T, script, path string) *py {
	t.Helper()
	cmd := exec.Command(python, "-c", script, path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &py{cmd: cmd, out: bufio.NewReader(out), stdin: stdin}
	t.Cleanup(func() { p.stdin.Close(); p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

func (p *py) line(t *testing.T) string {
	t.Helper()
	s, err := p.out.ReadString('\n')
	if err != nil {
		t.Fatalf("reading from Python: %q, %v", s, err)
	}
	return strings.TrimSpace(s)
}

func (p *py) wait(t *testing.T) {
	t.Helper()
	p.stdin.Close()
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("Python: %v", err)
	}
}

func wantDirEmpty(t *testing.T, dir string) {
	t.Helper()
	for _, name := range dirNames(t, dir) {
		t.Errorf("left behind: %s", name)
	}
}

const pyHold = `
import sys, os
from flufl.lock import Lock
lock = Lock(sys.argv[1], lifetime=30)
lock.lock()
print("locked", os.getpid(), flush=True)
sys.stdin.read()
lock.unlock()
print("unlocked", flush=True)
`

// flufl selects the protocol Python's flufl.lock shares.
var flufl = lease.WithProtocol(algorithm.Flufl)

func TestInteropPythonHolds(t *testing.T) {
	needFlufl(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.lock")
	p := startPython(t, pyHold, path)
	f := strings.Fields(p.line(t))
	if len(f) != 2 || f[0] != "locked" {
		t.Fatalf("Python said %q", f)
	}
	pid, _ := strconv.Atoi(f[1])

	_, _, err := lease.TryAcquire(t.Context(), path, flufl)
	var he *lease.HeldError
	if !errors.Is(err, lease.ErrHeld) || !errors.As(err, &he) {
		t.Fatalf("TryAcquire while Python holds = %v, want ErrHeld", err)
	}
	if he.Holder.Pid != pid || he.Holder.Protocol != "flufl.lock" || he.Holder.Lifetime != 0 {
		t.Errorf("holder = %+v, want Python's pid %d, protocol flufl.lock, no recorded lifetime", he.Holder, pid)
	}
	t.Logf("Go TryAcquire while Python holds: %v", err)

	// Once Python unlocks, a waiting Acquire gets it.
	go func() { time.Sleep(300 * time.Millisecond); p.stdin.Close() }()
	_, release, err := lease.Acquire(t.Context(), path, flufl)
	if err != nil {
		t.Fatal(err)
	}
	if s := p.line(t); s != "unlocked" {
		t.Errorf("Python said %q", s)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	p.wait(t)
	wantDirEmpty(t, dir)
}

const pyContend = `
import sys
from datetime import timedelta
from flufl.lock import Lock, TimeOutError
lock = Lock(sys.argv[1], lifetime=15)
print("details", *lock.details, flush=True)
try:
    lock.lock(timeout=timedelta(seconds=2))
    print("acquired", flush=True)
    lock.unlock()
except TimeOutError:
    print("timeout", flush=True)
`

func TestInteropGoHolds(t *testing.T) {
	needFlufl(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.lock")
	_, release, err := lease.Acquire(t.Context(), path, flufl)
	if err != nil {
		t.Fatal(err)
	}
	// Our claim records our process identity in field 4 where the OS
	// tells it (Linux), which Python must ignore.
	if id := fsops.OSProcs().Self(); id.Known() {
		content, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(".b%s.n%d.s%d", id.BootID, id.PidNS, id.Start); !strings.HasSuffix(string(content), want) {
			t.Fatalf("our lock %q does not end with our identity %q", content, want)
		}
		t.Logf("our lock: %s", content)
	}
	p := startPython(t, pyContend, path)
	// Python parses our lock: host, pid, lock path.
	details := p.line(t)
	if want := " " + strconv.Itoa(os.Getpid()) + " " + path; !strings.HasPrefix(details, "details ") || !strings.HasSuffix(details, want) {
		t.Errorf("Python details of our lock = %q, want host, pid %d and path", details, os.Getpid())
	}
	if s := p.line(t); s != "timeout" {
		t.Fatalf("Python lock(timeout=2) while Go holds: %q, want TimeOutError", s)
	}
	t.Logf("Python lock(timeout=2) while Go holds: TimeOutError; %s", details)
	p.wait(t)
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wantDirEmpty(t, dir)
}

const pyCrash = `
import sys, os
from flufl.lock import Lock
lock = Lock(sys.argv[1], lifetime=1)
lock.lock()
print("locked", flush=True)
os._exit(0)
`

func TestInteropGoBreaksStalePython(t *testing.T) {
	needFlufl(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.lock")
	p := startPython(t, pyCrash, path)
	if s := p.line(t); s != "locked" {
		t.Fatalf("Python said %q", s)
	}
	p.wait(t)
	start := time.Now()
	// Python records no lifetime, so only its expiry (mtime) can show the
	// lock stale: with a 1s skew allowance, about 2s after it was taken.
	_, release, err := lease.Acquire(t.Context(), path, flufl, lease.WithSkewAllowance(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Go broke a stale Python lock (lifetime 1s, skew allowance 1s) after %v", time.Since(start).Round(time.Millisecond))
	if err := release(); err != nil {
		t.Fatal(err)
	}
	wantDirEmpty(t, dir) // Python's claim went with the break
}

const pyWait = `
import sys, time
from datetime import timedelta
from flufl.lock import Lock
lock = Lock(sys.argv[1], lifetime=15)
start = time.monotonic()
lock.lock(timeout=timedelta(seconds=30))
print("acquired %.1f" % (time.monotonic() - start), flush=True)
lock.unlock()
`

func TestInteropPythonBreaksStaleGo(t *testing.T) {
	needFlufl(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.lock")
	// A Go holder that died: acquired, never refreshed or released.
	lk, err := algorithm.Flufl.New(fsops.OS(), path, proto.Config{Lifetime: time.Second, Hostname: "dead", Pid: 1})
	if err != nil {
		t.Fatal(err)
	}
	if att, err := lk.Acquire(proto.Instant{Wall: time.Now()}); err != nil || !att.Acquired {
		t.Fatalf("acquire = %+v, %v", att, err)
	}
	p := startPython(t, pyWait, path)
	s := p.line(t)
	if !strings.HasPrefix(s, "acquired") {
		t.Fatalf("Python said %q", s)
	}
	t.Logf("Python broke a stale Go lock (lifetime 1s): %s s", s)
	p.wait(t)
	wantDirEmpty(t, dir) // Python removed the Go claim named in the lock
}

// Inspect reads a lock Python's flufl.lock holds, without touching it.
func TestInteropInspectPythonHolds(t *testing.T) {
	needFlufl(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "a.lock")
	p := startPython(t, pyHold, path)
	f := strings.Fields(p.line(t))
	if len(f) != 2 || f[0] != "locked" {
		t.Fatalf("Python said %q", f)
	}
	pid, _ := strconv.Atoi(f[1])
	before := osSnapshot(t, dir)
	info, err := lease.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if after := osSnapshot(t, dir); strings.Join(before, "\n") != strings.Join(after, "\n") {
		t.Errorf("Inspect changed the directory:\nbefore %q\nafter  %q", before, after)
	}
	if info.State != lease.Held || info.Pid != pid || info.Protocol != "flufl.lock" || info.Lifetime != 0 || info.Expires.IsZero() {
		t.Errorf("Inspect while Python holds = %+v, want Held by pid %d, protocol flufl.lock, no lifetime", info, pid)
	}
	t.Logf("Inspect while Python holds: %v", info)
	p.stdin.Close()
	if s := p.line(t); s != "unlocked" {
		t.Errorf("Python said %q", s)
	}
	p.wait(t)
	wantDirEmpty(t, dir)
}

// osSnapshot describes every file in dir: name, inode, size, mtime, ctime.
func osSnapshot(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		fi, err := fsops.OS().Lstat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Name()+" "+strconv.FormatUint(fi.Ino, 10)+" "+strconv.FormatInt(fi.Size, 10)+" "+fi.ModTime.String()+" "+fi.Ctime.String())
	}
	return out
}
