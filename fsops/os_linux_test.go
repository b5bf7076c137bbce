package fsops_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/fsops"
)

// withFileSizeLimit runs f with RLIMIT_FSIZE lowered to limit, so that
// writes beyond it fail with EFBIG (the Go runtime ignores SIGXFSZ). The
// limit is per process: the tests of this package do not run in parallel.
func withFileSizeLimit(t *testing.T, limit uint64, f func()) {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lowered := old
	lowered.Cur = min(limit, old.Max)
	if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &lowered); err != nil {
		t.Skipf("cannot lower RLIMIT_FSIZE: %v", err)
	}
	defer func() {
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &old); err != nil {
			t.Fatal(err)
		}
	}()
	f()
}

// TestCreateExclWriteError checks that a file whose content could not be
// written is removed, after a short write has already put part of it
// there.
func TestCreateExclWriteError(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	var err error
	withFileSizeLimit(t, 4096, func() {
		_, err = fsops.OS().CreateExcl(name, make([]byte, 10000), 0o644)
	})
	var pe *fs.PathError
	if !errors.Is(err, syscall.EFBIG) || !errors.As(err, &pe) || pe.Op != "write" || pe.Path != name {
		t.Errorf("CreateExcl = %v, want a write *fs.PathError for %s wrapping EFBIG", err, name)
	}
	if _, err := os.Lstat(name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file left behind: Lstat = %v", err)
	}
}

// TestNoDescriptorLeak runs every call, on its success and error paths,
// and checks that the process holds no more descriptors afterwards.
func TestNoDescriptorLeak(t *testing.T) {
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(path("big"), bytes.Repeat([]byte("x"), 100), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(path("big"), path("link")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(path("fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	fsys := fsops.OS()
	calls := func() {
		_, _ = fsys.CreateExcl(path("new"), []byte("x"), 0o644)
		_, _ = fsys.CreateExcl(path("new"), []byte("x"), 0o644) // exists
		withFileSizeLimit(t, 10, func() {
			_, _ = fsys.CreateExcl(path("toolong"), make([]byte, 20), 0o644)
		})
		for _, name := range []string{"new", "big", "link", "fifo", ".", "missing"} {
			_, _, _ = fsys.ReadFile(path(name), 10)
		}
		_ = fsys.Link(path("new"), path("new2"))
		_ = fsys.Rename(path("new2"), path("new3"))
		_, _ = fsys.Lstat(path("new3"))
		_ = fsys.Chtimes(path("new3"), time.Unix(1, 2), time.Unix(3, 4))
		_ = fsys.Remove(path("new3"))
		_ = fsys.Remove(path("new"))
		_, _ = fsys.ReadDir(dir)
		_, _ = fsys.ReadDir(path("missing"))
		_, _ = fsys.ReadDir(path("big"))
	}
	calls() // let the runtime open whatever it opens once
	before := openDescriptors(t)
	for range 10 {
		calls()
	}
	if after := openDescriptors(t); after != before {
		t.Errorf("%d descriptors open after the calls, %d before", after, before)
	}
}

func openDescriptors(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents) - 1 // the one ReadDir had open
}

// TestReadFileSpecial checks ReadFile on file types that open(2) itself
// refuses or that have no driver: a Unix socket (ENXIO from open) and, as
// root, a character device whose major number has no driver. Both must be
// reported as ErrNotRegular, like a FIFO or a directory, so that a caller
// can tell "not a lock" from a failing filesystem.
func TestReadFileSpecial(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	names := []string{sock}
	if os.Geteuid() != 0 {
		if os.Getenv("NFSLEASE_REQUIRE_ROOT") != "" {
			t.Fatal("NFSLEASE_REQUIRE_ROOT is set but the test does not run as root: cannot make device files")
		}
		t.Log("not root: device files not checked")
	} else {
		// Major 0 is reserved for unnamed devices: no driver opens it.
		dev := filepath.Join(dir, "nodriver")
		if err := unix.Mknod(dev, unix.S_IFCHR|0o600, int(unix.Mkdev(0, 0))); err != nil {
			t.Fatal(err)
		}
		null := filepath.Join(dir, "null")
		if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		names = append(names, dev, null)
	}
	for _, name := range names {
		data, fi, err := fsops.OS().ReadFile(name, 10)
		if !errors.Is(err, fsops.ErrNotRegular) {
			t.Errorf("ReadFile(%s) = %q, %v; want ErrNotRegular", name, data, err)
		}
		if fi.Mode.IsRegular() || fi.Mode == 0 {
			t.Errorf("ReadFile(%s): mode %v, want the special file's", name, fi.Mode)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != name {
			t.Errorf("ReadFile(%s): error %v does not name the path", name, err)
		}
	}
}
