package fsopstest

import (
	"errors"
	"io/fs"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// notEmpty reports whether err is what rmdir(2) or rename(2) give for a
// directory that must be empty and is not: ENOTEMPTY or EEXIST.
func notEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

func mkdirTests() []fsTest {
	tests := []fsTest{
		{"creates", func(t *testing.T, e *env) {
			p := e.path("d")
			if err := e.fs.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			e.wantMode(p, fs.ModeDir)
		}},
		{"missing parent", func(t *testing.T, e *env) {
			p := e.path("no/d")
			wantPathError(t, e.fs.Mkdir(p, 0o755), p, fs.ErrNotExist)
		}},
		// Strict marks its generation directories with the sticky bit.
		{"keeps the sticky bit", func(t *testing.T, e *env) {
			if runtime.GOOS == "windows" {
				t.Skip("Windows has no sticky bit (and no Strict)")
			}
			p := e.path("d")
			if err := e.fs.Mkdir(p, 0o755|fs.ModeSticky); err != nil {
				t.Fatal(err)
			}
			if fi := e.lstat(p); fi.Mode&fs.ModeSticky == 0 || !fi.Mode.IsDir() {
				t.Errorf("mode = %v, want a directory with the sticky bit", fi.Mode)
			}
			q := e.path("e")
			if err := e.fs.Mkdir(q, 0o755); err != nil {
				t.Fatal(err)
			}
			if fi := e.lstat(q); fi.Mode&fs.ModeSticky != 0 {
				t.Errorf("mode = %v, want no sticky bit", fi.Mode)
			}
		}},
	}
	for _, f := range fixtures {
		tests = append(tests, fsTest{"over " + f.kind, func(t *testing.T, e *env) {
			p := e.path("d")
			unchanged := f.make(e, p)
			wantPathError(t, e.fs.Mkdir(p, 0o755), p, fs.ErrExist)
			unchanged()
		}})
	}
	return tests
}

func rmdirTests() []fsTest {
	return []fsTest{
		{"empty", func(t *testing.T, e *env) {
			p := e.mkdir(e.path("d"))
			if err := e.fs.Rmdir(p); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(p)
		}},
		{"not empty", func(t *testing.T, e *env) {
			p := e.mkdir(e.path("d"))
			f := e.write(e.path("d/f"), "x")
			err := e.fs.Rmdir(p)
			wantPathError(t, err, p, nil)
			if !notEmpty(err) {
				t.Errorf("error = %v, want ENOTEMPTY or EEXIST", err)
			}
			if got := e.content(f); got != "x" {
				t.Errorf("%s holds %q, want %q", f, got, "x")
			}
		}},
		{"file", func(t *testing.T, e *env) {
			p := e.write(e.path("f"), "x")
			wantPathError(t, e.fs.Rmdir(p), p, syscall.ENOTDIR)
			if got := e.content(p); got != "x" {
				t.Errorf("%s holds %q, want %q", p, got, "x")
			}
		}},
		{"symlink to directory", func(t *testing.T, e *env) {
			d := e.mkdir(e.path("d"))
			l := e.symlink(d, e.path("l"))
			wantPathError(t, e.fs.Rmdir(l), l, nil)
			e.wantMode(l, fs.ModeSymlink)
			e.wantMode(d, fs.ModeDir)
		}},
		{"missing", func(t *testing.T, e *env) {
			p := e.path("d")
			wantPathError(t, e.fs.Rmdir(p), p, fs.ErrNotExist)
		}},
	}
}

// renameDirTests are the rename(2) rules the Strict protocol is built on.
func renameDirTests() []fsTest {
	return []fsTest{
		{"new name", func(t *testing.T, e *env) {
			a, b := e.mkdir(e.path("a")), e.path("b")
			e.write(e.path("a/f"), "x")
			if err := e.fs.Rename(a, b); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(a)
			if got := e.content(e.path("b/f")); got != "x" {
				t.Errorf("b/f holds %q, want %q", got, "x")
			}
		}},
		{"replaces empty directory", func(t *testing.T, e *env) {
			a, b := e.mkdir(e.path("a")), e.mkdir(e.path("b"))
			e.write(e.path("a/f"), "x")
			if err := e.fs.Rename(a, b); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(a)
			if got := e.content(e.path("b/f")); got != "x" {
				t.Errorf("b/f holds %q, want %q", got, "x")
			}
		}},
		{"onto non-empty directory", func(t *testing.T, e *env) {
			a, b := e.mkdir(e.path("a")), e.mkdir(e.path("b"))
			e.write(e.path("a/f"), "A")
			e.write(e.path("b/f"), "B")
			err := e.fs.Rename(a, b)
			wantLinkError(t, err, a, b, nil)
			if !notEmpty(err) {
				t.Errorf("error = %v, want ENOTEMPTY or EEXIST", err)
			}
			if got := e.content(e.path("b/f")); got != "B" {
				t.Errorf("b/f holds %q, want %q", got, "B")
			}
			if got := e.content(e.path("a/f")); got != "A" {
				t.Errorf("a/f holds %q, want %q", got, "A")
			}
		}},
		{"onto file", func(t *testing.T, e *env) {
			a, f := e.mkdir(e.path("a")), e.write(e.path("f"), "F")
			wantLinkError(t, e.fs.Rename(a, f), a, f, syscall.ENOTDIR)
			if got := e.content(f); got != "F" {
				t.Errorf("%s holds %q, want %q", f, got, "F")
			}
			e.wantMode(a, fs.ModeDir)
		}},
	}
}

// openDir opens p, skipping the test where the FS cannot bind handles.
func (e *env) openDir(p string) fsops.Dir {
	e.t.Helper()
	d, err := e.fs.OpenDir(p)
	if errors.Is(err, errors.ErrUnsupported) {
		e.t.Skipf("OpenDir unsupported: %v", err)
	}
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { d.Close() })
	return d
}

func openDirTests() []fsTest {
	tests := []fsTest{
		{"directory", func(t *testing.T, e *env) {
			p := e.mkdir(e.path("d"))
			d := e.openDir(p)
			if d.Path() != p {
				t.Errorf("Path() = %q, want %q", d.Path(), p)
			}
			fi, err := d.Stat()
			if err != nil {
				t.Fatal(err)
			}
			if !fi.Mode.IsDir() {
				t.Errorf("Stat().Mode = %v, want a directory", fi.Mode)
			}
			if want := e.lstat(p); want.Ino != 0 && !fsops.SameFile(fi, want) {
				t.Errorf("Stat() = %+v, want the directory %+v", fi, want)
			}
		}},
		{"missing", func(t *testing.T, e *env) {
			p := e.path("d")
			d, err := e.fs.OpenDir(p)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skip(err)
			}
			wantPathError(t, err, p, fs.ErrNotExist)
			if d != nil {
				t.Errorf("OpenDir returned a Dir with error %v", err)
			}
		}},
	}
	for _, f := range fixtures {
		if f.kind == "directory" {
			continue
		}
		tests = append(tests, fsTest{"on " + f.kind, func(t *testing.T, e *env) {
			p := e.path("d")
			unchanged := f.make(e, p)
			d, err := e.fs.OpenDir(p)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skip(err)
			}
			wantPathError(t, err, p, nil)
			if d != nil {
				d.Close()
				t.Errorf("OpenDir of a %s succeeded", f.kind)
			}
			unchanged()
		}})
	}
	return tests
}

func dirTests() []fsTest {
	return []fsTest{
		{"entries", func(t *testing.T, e *env) {
			p := e.mkdir(e.path("d"))
			d := e.openDir(p)
			if err := d.CreateExcl("f", []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			wantPathError(t, d.CreateExcl("f", []byte("y"), 0o644), p+"/f", fs.ErrExist)
			data, fi, err := d.ReadFile("f", 100)
			if err != nil || string(data) != "x" || !fi.IsRegular() {
				t.Fatalf("ReadFile = %q, %+v, %v; want %q", data, fi, err, "x")
			}
			mt := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
			if err := d.Chtimes("f", mt, mt); err != nil {
				t.Fatal(err)
			}
			if got := e.lstat(e.path("d/f")).ModTime; !sameTime(got, mt) {
				t.Errorf("mtime = %v, want %v", got, mt)
			}
			e.write(e.path("d/g"), "g")
			names, err := d.ReadDir()
			if err != nil || !slices.Equal(names, []string{"f", "g"}) {
				t.Errorf("ReadDir = %q, %v; want [f g]", names, err)
			}
			if err := d.Remove("f"); err != nil {
				t.Fatal(err)
			}
			e.wantMissing(e.path("d/f"))
			wantPathError(t, d.Remove("f"), p+"/f", fs.ErrNotExist)
		}},
		{"bound to the directory, not the name", func(t *testing.T, e *env) {
			// The property the Strict protocol rests on: once the
			// directory is gone and another has its name, calls
			// through the old handle fail and touch nothing.
			p := e.mkdir(e.path("d"))
			e.write(e.path("d/owner"), "old")
			d := e.openDir(p)
			if err := d.Remove("owner"); err != nil {
				t.Fatal(err)
			}
			if err := e.fs.Rmdir(p); err != nil {
				t.Fatal(err)
			}
			e.mkdir(p)
			e.write(e.path("d/owner"), "new")
			if err := d.Remove("owner"); err == nil {
				t.Error("Remove through the old handle succeeded")
			}
			if err := d.Chtimes("owner", time.Now(), time.Now()); err == nil {
				t.Error("Chtimes through the old handle succeeded")
			}
			if _, _, err := d.ReadFile("owner", 100); err == nil {
				t.Error("ReadFile through the old handle succeeded")
			}
			if err := d.CreateExcl("other", nil, 0o644); err == nil {
				t.Error("CreateExcl through the old handle succeeded")
			}
			if got := e.content(e.path("d/owner")); got != "new" {
				t.Errorf("the new directory's owner holds %q, want %q", got, "new")
			}
			e.wantMissing(e.path("d/other"))
		}},
		{"follows the directory when renamed", func(t *testing.T, e *env) {
			a, b := e.mkdir(e.path("a")), e.path("b")
			d := e.openDir(a)
			if err := e.fs.Rename(a, b); err != nil {
				t.Fatal(err)
			}
			if err := d.CreateExcl("f", []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := e.content(e.path("b/f")); got != "x" {
				t.Errorf("b/f holds %q, want %q", got, "x")
			}
		}},
		{"no symlink followed", func(t *testing.T, e *env) {
			p := e.mkdir(e.path("d"))
			target := e.write(e.path("t"), "T")
			e.symlink(target, e.path("d/l"))
			d := e.openDir(p)
			if _, _, err := d.ReadFile("l", 100); err == nil {
				t.Error("ReadFile followed a symlink")
			}
			if err := d.Remove("l"); err != nil {
				t.Fatal(err)
			}
			if got := e.content(target); got != "T" {
				t.Errorf("target holds %q, want %q", got, "T")
			}
		}},
		{"bad names", func(t *testing.T, e *env) {
			p := e.mkdir(e.path("d"))
			e.write(e.path("f"), "outside")
			d := e.openDir(p)
			for _, name := range []string{"", ".", "..", "../f", "a/b", "x\x00"} {
				if err := d.Remove(name); !errors.Is(err, syscall.EINVAL) {
					t.Errorf("Remove(%q) = %v, want EINVAL", name, err)
				}
				if err := d.CreateExcl(name, nil, 0o644); !errors.Is(err, syscall.EINVAL) {
					t.Errorf("CreateExcl(%q) = %v, want EINVAL", name, err)
				}
			}
			if got := e.content(e.path("f")); got != "outside" {
				t.Errorf("f holds %q", got)
			}
		}},
		{"closed", func(t *testing.T, e *env) {
			p := e.mkdir(e.path("d"))
			d, err := e.fs.OpenDir(p)
			if errors.Is(err, errors.ErrUnsupported) {
				t.Skip(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if err := d.CreateExcl("f", nil, 0o644); err == nil {
				t.Error("CreateExcl after Close succeeded")
			}
			if err := d.Close(); err == nil {
				t.Error("second Close succeeded")
			}
		}},
	}
}
