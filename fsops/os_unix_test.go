//go:build unix

package fsops_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/fsops"
)

// TestLstatMatchesOS compares Lstat with package os for every file type
// at hand, including the fields only Unix has.
func TestLstatMatchesOS(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("abc"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o640|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{dir, file, link, fifo, "/dev/null"} {
		got, err := fsops.OS().Lstat(name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.Lstat(name)
		if err != nil {
			t.Fatal(err)
		}
		st := want.Sys().(*syscall.Stat_t)
		if got.Mode != want.Mode() || got.Size != want.Size() || !got.ModTime.Equal(want.ModTime()) ||
			got.Ino != uint64(st.Ino) || got.Dev != uint64(st.Dev) || got.Nlink != uint64(st.Nlink) || got.Uid != st.Uid {
			t.Errorf("Lstat(%s) = %+v, want what os.Lstat says: %v %d %v %+v", name, got, want.Mode(), want.Size(), want.ModTime(), st)
		}
		if got.Ctime.IsZero() {
			t.Errorf("Lstat(%s): no Ctime", name)
		}
	}
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
