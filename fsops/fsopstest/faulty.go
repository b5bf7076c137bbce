package fsopstest

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// Op describes one call made through a Faulty.
type Op struct {
	// Name is the fsops.FS method: "CreateExcl", "Link", "Rename",
	// "Lstat", "ReadFile", "Chtimes", "Remove", "ReadDir", "Mkdir",
	// "Rmdir" or "OpenDir"; or the fsops.Dir method prefixed with "Dir.":
	// "Dir.Stat", "Dir.CreateExcl", "Dir.ReadFile", "Dir.Chtimes",
	// "Dir.Remove" or "Dir.ReadDir" (Dir.Close is never faulted).
	Name string
	// Path is the name the call acts on; for Link and Rename, oldname;
	// for a Dir method, the directory's path joined with the entry name.
	Path string
	// Path2 is newname for Link and Rename, and empty otherwise.
	Path2 string
}

// Fault is what a Faulty does to one call instead of passing it through.
type Fault struct {
	// Err is the error the call returns; nil means syscall.EIO. Unless it
	// is an *fs.PathError or *os.LinkError already, it is wrapped in one
	// naming the call's lowercased method name and paths, as FS methods
	// return errors.
	Err error

	// After selects when the call fails. False: before it reaches the
	// underlying FS, so it has no effect, as when a request is lost. True:
	// after the underlying FS has applied it, whose result is discarded,
	// as when the reply of an NFS server is lost.
	After bool
}

// Faulty is an fsops.FS that passes each call to FS unless Inject, given
// the call, returns a Fault. Inject is called once per call, outside any
// lock, so it may block, keep state, or advance a fake clock; if calls
// are concurrent, Inject must be safe for concurrent use. A nil Inject
// injects nothing.
type Faulty struct {
	FS     fsops.FS
	Inject func(Op) *Fault
}

var (
	_ fsops.FS    = (*Faulty)(nil)
	_ fsops.Typer = (*Faulty)(nil)

	_ fsops.NoReplaceRenamer = (*Faulty)(nil)
)

// CreateExcl implements fsops.FS.
func (f *Faulty) CreateExcl(name string, data []byte, perm fs.FileMode) (fsops.FileInfo, error) {
	return do1(f, Op{Name: "CreateExcl", Path: name}, func() (fsops.FileInfo, error) {
		return f.FS.CreateExcl(name, data, perm)
	})
}

// Link implements fsops.FS.
func (f *Faulty) Link(oldname, newname string) error {
	return f.do(Op{Name: "Link", Path: oldname, Path2: newname}, func() error {
		return f.FS.Link(oldname, newname)
	})
}

// Rename implements fsops.FS.
func (f *Faulty) Rename(oldname, newname string) error {
	return f.do(Op{Name: "Rename", Path: oldname, Path2: newname}, func() error {
		return f.FS.Rename(oldname, newname)
	})
}

// RenameNoReplace implements fsops.NoReplaceRenamer by asking FS. Its
// faults are Rename's (an Op named "Rename"), so that a test's faults on a
// rename reach either kind. If FS is not an fsops.NoReplaceRenamer, it
// changes nothing and fails with an error wrapping errors.ErrUnsupported,
// as a filesystem without the flag does.
func (f *Faulty) RenameNoReplace(oldname, newname string) error {
	r, ok := f.FS.(fsops.NoReplaceRenamer)
	if !ok {
		return &os.LinkError{Op: "renameat2", Old: oldname, New: newname, Err: fmt.Errorf("fsopstest: %T cannot rename without replacing: %w", f.FS, errors.ErrUnsupported)}
	}
	return f.do(Op{Name: "Rename", Path: oldname, Path2: newname}, func() error {
		return r.RenameNoReplace(oldname, newname)
	})
}

// Lstat implements fsops.FS. A fault makes it return a zero FileInfo.
func (f *Faulty) Lstat(name string) (fsops.FileInfo, error) {
	return do1(f, Op{Name: "Lstat", Path: name}, func() (fsops.FileInfo, error) { return f.FS.Lstat(name) })
}

// ReadFile implements fsops.FS. A fault makes it return no data and a zero
// FileInfo.
func (f *Faulty) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	op := Op{Name: "ReadFile", Path: name}
	flt := f.inject(op)
	if flt == nil {
		return f.FS.ReadFile(name, limit)
	}
	if flt.After {
		_, _, _ = f.FS.ReadFile(name, limit)
	}
	return nil, fsops.FileInfo{}, flt.error(op)
}

// Chtimes implements fsops.FS.
func (f *Faulty) Chtimes(name string, atime, mtime time.Time) error {
	return f.do(Op{Name: "Chtimes", Path: name}, func() error {
		return f.FS.Chtimes(name, atime, mtime)
	})
}

// Remove implements fsops.FS.
func (f *Faulty) Remove(name string) error {
	return f.do(Op{Name: "Remove", Path: name}, func() error {
		return f.FS.Remove(name)
	})
}

// Mkdir implements fsops.FS.
func (f *Faulty) Mkdir(name string, perm fs.FileMode) error {
	return f.do(Op{Name: "Mkdir", Path: name}, func() error { return f.FS.Mkdir(name, perm) })
}

// Rmdir implements fsops.FS.
func (f *Faulty) Rmdir(name string) error {
	return f.do(Op{Name: "Rmdir", Path: name}, func() error { return f.FS.Rmdir(name) })
}

// FSType implements fsops.Typer by asking FS, so that a wrapped filesystem
// is still recognised for what it is (Strict refuses FUSE filesystems by
// their type). It is never faulted. If FS is not an fsops.Typer, it
// returns an error wrapping errors.ErrUnsupported.
func (f *Faulty) FSType(dir string) (string, error) {
	t, ok := f.FS.(fsops.Typer)
	if !ok {
		return "", fmt.Errorf("fsopstest: %T cannot tell the filesystem type of %s: %w", f.FS, dir, errors.ErrUnsupported)
	}
	return t.FSType(dir)
}

// OpenDir implements fsops.FS. The Dir it returns injects faults into its
// calls too. A fault "after" opens and closes the directory.
func (f *Faulty) OpenDir(name string) (fsops.Dir, error) {
	op := Op{Name: "OpenDir", Path: name}
	if flt := f.inject(op); flt != nil {
		if flt.After {
			if d, err := f.FS.OpenDir(name); err == nil {
				d.Close()
			}
		}
		return nil, flt.error(op)
	}
	d, err := f.FS.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &faultyDir{f: f, d: d}, nil
}

type faultyDir struct {
	f *Faulty
	d fsops.Dir
}

func (d *faultyDir) op(name, entry string) Op {
	p := d.d.Path()
	if entry != "" {
		p += "/" + entry
	}
	return Op{Name: "Dir." + name, Path: p}
}

func (d *faultyDir) Path() string { return d.d.Path() }

func (d *faultyDir) Stat() (fsops.FileInfo, error) {
	return do1(d.f, d.op("Stat", ""), d.d.Stat)
}

func (d *faultyDir) CreateExcl(name string, data []byte, perm fs.FileMode) error {
	return d.f.do(d.op("CreateExcl", name), func() error { return d.d.CreateExcl(name, data, perm) })
}

func (d *faultyDir) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	op := d.op("ReadFile", name)
	if flt := d.f.inject(op); flt != nil {
		if flt.After {
			_, _, _ = d.d.ReadFile(name, limit)
		}
		return nil, fsops.FileInfo{}, flt.error(op)
	}
	return d.d.ReadFile(name, limit)
}

func (d *faultyDir) Chtimes(name string, atime, mtime time.Time) error {
	return d.f.do(d.op("Chtimes", name), func() error { return d.d.Chtimes(name, atime, mtime) })
}

func (d *faultyDir) Remove(name string) error {
	return d.f.do(d.op("Remove", name), func() error { return d.d.Remove(name) })
}

func (d *faultyDir) ReadDir() ([]string, error) {
	return do1(d.f, d.op("ReadDir", ""), d.d.ReadDir)
}

func (d *faultyDir) Close() error { return d.d.Close() }

// ReadDir implements fsops.FS. A fault makes it return no names.
func (f *Faulty) ReadDir(dir string) ([]string, error) {
	return do1(f, Op{Name: "ReadDir", Path: dir}, func() ([]string, error) { return f.FS.ReadDir(dir) })
}

// do1 makes the call op, which has one result besides its error, as the
// fault injected for it says; a faulted call returns the zero result.
func do1[T any](f *Faulty, op Op, call func() (T, error)) (T, error) {
	flt := f.inject(op)
	if flt == nil {
		return call()
	}
	if flt.After {
		_, _ = call()
	}
	var zero T
	return zero, flt.error(op)
}

// inject asks Inject about op.
func (f *Faulty) inject(op Op) *Fault {
	if f.Inject == nil {
		return nil
	}
	return f.Inject(op)
}

// do makes the call op, which has no results but an error, as the fault
// injected for it says.
func (f *Faulty) do(op Op, call func() error) error {
	flt := f.inject(op)
	if flt == nil {
		return call()
	}
	if flt.After {
		_ = call()
	}
	return flt.error(op)
}

// error is the error the faulted call op returns.
func (flt *Fault) error(op Op) error {
	err := flt.Err
	if err == nil {
		err = syscall.EIO
	}
	switch err.(type) {
	case *fs.PathError, *os.LinkError:
		return err
	}
	name := strings.ToLower(strings.TrimPrefix(op.Name, "Dir."))
	if op.Name == "Link" || op.Name == "Rename" {
		return &os.LinkError{Op: name, Old: op.Path, New: op.Path2, Err: err}
	}
	return &fs.PathError{Op: name, Path: op.Path, Err: err}
}
