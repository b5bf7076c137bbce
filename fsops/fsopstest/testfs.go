package fsopstest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// TestFS is the conformance suite for fsops.FS implementations. It runs one
// subtest per behaviour, grouped by method, and calls newFS at the start of
// each for a fresh FS, a Setup that makes fixtures in the same files, and
// an existing empty directory, named as the FS expects names, to work in.
//
// The suite asks for what every implementation promises on a local
// filesystem:
//
//   - strict errors: an existing name fails with EEXIST (fs.ErrExist),
//     never EPERM, so run it on a Mem without quirks; every error is an
//     *fs.PathError (an *os.LinkError for Link and Rename) naming the paths
//     as given;
//   - no symbolic link is ever followed in the last component;
//   - modification times are kept to the microsecond at least;
//   - inode identity and link counts are checked only when the FS reports
//     inode numbers (Ino != 0), since some platforms have none.
//
// Exact errnos where POSIX systems differ (unlinking a directory gives
// EISDIR on Linux, EPERM on BSDs) are not checked, only that the call
// fails and changes nothing.
func TestFS(t *testing.T, newFS func(t *testing.T) (fsops.FS, Setup, string)) {
	t.Helper()
	for _, g := range suite() {
		t.Run(g.method, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					fsys, setup, dir := newFS(t)
					tc.run(t, &env{t: t, fs: fsys, setup: setup, dir: dir})
				})
			}
		})
	}
}

type fsTest struct {
	name string
	run  func(t *testing.T, e *env)
}

type fsGroup struct {
	method string
	tests  []fsTest
}

func suite() []fsGroup {
	return []fsGroup{
		{"CreateExcl", createExclTests()},
		{"Link", linkTests()},
		{"Rename", renameTests()},
		{"RenameNoReplace", renameNoReplaceTests()},
		{"Lstat", lstatTests()},
		{"ReadFile", readFileTests()},
		{"Chtimes", chtimesTests()},
		{"Remove", removeTests()},
		{"Mkdir", mkdirTests()},
		{"Rmdir", rmdirTests()},
		{"RenameDir", renameDirTests()},
		{"OpenDir", openDirTests()},
		{"Dir", dirTests()},
		{"ReadDir", readDirTests()},
	}
}

// fixture is something in the way at a name. make creates it at p and
// returns a function that fails the test if it has changed since.
type fixture struct {
	kind string
	make func(e *env, p string) (unchanged func())
}

var fixtures = []fixture{
	{"file", func(e *env, p string) func() {
		e.write(p, "old")
		return func() {
			if got := e.content(p); got != "old" {
				e.t.Errorf("%s now holds %q, want %q", p, got, "old")
			}
		}
	}},
	{"directory", func(e *env, p string) func() {
		e.mkdir(p)
		return func() { e.wantMode(p, fs.ModeDir) }
	}},
	{"symlink", func(e *env, p string) func() {
		target := e.write(p+".target", "old")
		e.symlink(target, p)
		return func() {
			e.wantMode(p, fs.ModeSymlink)
			if got := e.content(target); got != "old" {
				e.t.Errorf("symlink target %s now holds %q, want %q", target, got, "old")
			}
		}
	}},
	{"dangling symlink", func(e *env, p string) func() {
		target := p + ".target"
		e.symlink(target, p)
		return func() {
			e.wantMode(p, fs.ModeSymlink)
			e.wantMissing(target)
		}
	}},
	{"fifo", func(e *env, p string) func() {
		e.fifo(p)
		return func() { e.wantMode(p, fs.ModeNamedPipe) }
	}},
}

func createExclTests() []fsTest {
	tests := []fsTest{
		{"creates", func(t *testing.T, e *env) {
			p := e.path("f")
			created, err := e.fs.CreateExcl(p, []byte("hello"), 0o640)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.content(p); got != "hello" {
				t.Errorf("content = %q, want %q", got, "hello")
			}
			fi := e.lstat(p)
			wantCreated(t, created, fi)
			if !fi.IsRegular() || fi.Size != 5 {
				t.Errorf("mode %v, size %d; want a regular file of 5 bytes", fi.Mode, fi.Size)
			}
			// The umask may clear bits but never adds any. Windows only
			// knows read-only or not.
			if perm := fi.Mode.Perm(); runtime.GOOS != "windows" && (perm&^0o640 != 0 || perm&0o600 != 0o600) {
				t.Errorf("permissions %v, want 0640 less the umask", perm)
			}
			if fi.Ino != 0 && fi.Nlink != 1 {
				t.Errorf("Nlink = %d, want 1", fi.Nlink)
			}
		}},
		{"empty", func(t *testing.T, e *env) {
			p := e.path("f")
			created, err := e.fs.CreateExcl(p, nil, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			fi := e.lstat(p)
			if !fi.IsRegular() || fi.Size != 0 {
				t.Errorf("mode %v, size %d; want an empty regular file", fi.Mode, fi.Size)
			}
			wantCreated(t, created, fi)
		}},
		{"missing parent", func(t *testing.T, e *env) {
			p := e.path("missing/f")
			_, err := e.fs.CreateExcl(p, []byte("x"), 0o644)
			wantPathError(t, err, p, fs.ErrNotExist)
		}},
	}
	for _, fx := range fixtures {
		tests = append(tests, fsTest{"onto " + fx.kind, func(t *testing.T, e *env) {
			p := e.path("x")
			unchanged := fx.make(e, p)
			_, err := e.fs.CreateExcl(p, []byte("new"), 0o644)
			wantPathError(t, err, p, fs.ErrExist)
			unchanged()
		}})
	}
	return tests
}

// wantCreated checks the attributes CreateExcl returned against those
// Lstat finds: the same file, as it was after the write.
func wantCreated(t *testing.T, got, lstat fsops.FileInfo) {
	t.Helper()
	if got.Dev != lstat.Dev || got.Ino != lstat.Ino || got.Nlink != lstat.Nlink ||
		got.Size != lstat.Size || got.Mode != lstat.Mode || got.Uid != lstat.Uid {
		t.Errorf("CreateExcl returned %+v; Lstat finds %+v", got, lstat)
	}
}

func linkTests() []fsTest {
	tests := []fsTest{
		{"second name", func(t *testing.T, e *env) {
			a, b := e.write(e.path("a"), "claim"), e.path("b")
			fa := e.lstat(a)
			if err := e.fs.Link(a, b); err != nil {
				t.Fatal(err)
			}
			if got := e.content(b); got != "claim" {
				t.Errorf("content of new name = %q, want %q", got, "claim")
			}
			if fa.Ino == 0 {
				return
			}
			fa, fb := e.lstat(a), e.lstat(b)
			if !fsops.SameFile(fa, fb) {
				t.Errorf("names are different files: %+v, %+v", fa, fb)
			}
			if fa.Nlink != 2 || fb.Nlink != 2 {
				t.Errorf("Nlink = %d and %d, want 2", fa.Nlink, fb.Nlink)
			}
			if _, fr, err := e.fs.ReadFile(b, 100); err != nil || !fsops.SameFile(fr, fa) {
				t.Errorf("ReadFile of new name: %+v, %v; want the file of the old name", fr, err)
			}
		}},
		{"missing source", func(t *testing.T, e *env) {
			a, b := e.path("a"), e.path("b")
			wantLinkError(t, e.fs.Link(a, b), a, b, fs.ErrNotExist)
			e.wantMissing(b)
		}},
		{"missing parent", func(t *testing.T, e *env) {
			a, b := e.write(e.path("a"), "x"), e.path("missing/b")
			wantLinkError(t, e.fs.Link(a, b), a, b, fs.ErrNotExist)
		}},
		{"directory", func(t *testing.T, e *env) {
			d, b := e.mkdir(e.path("d")), e.path("b")
			wantLinkError(t, e.fs.Link(d, b), d, b, nil)
			e.wantMissing(b)
		}},
		{"symlink", func(t *testing.T, e *env) {
			target := e.write(e.path("t"), "x")
			l, m := e.symlink(target, e.path("l")), e.path("m")
			if err := e.fs.Link(l, m); err != nil {
				t.Fatal(err)
			}
			e.wantMode(m, fs.ModeSymlink)
			if fl, fm := e.lstat(l), e.lstat(m); fl.Ino != 0 && !fsops.SameFile(fl, fm) {
				t.Errorf("new name is not the symlink: %+v, %+v", fl, fm)
			}
		}},
	}
	for _, fx := range fixtures {
		tests = append(tests, fsTest{"onto " + fx.kind, func(t *testing.T, e *env) {
			a, p := e.write(e.path("a"), "mine"), e.path("x")
			unchanged := fx.make(e, p)
			wantLinkError(t, e.fs.Link(a, p), a, p, fs.ErrExist)
			unchanged()
			if fa := e.lstat(a); fa.Ino != 0 && fa.Nlink != 1 {
				t.Errorf("Nlink of source = %d, want 1", fa.Nlink)
			}
		}})
	}
	return tests
}

func renameTests() []fsTest {
	return []fsTest{
		{"new name", func(t *testing.T, e *env) {
			a, b := e.write(e.path("a"), "A"), e.path("b")
			fa := e.lstat(a)
			if err := e.fs.Rename(a, b); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(a)
			e.wantSame(fa, b, "A")
		}},
		{"replaces file", func(t *testing.T, e *env) {
			a, b := e.write(e.path("a"), "A"), e.write(e.path("b"), "B")
			fa := e.lstat(a)
			if err := e.fs.Rename(a, b); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(a)
			e.wantSame(fa, b, "A")
		}},
		{"onto itself", func(t *testing.T, e *env) {
			a := e.write(e.path("a"), "A")
			if err := e.fs.Rename(a, a); err != nil {
				t.Fatal(err)
			}
			if got := e.content(a); got != "A" {
				t.Errorf("content = %q, want %q", got, "A")
			}
		}},
		{"missing source", func(t *testing.T, e *env) {
			a, b := e.path("a"), e.write(e.path("b"), "B")
			wantLinkError(t, e.fs.Rename(a, b), a, b, fs.ErrNotExist)
			if got := e.content(b); got != "B" {
				t.Errorf("target now holds %q, want %q", got, "B")
			}
		}},
		{"file onto directory", func(t *testing.T, e *env) {
			a, d := e.write(e.path("a"), "A"), e.mkdir(e.path("d"))
			wantLinkError(t, e.fs.Rename(a, d), a, d, nil)
			e.wantMode(d, fs.ModeDir)
			if got := e.content(a); got != "A" {
				t.Errorf("source now holds %q, want %q", got, "A")
			}
		}},
		{"symlink", func(t *testing.T, e *env) {
			target := e.write(e.path("t"), "T")
			l, m := e.symlink(target, e.path("l")), e.path("m")
			if err := e.fs.Rename(l, m); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(l)
			e.wantMode(m, fs.ModeSymlink)
			if got := e.content(target); got != "T" {
				t.Errorf("target now holds %q, want %q", got, "T")
			}
		}},
	}
}

// noReplace returns the FS as an fsops.NoReplaceRenamer, or skips the
// test if it is not one. One that answers errors.ErrUnsupported (a
// filesystem without the flag) must change nothing, which is checked
// before the test is skipped.
func (e *env) noReplace() fsops.NoReplaceRenamer {
	e.t.Helper()
	r, ok := e.fs.(fsops.NoReplaceRenamer)
	if !ok {
		e.t.Skipf("%T is not an fsops.NoReplaceRenamer", e.fs)
	}
	a, b := e.write(e.path("probe"), "P"), e.path("probe2")
	switch err := r.RenameNoReplace(a, b); {
	case errors.Is(err, errors.ErrUnsupported):
		wantLinkError(e.t, err, a, b, nil)
		if got := e.content(a); got != "P" {
			e.t.Errorf("unsupported RenameNoReplace changed %s: it holds %q", a, got)
		}
		e.wantMissing(b)
		e.t.Skipf("RenameNoReplace is unsupported here: %v", err)
	case err != nil:
		e.t.Fatalf("RenameNoReplace to a new name: %v", err)
	}
	if err := e.fs.Remove(b); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func renameNoReplaceTests() []fsTest {
	tests := []fsTest{
		{"new name", func(t *testing.T, e *env) {
			r := e.noReplace()
			a, b := e.write(e.path("a"), "A"), e.path("b")
			fa := e.lstat(a)
			if err := r.RenameNoReplace(a, b); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(a)
			e.wantSame(fa, b, "A")
		}},
		{"directory to new name", func(t *testing.T, e *env) {
			r := e.noReplace()
			d, n := e.mkdir(e.path("d")), e.path("n")
			e.write(d+"/inside", "I")
			if err := r.RenameNoReplace(d, n); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(d)
			if got := e.content(n + "/inside"); got != "I" {
				t.Errorf("%s/inside holds %q, want %q", n, got, "I")
			}
		}},
		{"onto itself", func(t *testing.T, e *env) {
			r := e.noReplace()
			a := e.write(e.path("a"), "A")
			wantLinkError(t, r.RenameNoReplace(a, a), a, a, fs.ErrExist)
			if got := e.content(a); got != "A" {
				t.Errorf("content = %q, want %q", got, "A")
			}
		}},
		{"missing source", func(t *testing.T, e *env) {
			r := e.noReplace()
			a, b, c := e.path("a"), e.write(e.path("b"), "B"), e.path("c")
			wantLinkError(t, r.RenameNoReplace(a, b), a, b, fs.ErrNotExist)
			wantLinkError(t, r.RenameNoReplace(a, c), a, c, fs.ErrNotExist)
			if got := e.content(b); got != "B" {
				t.Errorf("target now holds %q, want %q", got, "B")
			}
		}},
	}
	for _, src := range []string{"file", "directory"} {
		for _, fx := range fixtures {
			tests = append(tests, fsTest{src + " onto " + fx.kind, func(t *testing.T, e *env) {
				r := e.noReplace()
				a, p := e.path("a"), e.path("x")
				if src == "file" {
					e.write(a, "mine")
				} else {
					e.mkdir(a)
				}
				unchanged := fx.make(e, p)
				wantLinkError(t, r.RenameNoReplace(a, p), a, p, fs.ErrExist)
				unchanged()
				if src == "file" && e.content(a) != "mine" {
					t.Errorf("source %s changed", a)
				}
				if src == "directory" {
					e.wantMode(a, fs.ModeDir)
				}
			}})
		}
	}
	return tests
}

func lstatTests() []fsTest {
	return []fsTest{
		{"file", func(t *testing.T, e *env) {
			fi := e.lstat(e.write(e.path("f"), "abc"))
			if !fi.IsRegular() || fi.Size != 3 || fi.ModTime.IsZero() {
				t.Errorf("got %+v, want a regular file of 3 bytes with a modification time", fi)
			}
			if fi.Ino != 0 && fi.Nlink != 1 {
				t.Errorf("Nlink = %d, want 1", fi.Nlink)
			}
		}},
		{"directory", func(t *testing.T, e *env) {
			e.wantMode(e.mkdir(e.path("d")), fs.ModeDir)
		}},
		{"symlink", func(t *testing.T, e *env) {
			target := e.write(e.path("t"), "0123456789")
			l := e.symlink(target, e.path("l"))
			e.wantMode(l, fs.ModeSymlink)
			if fl, ft := e.lstat(l), e.lstat(target); fl.Ino != 0 && fsops.SameFile(fl, ft) {
				t.Errorf("Lstat of the symlink describes its target: %+v", fl)
			}
		}},
		{"missing", func(t *testing.T, e *env) {
			p := e.path("f")
			_, err := e.fs.Lstat(p)
			wantPathError(t, err, p, fs.ErrNotExist)
		}},
		{"parent is a file", func(t *testing.T, e *env) {
			p := filepath.Join(e.write(e.path("f"), "x"), "g")
			_, err := e.fs.Lstat(p)
			wantPathError(t, err, p, nil)
		}},
	}
}

func readFileTests() []fsTest {
	tests := []fsTest{
		{"content and info", func(t *testing.T, e *env) {
			p := e.write(e.path("f"), "hello")
			data, fi, err := e.fs.ReadFile(p, 100)
			if err != nil || string(data) != "hello" {
				t.Fatalf("ReadFile = %q, %v; want %q", data, err, "hello")
			}
			want := e.lstat(p)
			if fi.Dev != want.Dev || fi.Ino != want.Ino || fi.Size != want.Size || fi.Mode != want.Mode || !fi.ModTime.Equal(want.ModTime) {
				t.Errorf("ReadFile's FileInfo %+v does not match Lstat's %+v", fi, want)
			}
		}},
		{"missing", func(t *testing.T, e *env) {
			p := e.path("f")
			_, _, err := e.fs.ReadFile(p, 100)
			wantPathError(t, err, p, fs.ErrNotExist)
		}},
		{"symlink", func(t *testing.T, e *env) {
			l := e.symlink(e.write(e.path("t"), "secret"), e.path("l"))
			e.wantNoFollow(l)
		}},
		{"dangling symlink", func(t *testing.T, e *env) {
			l := e.symlink(e.path("t"), e.path("l"))
			e.wantNoFollow(l)
			e.wantMissing(e.path("t"))
		}},
		{"directory", func(t *testing.T, e *env) {
			e.wantNotRegular(e.mkdir(e.path("d")), fs.ModeDir)
		}},
		{"fifo", func(t *testing.T, e *env) {
			// Must not block waiting for a writer.
			e.wantNotRegular(e.fifo(e.path("p")), fs.ModeNamedPipe)
		}},
	}
	for _, tc := range []struct {
		content  string
		limit    int
		tooLarge bool
	}{
		{"", 0, false},
		{"abc", 3, false},
		{"abc", 1 << 20, false},
		{"abcd", 3, true},
		{"abc", 0, true},
		{"abc", -1, true}, // treated as 0
	} {
		name := fmt.Sprintf("%d bytes limit %d", len(tc.content), tc.limit)
		tests = append(tests, fsTest{name, func(t *testing.T, e *env) {
			p := e.write(e.path("f"), tc.content)
			data, fi, err := e.fs.ReadFile(p, tc.limit)
			want := tc.content[:min(len(tc.content), max(tc.limit, 0))]
			if string(data) != want {
				t.Errorf("data = %q, want %q", data, want)
			}
			if fi.Size != int64(len(tc.content)) {
				t.Errorf("Size = %d, want %d", fi.Size, len(tc.content))
			}
			if !tc.tooLarge {
				if err != nil {
					t.Errorf("error = %v, want nil", err)
				}
				return
			}
			wantPathError(t, err, p, fsops.ErrTooLarge)
		}})
	}
	return tests
}

func chtimesTests() []fsTest {
	// Times with nanoseconds, before and after any plausible "now", within
	// the range of a 32-bit time_t.
	times := []time.Time{
		time.Date(2001, 2, 3, 4, 5, 6, 789_123_456, time.UTC),
		time.Date(2037, 6, 5, 4, 3, 2, 100_000_001, time.UTC),
	}
	return []fsTest{
		{"sets mtime", func(t *testing.T, e *env) {
			p := e.write(e.path("f"), "x")
			for _, mt := range times {
				if err := e.fs.Chtimes(p, mt.Add(-time.Hour), mt); err != nil {
					t.Fatal(err)
				}
				if got := e.lstat(p).ModTime; !sameTime(got, mt) {
					t.Errorf("Lstat: mtime = %v, want %v", got, mt)
				}
				if _, fi, err := e.fs.ReadFile(p, 10); err != nil || !sameTime(fi.ModTime, mt) {
					t.Errorf("ReadFile: mtime = %v (error %v), want %v", fi.ModTime, err, mt)
				}
			}
		}},
		{"symlink", func(t *testing.T, e *env) {
			target := e.write(e.path("t"), "x")
			if err := e.fs.Chtimes(target, times[0], times[0]); err != nil {
				t.Fatal(err)
			}
			l := e.symlink(target, e.path("l"))
			// Setting a symlink's own times is not supported everywhere;
			// following it to the target is wrong everywhere.
			err := e.fs.Chtimes(l, times[1], times[1])
			if got := e.lstat(target).ModTime; !sameTime(got, times[0]) {
				t.Errorf("Chtimes of a symlink changed its target's mtime to %v", got)
			}
			if err == nil {
				if got := e.lstat(l).ModTime; !sameTime(got, times[1]) {
					t.Errorf("symlink's mtime = %v, want %v", got, times[1])
				}
			} else {
				wantPathError(t, err, l, nil)
			}
		}},
		{"missing", func(t *testing.T, e *env) {
			p := e.path("f")
			wantPathError(t, e.fs.Chtimes(p, times[0], times[0]), p, fs.ErrNotExist)
		}},
	}
}

func readDirTests() []fsTest {
	return []fsTest{
		{"names sorted", func(t *testing.T, e *env) {
			e.write(e.path("b"), "x")
			e.write(e.path("a|h|1|2"), "x")
			e.mkdir(e.path("c"))
			e.write(e.path("c/inner"), "x")
			names, err := e.fs.ReadDir(e.dir)
			if err != nil || fmt.Sprint(names) != "[a|h|1|2 b c]" {
				t.Errorf("ReadDir = %q, %v; want [a|h|1|2 b c]", names, err)
			}
		}},
		{"empty", func(t *testing.T, e *env) {
			names, err := e.fs.ReadDir(e.dir)
			if err != nil || len(names) != 0 {
				t.Errorf("ReadDir = %q, %v; want no names", names, err)
			}
		}},
		{"symlinks listed, not followed", func(t *testing.T, e *env) {
			e.mkdir(e.path("d"))
			e.symlink(e.path("d"), e.path("l"))
			names, err := e.fs.ReadDir(e.dir)
			if err != nil || fmt.Sprint(names) != "[d l]" {
				t.Errorf("ReadDir = %q, %v; want [d l]", names, err)
			}
		}},
		{"through a symlinked directory", func(t *testing.T, e *env) {
			e.mkdir(e.path("d"))
			e.write(e.path("d/f"), "x")
			l := e.symlink(e.path("d"), e.path("l"))
			names, err := e.fs.ReadDir(l)
			if err != nil || fmt.Sprint(names) != "[f]" {
				t.Errorf("ReadDir = %q, %v; want [f]", names, err)
			}
		}},
		{"missing", func(t *testing.T, e *env) {
			p := e.path("d")
			_, err := e.fs.ReadDir(p)
			wantPathError(t, err, p, fs.ErrNotExist)
		}},
		{"a file", func(t *testing.T, e *env) {
			p := e.write(e.path("f"), "x")
			names, err := e.fs.ReadDir(p)
			if err == nil {
				t.Fatalf("ReadDir of a file = %q, want an error", names)
			}
			wantPathError(t, err, p, nil)
		}},
	}
}

func removeTests() []fsTest {
	return []fsTest{
		{"file", func(t *testing.T, e *env) {
			p := e.write(e.path("f"), "x")
			if err := e.fs.Remove(p); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(p)
		}},
		{"one of two names", func(t *testing.T, e *env) {
			a, b := e.write(e.path("a"), "x"), e.path("b")
			if err := e.fs.Link(a, b); err != nil {
				t.Fatal(err)
			}
			if err := e.fs.Remove(a); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(a)
			if got := e.content(b); got != "x" {
				t.Errorf("other name holds %q, want %q", got, "x")
			}
			if fb := e.lstat(b); fb.Ino != 0 && fb.Nlink != 1 {
				t.Errorf("Nlink = %d, want 1", fb.Nlink)
			}
		}},
		{"directory", func(t *testing.T, e *env) {
			d := e.mkdir(e.path("d"))
			wantPathError(t, e.fs.Remove(d), d, nil)
			e.wantMode(d, fs.ModeDir)
		}},
		{"symlink", func(t *testing.T, e *env) {
			target := e.write(e.path("t"), "T")
			l := e.symlink(target, e.path("l"))
			if err := e.fs.Remove(l); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(l)
			if got := e.content(target); got != "T" {
				t.Errorf("target now holds %q, want %q", got, "T")
			}
		}},
		{"missing", func(t *testing.T, e *env) {
			p := e.path("f")
			wantPathError(t, e.fs.Remove(p), p, fs.ErrNotExist)
		}},
	}
}

// env is one subtest's FS, Setup and directory. Its methods take full
// paths, return the path they were given, and fail the test on an
// unexpected error.
type env struct {
	t     *testing.T
	fs    fsops.FS
	setup Setup
	dir   string
}

func (e *env) path(name string) string { return filepath.Join(e.dir, filepath.FromSlash(name)) }

func (e *env) write(p, content string) string {
	e.t.Helper()
	if err := e.setup.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) mkdir(p string) string {
	e.t.Helper()
	if err := e.setup.MkdirAll(p, 0o755); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) symlink(target, p string) string {
	e.t.Helper()
	if err := e.setup.Symlink(target, p); err != nil {
		// Windows allows symlinks only to administrators or in developer
		// mode.
		if errors.Is(err, errors.ErrUnsupported) || runtime.GOOS == "windows" {
			e.t.Skipf("cannot make symbolic links: %v", err)
		}
		e.t.Fatal(err)
	}
	return p
}

func (e *env) fifo(p string) string {
	e.t.Helper()
	if err := e.setup.Mkfifo(p); err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			e.t.Skipf("cannot make FIFOs: %v", err)
		}
		e.t.Fatal(err)
	}
	return p
}

func (e *env) lstat(p string) fsops.FileInfo {
	e.t.Helper()
	fi, err := e.fs.Lstat(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return fi
}

// content reads p with the FS under test.
func (e *env) content(p string) string {
	e.t.Helper()
	data, _, err := e.fs.ReadFile(p, 1<<16)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

// wantMode checks that p exists and is of the type typ (0 for a regular
// file).
func (e *env) wantMode(p string, typ fs.FileMode) {
	e.t.Helper()
	if got := e.lstat(p).Mode; got.Type() != typ {
		e.t.Errorf("%s has mode %v, want type %v", p, got, typ)
	}
}

func (e *env) wantMissing(p string) {
	e.t.Helper()
	if fi, err := e.fs.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		e.t.Errorf("Lstat(%s) = %+v, %v; want an error wrapping fs.ErrNotExist", p, fi, err)
	}
}

// wantSame checks that p is the file described by before (if the FS has
// inode numbers) and holds content.
func (e *env) wantSame(before fsops.FileInfo, p, content string) {
	e.t.Helper()
	if got := e.content(p); got != content {
		e.t.Errorf("%s holds %q, want %q", p, got, content)
	}
	if after := e.lstat(p); before.Ino != 0 && !fsops.SameFile(before, after) {
		e.t.Errorf("%s is another file: %+v, want %+v", p, after, before)
	}
}

// wantNoFollow checks that ReadFile refuses the symlink l, as open(2)
// with O_NOFOLLOW does: ELOOP, or EMLINK on FreeBSD.
func (e *env) wantNoFollow(l string) {
	e.t.Helper()
	data, _, err := e.fs.ReadFile(l, 100)
	wantPathError(e.t, err, l, nil)
	if err != nil && !errors.Is(err, syscall.ELOOP) && !errors.Is(err, syscall.EMLINK) {
		e.t.Errorf("error = %v, want ELOOP or EMLINK", err)
	}
	if len(data) != 0 {
		e.t.Errorf("ReadFile of a symlink returned %q", data)
	}
}

// wantNotRegular checks that ReadFile refuses p, of type typ, with
// ErrNotRegular and its attributes.
func (e *env) wantNotRegular(p string, typ fs.FileMode) {
	e.t.Helper()
	data, fi, err := e.fs.ReadFile(p, 100)
	wantPathError(e.t, err, p, fsops.ErrNotRegular)
	if fi.Mode.Type() != typ {
		e.t.Errorf("FileInfo mode = %v, want type %v", fi.Mode, typ)
	}
	if len(data) != 0 {
		e.t.Errorf("data = %q, want none", data)
	}
}

// wantPathError checks that err is an *fs.PathError for name, wrapping
// target unless target is nil.
func wantPathError(t *testing.T, err error, name string, target error) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Errorf("error = %v (%T), want an *fs.PathError", err, err)
		return
	}
	if pe.Path != name {
		t.Errorf("error %v: Path = %q, want %q", err, pe.Path, name)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error = %v, want one wrapping %v", err, target)
	}
}

// wantLinkError checks that err is an *os.LinkError for oldname and
// newname, wrapping target unless target is nil.
func wantLinkError(t *testing.T, err error, oldname, newname string, target error) {
	t.Helper()
	var le *os.LinkError
	if !errors.As(err, &le) {
		t.Errorf("error = %v (%T), want an *os.LinkError", err, err)
		return
	}
	if le.Old != oldname || le.New != newname {
		t.Errorf("error %v: Old, New = %q, %q; want %q, %q", err, le.Old, le.New, oldname, newname)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("error = %v, want one wrapping %v", err, target)
	}
}

// sameTime compares times to the microsecond, the finest precision the
// suite requires.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
}
