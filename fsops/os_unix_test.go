//go:build unix

package fsops_test

import (
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
