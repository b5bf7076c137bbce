package lease_test

// Hardening tests that need Linux and root: device files, mounts (a
// read-only and a full filesystem), other users, and descriptors seen
// from a child process.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/lease"
)

func init() {
	extraHelpers["try"] = helperTry
	extraHelpers["fds"] = helperFds
	extraHelpers["wait"] = helperWait
}

// envProtocol is the protocol named in the environment (default Strict).
func envProtocol() algorithm.Protocol {
	if p, ok := protocols[os.Getenv(protoEnv)]; ok {
		return p
	}
	return algorithm.Strict
}

// helperWait waits for the lock (lifetime 1 s) until it is killed.
func helperWait(path string) error {
	_, _, err := lease.Acquire(context.Background(), path, lease.WithLifetime(time.Second), lease.WithProtocol(envProtocol()))
	if err != nil {
		return err
	}
	select {}
}

const (
	modeEnv     = "NFSLEASE_TEST_MODE"      // "try" or "acquire" for helperTry
	fileModeEnv = "NFSLEASE_TEST_FILE_MODE" // octal WithFileMode for helperTry, if set
)

// tryResult is what helperTry reports on stdout.
type tryResult struct {
	Uid        int
	Acquired   bool
	Err        string
	Permission bool // errors.Is(err, fs.ErrPermission)
	NotLock    bool
	Held       bool
	Deadline   bool
}

// helperTry makes one TryAcquire or Acquire (bounded by a 5 s context),
// releases the lease if it got one, and reports the outcome as JSON.
func helperTry(path string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	acquire := lease.TryAcquire
	if os.Getenv(modeEnv) == "acquire" {
		acquire = lease.Acquire
	}
	opts := []lease.Option{lease.WithLifetime(2 * time.Second), lease.WithProtocol(envProtocol())}
	if m := os.Getenv(fileModeEnv); m != "" {
		mode, err := strconv.ParseUint(m, 8, 32)
		if err != nil {
			return err
		}
		opts = append(opts, lease.WithFileMode(fs.FileMode(mode)))
	}
	_, release, err := acquire(ctx, path, opts...)
	r := tryResult{Uid: os.Geteuid(), Acquired: err == nil}
	if err == nil {
		if err := release(); err != nil {
			return err
		}
	} else {
		r.Err = err.Error()
		r.Permission = errors.Is(err, fs.ErrPermission)
		r.NotLock = errors.Is(err, algorithm.ErrNotLock)
		r.Held = errors.Is(err, lease.ErrHeld)
		r.Deadline = errors.Is(err, context.DeadlineExceeded)
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// helperFds prints where each of its open descriptors points.
func helperFds(string) error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
		if err != nil {
			continue // the descriptor ReadDir had open, now closed
		}
		os.Stdout.WriteString(e.Name() + " " + target + "\n")
	}
	return nil
}

// publicBinary is a copy of the test binary that another user can run:
// go test builds it in a directory only root can enter.
func publicBinary(t *testing.T) string {
	t.Helper()
	bin, err := copyBinary()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(bin)) })
	return bin
}

func copyBinary() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "nfslease-bin-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	src, err := os.Open(exe)
	if err != nil {
		return "", err
	}
	defer src.Close()
	bin := filepath.Join(dir, "lease.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return "", err
	}
	return bin, dst.Close()
}

// nobody is the uid and gid the tests run other users' helpers as.
const nobody = 65534

// runAs runs helperTry from bin (a publicBinary) as uid (0: as ourselves)
// with protocol p and returns its result.
func runAs(t *testing.T, bin string, uid int, p algorithm.Protocol, mode, path string, env ...string) tryResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=try", pathEnv+"="+path, modeEnv+"="+mode, protoEnv+"="+p.Name())
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)}}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper as uid %d: %v (output %q)", uid, err, out)
	}
	var r tryResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("helper output %q: %v", out, err)
	}
	if r.Uid != uid {
		t.Fatalf("helper ran as uid %d, want %d", r.Uid, uid)
	}
	t.Logf("%s as uid %d: acquired=%v err=%v", mode, uid, r.Acquired, r.Err)
	return r
}

// publicDir makes a directory that another user can reach (t.TempDir's
// parent is private to root), removed at the end of the test.
func publicDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "nfslease-hardening-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// mountTmpfs mounts a tmpfs with options at a new directory under parent
// and unmounts it at the end of the test.
func mountTmpfs(t *testing.T, parent, opts string, flags uintptr) string {
	t.Helper()
	requireRoot(t)
	mnt := filepath.Join(parent, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", mnt, "tmpfs", flags, opts); err != nil {
		if os.Getenv(requireRootEnv) != "" {
			t.Fatalf("mount tmpfs at %s: %v", mnt, err)
		}
		t.Skipf("cannot mount a tmpfs (%v): set %s to make this a failure", err, requireRootEnv)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, 0); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
	})
	return mnt
}

// TestDeviceAtLockPath: character devices at the lock path, a harmless
// one (like /dev/null) and one with no driver, old: never removed,
// ErrNotLock, nothing of ours left.
func TestDeviceAtLockPath(t *testing.T) {
	forBoth(t, func(t *testing.T, p algorithm.Protocol) {
		requireRoot(t)
		for _, dev := range []struct {
			name         string
			major, minor uint32
		}{{"null", 1, 3}, {"zero", 1, 5}, {"no driver", 0, 0}} {
			t.Run(dev.name, func(t *testing.T) {
				root, locks, _ := hostileDirs(t)
				lock := filepath.Join(locks, "a.lock")
				if err := unix.Mknod(lock, unix.S_IFCHR|0o666, int(unix.Mkdev(dev.major, dev.minor))); err != nil {
					t.Fatal(err)
				}
				setMtime(t, lock, longAgo)
				before := snapshot(t, root)
				for _, acquire := range []func(context.Context, string, ...lease.Option) (context.Context, func() error, error){lease.Acquire, lease.TryAcquire} {
					_, _, err := acquire(hctx(t), lock, fast(p)...)
					if !errors.Is(err, algorithm.ErrNotLock) {
						t.Errorf("err = %v, want ErrNotLock", err)
					}
					wantNamesPath(t, err, lock)
				}
				wantSnapshot(t, root, before)
			})
		}
	})
}

// TestReadOnlyFilesystem: on a read-only mount, Acquire fails at once with
// EROFS naming the path, whether the directory is empty or holds a stale
// lock, which stays as it was.
func TestReadOnlyFilesystem(t *testing.T) {
	forBoth(t, func(t *testing.T, p algorithm.Protocol) {
		for _, stale := range []bool{false, true} {
			t.Run(map[bool]string{false: "empty", true: "stale lock"}[stale], func(t *testing.T) {
				mnt := mountTmpfs(t, t.TempDir(), "size=1m", 0)
				lock := filepath.Join(mnt, "a.lock")
				switch {
				case stale && p == algorithm.Strict:
					mkStrictLock(t, lock, strictRecord(staleGen, "other", 1, 1000), 0o644)
				case stale:
					claim := lock + "|other|1|2"
					write(t, claim, []byte(claim))
					if err := os.Link(claim, lock); err != nil {
						t.Fatal(err)
					}
					setMtime(t, lock, longAgo)
				}
				if err := unix.Mount("", mnt, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
					t.Fatalf("remount read-only: %v", err)
				}
				before := snapshot(t, mnt)
				for _, acquire := range []func(context.Context, string, ...lease.Option) (context.Context, func() error, error){lease.Acquire, lease.TryAcquire} {
					start := time.Now()
					_, _, err := acquire(hctx(t), lock, fast(p)...)
					if !errors.Is(err, syscall.EROFS) {
						t.Errorf("err = %v, want EROFS", err)
					}
					if time.Since(start) > 2*time.Second {
						t.Errorf("took %v to fail", time.Since(start))
					}
					wantNamesPath(t, err, lock)
				}
				wantSnapshot(t, mnt, before)
			})
		}
		t.Run("mounted read-only", func(t *testing.T) {
			mnt := mountTmpfs(t, t.TempDir(), "ro,size=1m", unix.MS_RDONLY)
			lock := filepath.Join(mnt, "a.lock")
			_, _, err := lease.Acquire(hctx(t), lock, fast(p)...)
			if !errors.Is(err, syscall.EROFS) {
				t.Errorf("err = %v, want EROFS", err)
			}
			wantNamesPath(t, err, lock)
			if names := dirNames(t, mnt); len(names) != 0 {
				t.Errorf("files: %q", names)
			}
		})
	})
}

// TestFullFilesystem: on a full tmpfs, writing the claim fails with
// ENOSPC; Acquire returns it at once, naming the path, and leaves no
// partial claim behind. The filler file is untouched.
func TestFullFilesystem(t *testing.T) {
	forBoth(t, func(t *testing.T, p algorithm.Protocol) {
		mnt := mountTmpfs(t, t.TempDir(), "size=12k", 0)
		f, err := os.Create(filepath.Join(mnt, "filler"))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 512)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
		f.Close()
		lock := filepath.Join(mnt, "a.lock")
		before := snapshot(t, mnt)
		for _, acquire := range []func(context.Context, string, ...lease.Option) (context.Context, func() error, error){lease.Acquire, lease.TryAcquire} {
			start := time.Now()
			_, _, err := acquire(hctx(t), lock, fast(p)...)
			if !errors.Is(err, syscall.ENOSPC) {
				t.Errorf("err = %v, want ENOSPC", err)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("took %v to fail", time.Since(start))
			}
			wantNamesPath(t, err, lock)
		}
		wantSnapshot(t, mnt, before)

		// Freeing space makes the lock usable again.
		if err := os.Truncate(filepath.Join(mnt, "filler"), 0); err != nil {
			t.Fatal(err)
		}
		_, release, err := lease.Acquire(hctx(t), lock, fast(p)...)
		if err != nil {
			t.Fatalf("Acquire after freeing space = %v", err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestOtherUsers runs the lease as uid 65534 against directories and locks
// of root.
func TestOtherUsers(t *testing.T) {
	requireRoot(t)
	bin := publicBinary(t)
	forBoth(t, func(t *testing.T, p algorithm.Protocol) { testOtherUsers(t, bin, p) })
}

func testOtherUsers(t *testing.T, bin string, p algorithm.Protocol) {
	t.Run("directory not writable", func(t *testing.T) {
		d := publicDir(t)
		lock := filepath.Join(d, "a.lock")
		before := snapshot(t, d)
		for _, mode := range []string{"try", "acquire"} {
			r := runAs(t, bin, nobody, p, mode, lock)
			if r.Acquired || !r.Permission || r.Deadline {
				t.Errorf("%s as uid %d: %+v, want a permission error at once", mode, nobody, r)
			}
			if !strings.Contains(r.Err, lock) {
				t.Errorf("error %q does not name the path", r.Err)
			}
		}
		wantSnapshot(t, d, before)
	})
	t.Run("stale lock of root in a sticky directory", func(t *testing.T) {
		// Like /tmp: world-writable with the sticky bit, so that no one
		// may rename or remove another user's files. A stale lock of
		// root's cannot be broken by anyone else: a clear permission
		// error, and nothing removed.
		d := publicDir(t)
		if err := os.Chmod(d, 0o777|fs.ModeSticky); err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(d, "a.lock")
		if p == algorithm.Strict {
			mkStrictLock(t, lock, strictRecord(staleGen, "roothost", 1, 1000), 0o644)
		} else {
			claim := lock + "|roothost|1|nfslease1.l2000.r0123456789abcdef"
			write(t, claim, []byte(claim))
			if err := os.Link(claim, lock); err != nil {
				t.Fatal(err)
			}
		}
		setMtime(t, lock, longAgo)
		before := snapshot(t, d)
		for _, mode := range []string{"try", "acquire"} {
			r := runAs(t, bin, nobody, p, mode, lock)
			if p == algorithm.Strict && mode == "try" {
				// Strict judges staleness only by watching the record
				// unchanged for its lifetime: one look sees it held.
				if r.Acquired || !r.Held {
					t.Errorf("%s as uid %d: %+v, want ErrHeld", mode, nobody, r)
				}
				wantSnapshot(t, d, before)
				continue
			}
			// Strict: after watching it for its lifetime plus the
			// margin, removing the record from root's directory fails.
			if r.Acquired || !r.Permission || r.Deadline {
				t.Errorf("%s as uid %d: %+v, want a permission error at once", mode, nobody, r)
			}
			if !strings.Contains(r.Err, lock) {
				t.Errorf("error %q does not name the path", r.Err)
			}
			wantSnapshot(t, d, before)
		}
		// Root itself can break it.
		if r := runAs(t, bin, 0, p, "acquire", lock); !r.Acquired {
			t.Errorf("root over its own stale lock: %+v", r)
		}
		if names := dirNames(t, d); len(names) != 0 {
			t.Errorf("left behind: %q", names)
		}
	})
	t.Run("live lock of root in a sticky directory", func(t *testing.T) {
		d := publicDir(t)
		if err := os.Chmod(d, 0o777|fs.ModeSticky); err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(d, "a.lock")
		_, release, err := lease.Acquire(hctx(t), lock, fast(p)...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		before := snapshot(t, d)
		r := runAs(t, bin, nobody, p, "try", lock)
		if r.Acquired || !r.Held {
			t.Errorf("TryAcquire as uid %d: %+v, want ErrHeld", nobody, r)
		}
		after := snapshot(t, d)
		for name := range after {
			if _, ok := before[name]; !ok {
				t.Errorf("left behind: %s", name)
			}
		}
	})
	t.Run("lock of another user, unreadable", func(t *testing.T) {
		// A lock file the helper cannot read: a permission error, not
		// "held" or "not a lock", and nothing removed.
		d := publicDir(t)
		if err := os.Chmod(d, 0o777|fs.ModeSticky); err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(d, "a.lock")
		if p == algorithm.Strict {
			// A generation directory only its owner can enter.
			mkStrictLock(t, lock, strictRecord(staleGen, "roothost", 1, 1000), 0o600)
			if err := os.Chmod(lock, 0o700); err != nil {
				t.Fatal(err)
			}
		} else {
			claim := lock + "|roothost|1|2"
			if err := os.WriteFile(claim, []byte(claim), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Link(claim, lock); err != nil {
				t.Fatal(err)
			}
		}
		setMtime(t, lock, longAgo)
		before := snapshot(t, d)
		for _, mode := range []string{"try", "acquire"} {
			r := runAs(t, bin, nobody, p, mode, lock)
			if r.Acquired || !r.Permission || r.Deadline {
				t.Errorf("%s as uid %d: %+v, want a permission error at once", mode, nobody, r)
			}
			if !strings.Contains(r.Err, lock) {
				t.Errorf("error %q does not name the path", r.Err)
			}
		}
		wantSnapshot(t, d, before)
	})
	t.Run("read-only file mode", func(t *testing.T) {
		// WithFileMode(0444) as an ordinary user in a directory it may
		// write: the lock is taken and released, nothing left.
		d := publicDir(t)
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
		lock := filepath.Join(d, "a.lock")
		for _, mode := range []string{"try", "acquire"} {
			r := runAs(t, bin, nobody, p, mode, lock, fileModeEnv+"=444")
			if !r.Acquired {
				t.Errorf("%s as uid %d with file mode 0444: %+v, want acquired", mode, nobody, r)
			}
		}
		if names := dirNames(t, d); len(names) != 0 {
			t.Errorf("left behind: %q", names)
		}
	})
}

// TestChildInheritsNoDescriptor holds a lease and, while other goroutines
// take and release leases in the same directory, starts child processes
// that list their descriptors: none may point into the lock directory
// (every descriptor is opened with O_CLOEXEC; Flufl keeps none open,
// Strict keeps one on the generation it holds).
func TestChildInheritsNoDescriptor(t *testing.T) {
	forBoth(t, func(t *testing.T, p algorithm.Protocol) {
		_, locks, _ := hostileDirs(t)
		_, release, err := lease.Acquire(hctx(t), filepath.Join(locks, "held.lock"), fast(p)...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		if p == algorithm.Strict {
			// Strict keeps a descriptor on its generation while it
			// holds the lock: there is one to leak.
			ents, _ := os.ReadDir("/proc/self/fd")
			if !slices.ContainsFunc(ents, func(e fs.DirEntry) bool {
				target, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name()))
				return target == filepath.Join(locks, "held.lock")
			}) {
				t.Fatal("no descriptor on the held generation: the test checks nothing")
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() {
				lock := filepath.Join(locks, "busy"+string(rune('0'+i))+".lock")
				for ctx.Err() == nil {
					_, rel, err := lease.Acquire(ctx, lock, fast(p)...)
					if err == nil {
						rel()
					}
				}
			})
		}
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		var seen int
		for range 40 {
			cmd := exec.Command(exe, "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=fds")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				seen++
				if strings.Contains(sc.Text(), locks) {
					t.Errorf("child inherited a descriptor into the lock directory: %s", sc.Text())
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		wg.Wait()
		if seen == 0 {
			t.Fatal("children listed no descriptors at all")
		}
	})
}

// TestCrashLeftoversBounded kills 20 waiting processes with SIGKILL, each
// leaving its claim file, and checks that later acquisitions remove them
// (at most 8 each, once they are old enough), so that crashes do not fill
// the lock directory. A claim's age is its mtime: each dead claim is set an
// hour ahead at once, so that no later helper may sweep it however slow the
// loop runs, and then all are set an hour back, so that the test need not
// wait for them to age.
func TestCrashLeftoversBounded(t *testing.T) {
	_, locks, _ := hostileDirs(t)
	lock := filepath.Join(locks, "a.lock")
	opts := []lease.Option{lease.WithLifetime(time.Second), lease.WithProtocol(algorithm.Flufl)}
	_, release, err := lease.Acquire(hctx(t), lock, opts...)
	if err != nil {
		t.Fatal(err)
	}
	const crashes = 20
	for range crashes {
		cmd := helperCmd(t, "wait", lock, protoEnv+"=flufl")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		mark := "|" + strconv.Itoa(cmd.Process.Pid) + "|"
		deadline := time.Now().Add(10 * time.Second)
		for !slices.ContainsFunc(dirNames(t, locks), func(n string) bool { return strings.Contains(n, mark) }) {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper %d made no claim", cmd.Process.Pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		setClaimTimes(t, locks, mark, time.Now().Add(time.Hour))
	}
	if n := len(dirNames(t, locks)); n != crashes+2 {
		t.Fatalf("%d files after %d crashes, want the lock, our claim and %d leftovers", n, crashes, crashes)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	// A dead process's claim is a leftover once untouched for its
	// lifetime plus the stale margin: an hour back is far beyond.
	setClaimTimes(t, locks, "|", time.Now().Add(-time.Hour))
	// A process sweeps a lock at most once per lifetime (proto.Hints), and
	// this one last swept it at its first acquisition above.
	time.Sleep(time.Second)
	var counts []int
	for range 4 {
		_, release, err := lease.Acquire(hctx(t), lock, opts...)
		if err != nil {
			t.Fatal(err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		counts = append(counts, len(dirNames(t, locks)))
	}
	if fmt.Sprint(counts) != "[12 4 0 0]" {
		t.Errorf("leftovers after each acquisition = %v, want [12 4 0 0]", counts)
	}
}

// setClaimTimes sets the mtime of every name in dir that contains mark
// (a Flufl claim's "|pid|") to mtime.
func setClaimTimes(t *testing.T, dir, mark string, mtime time.Time) {
	t.Helper()
	for _, n := range dirNames(t, dir) {
		if strings.Contains(n, mark) {
			if err := os.Chtimes(filepath.Join(dir, n), mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestCrashLeftoversBoundedStrict kills 20 waiting Strict processes with
// SIGKILL, each leaving its staging directory, and checks that later
// contended acquisitions collect them, at most 8 each, once they are 10
// lifetimes old. Their age is simulated by setting their records' mtimes
// a year back, so that the test need not wait 10 lifetimes.
func TestCrashLeftoversBoundedStrict(t *testing.T) {
	_, locks, _ := hostileDirs(t)
	lock := filepath.Join(locks, "a.lock")
	opts := []lease.Option{lease.WithLifetime(time.Second), lease.WithProtocol(algorithm.Strict)}
	_, release, err := lease.Acquire(hctx(t), lock, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	stages := func() []string {
		var s []string
		for _, n := range dirNames(t, locks) {
			if _, err := os.Lstat(filepath.Join(locks, n, "owner")); err == nil && strings.HasPrefix(n, ".a.lock.stage.") {
				s = append(s, n) // with its record written
			}
		}
		return s
	}
	const crashes = 20
	for i := range crashes {
		cmd := helperCmd(t, "wait", lock, protoEnv+"=strict")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for len(stages()) <= i {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				cmd.Wait()
				t.Fatalf("helper %d made no staging directory", cmd.Process.Pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	if n := len(dirNames(t, locks)); n != crashes+1 {
		t.Fatalf("%d entries after %d crashes, want the lock and %d staging directories: %q", n, crashes, crashes, dirNames(t, locks))
	}
	// A fresh stage (a live waiter's, as far as anyone can tell) is
	// never collected: the first collection must not reach it.
	fresh := stages()[0]
	for _, s := range stages()[1:] {
		setMtime(t, filepath.Join(locks, s, "owner"), longAgo)
	}
	var counts []int
	for range 4 {
		_, _, err := lease.TryAcquire(hctx(t), lock, opts...)
		if !errors.Is(err, lease.ErrHeld) {
			t.Fatalf("TryAcquire = %v, want ErrHeld", err)
		}
		counts = append(counts, len(stages()))
	}
	if fmt.Sprint(counts) != "[12 4 1 1]" {
		t.Errorf("staging directories after each contended acquisition = %v, want [12 4 1 1]", counts)
	}
	if s := stages(); len(s) != 1 || s[0] != fresh {
		t.Errorf("staging directories left = %q, want only the fresh one %s", s, fresh)
		for _, n := range s {
			fi, _ := os.Lstat(filepath.Join(locks, n, "owner"))
			b, _ := os.ReadFile(filepath.Join(locks, n, "owner"))
			t.Logf("%s: %v %q", n, fi.ModTime(), b)
		}
	}
	for _, n := range dirNames(t, locks) {
		if strings.Contains(n, ".gc.") {
			t.Errorf("collection left %s", n)
		}
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
}
