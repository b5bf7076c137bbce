package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/lease"
)

// A system is one lock implementation under test.
type system struct {
	key   string // command-line and file name
	label string // table label
	lock  string // lock file name in the benchmark directory
	floor string // key of the raw floor of the same protocol, if any
}

var (
	sysStrict = system{"strict", "nfslease, Strict (default)", "strict.lock", "floor-gendir"}
	sysFlufl  = system{"flufl", "nfslease, Flufl", "flufl.lock", "floor-link"}
	sysLink   = system{"floor-link", "raw link-protocol floor (8 calls)", "link.lock", ""}
	sysGen    = system{"floor-gendir", "raw generation-directory floor (9 calls)", "gen.lock", ""}
	sysC      = system{"liblockfile", "C liblockfile", "liblockfile.lock", ""}
	sysPy     = system{"pyflufl", "Python flufl.lock", "pyflufl.lock", ""}
	sysFlock  = system{"flock", "gofrs/flock (kernel flock, local only)", "flock.lock", ""}
	// sysRefresh is the many-leases run's floor (manyFloorWorker).
	sysRefresh = system{floorRefresh, "raw refresh floor (touch + read-back, no logic)", "", ""}

	// cycleSystems are measured by the uncontended cycle, in table order.
	cycleSystems = []system{sysPy, sysC, sysLink, sysGen, sysFlufl, sysStrict, sysFlock}
	// lockSystems are the real locks (no floors), for handoff and failover.
	lockSystems = []system{sysStrict, sysFlufl, sysPy, sysC, sysFlock}
)

func systemByKey(k string) (system, error) {
	for _, s := range append(cycleSystems, sysRefresh) {
		if s.key == k {
			return s, nil
		}
	}
	return system{}, fmt.Errorf("unknown system %q", k)
}

// tools are the external drivers and where they are.
type tools struct {
	lockdrv string // compiled C driver; "" if unavailable
	pydrv   string // Python driver script; "" if unavailable
	python  string // interpreter with flufl.lock
	strace  string // "" if unavailable
	why     map[string]string
}

func (t *tools) has(s system) (bool, string) {
	switch s.key {
	case sysC.key:
		return t.lockdrv != "", t.why[sysC.key]
	case sysPy.key:
		return t.pydrv != "", t.why[sysPy.key]
	}
	return true, ""
}

// protocol returns the nfslease protocol of a system.
func protocol(s system) algorithm.Protocol {
	if s.key == sysFlufl.key {
		return algorithm.Flufl
	}
	return algorithm.Strict
}

// A cycler runs uncontended acquire+release cycles of one system on one
// lock path.
type cycler interface {
	run(n int) (time.Duration, error)
	close() error
}

// newCycler makes a cycler of s for the lock at path. fsys, if not nil,
// is the fsops.FS nfslease systems use.
func newCycler(s system, path string, t *tools, fsys fsops.FS) (cycler, error) {
	switch s.key {
	case sysStrict.key, sysFlufl.key:
		opts := []lease.Option{lease.WithProtocol(protocol(s))}
		if fsys != nil {
			opts = append(opts, lease.WithFS(fsys))
		}
		return leaseCycler{path, opts}, nil
	case sysLink.key:
		return newLinkFloor(path), nil
	case sysGen.key:
		return genFloor{path}, nil
	case sysFlock.key:
		return flockCycler{flock.New(path)}, nil
	case sysC.key:
		if t.lockdrv == "" {
			return nil, errors.New(t.why[s.key])
		}
		return newExtCycler(exec.Command(t.lockdrv, "cycle", path))
	case sysPy.key:
		if t.pydrv == "" {
			return nil, errors.New(t.why[s.key])
		}
		return newExtCycler(exec.Command(t.python, t.pydrv, "cycle", path))
	}
	return nil, fmt.Errorf("no cycler for %s", s.key)
}

type leaseCycler struct {
	path string
	opts []lease.Option
}

func (c leaseCycler) run(n int) (time.Duration, error) {
	ctx := context.Background()
	start := time.Now()
	for range n {
		_, release, err := lease.Acquire(ctx, c.path, c.opts...)
		if err != nil {
			return 0, err
		}
		if err := release(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func (leaseCycler) close() error { return nil }

// linkFloor is the syscalls of the link protocol and nothing else:
// create-excl, write, utimes, close, link, lstat, two unlinks.
type linkFloor struct {
	lock, claim string
	data        []byte
}

func newLinkFloor(path string) *linkFloor {
	claim := fmt.Sprintf("%s|floor|%d|1", path, os.Getpid())
	return &linkFloor{lock: path, claim: claim, data: []byte(claim)}
}

func (f *linkFloor) run(n int) (time.Duration, error) {
	start := time.Now()
	var st unix.Stat_t
	for range n {
		fd, err := unix.Open(f.claim, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return 0, &os.PathError{Op: "create", Path: f.claim, Err: err}
		}
		if _, err := unix.Write(fd, f.data); err != nil {
			return 0, err
		}
		exp := time.Now().Add(15 * time.Second)
		ts := []unix.Timespec{unix.NsecToTimespec(exp.UnixNano()), unix.NsecToTimespec(exp.UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, f.claim, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return 0, err
		}
		if err := unix.Close(fd); err != nil {
			return 0, err
		}
		if err := unix.Link(f.claim, f.lock); err != nil {
			return 0, &os.LinkError{Op: "link", Old: f.claim, New: f.lock, Err: err}
		}
		if err := unix.Lstat(f.claim, &st); err != nil {
			return 0, err
		}
		if err := unix.Unlink(f.lock); err != nil {
			return 0, err
		}
		if err := unix.Unlink(f.claim); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func (*linkFloor) close() error { return nil }

// genFloor is the syscalls of the generation-directory protocol: mkdir,
// create, write, close, rename, open, unlinkat, close, rmdir.
type genFloor struct{ path string }

func (f genFloor) run(n int) (time.Duration, error) {
	tmp, rec := filepath.Join(f.path, "owner.tmp"), filepath.Join(f.path, "owner")
	data := []byte(fmt.Sprintf("floor %d\n", os.Getpid()))
	start := time.Now()
	for range n {
		if err := unix.Mkdir(f.path, 0o755); err != nil {
			return 0, &os.PathError{Op: "mkdir", Path: f.path, Err: err}
		}
		fd, err := unix.Open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return 0, err
		}
		if _, err := unix.Write(fd, data); err != nil {
			return 0, err
		}
		if err := unix.Close(fd); err != nil {
			return 0, err
		}
		if err := unix.Rename(tmp, rec); err != nil {
			return 0, err
		}
		dfd, err := unix.Open(f.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, err
		}
		if err := unix.Unlinkat(dfd, "owner", 0); err != nil {
			return 0, err
		}
		if err := unix.Close(dfd); err != nil {
			return 0, err
		}
		if err := unix.Rmdir(f.path); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func (genFloor) close() error { return nil }

type flockCycler struct{ f *flock.Flock }

func (c flockCycler) run(n int) (time.Duration, error) {
	start := time.Now()
	for range n {
		if err := c.f.Lock(); err != nil {
			return 0, err
		}
		if err := c.f.Unlock(); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

func (c flockCycler) close() error { return c.f.Close() }

// extCycler talks to a driver process: a count per line on its stdin, the
// nanoseconds that many cycles took per line on its stdout.
type extCycler struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func newExtCycler(cmd *exec.Cmd) (*extCycler, error) {
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &extCycler{cmd, in, bufio.NewScanner(out)}, nil
}

func (c *extCycler) run(n int) (time.Duration, error) {
	if _, err := fmt.Fprintf(c.in, "%d\n", n); err != nil {
		return 0, err
	}
	if !c.out.Scan() {
		return 0, fmt.Errorf("%s: no answer (%v)", c.cmd.Path, c.out.Err())
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(c.out.Text()), 10, 64)
	return time.Duration(ns), err
}

func (c *extCycler) close() error {
	_ = c.in.Close()
	return c.cmd.Wait()
}
