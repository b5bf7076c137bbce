//go:build !unix

package fsops

import (
	"errors"
	"io"
	"io/fs"
	"math"
	"os"
	"syscall"
	"time"
)

// Without O_NOFOLLOW and the *at calls, this implementation checks names
// with os.Lstat before acting on them. A name replaced between the check
// and the call can therefore still be followed or, for Remove, be a
// directory; the package documentation lists this as a non-guarantee.

func (osFS) CreateExcl(name string, data []byte, perm fs.FileMode) (FileInfo, error) {
	// O_EXCL fails on any existing name, a symlink included, without
	// following it.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return FileInfo{}, err
	}
	var st fs.FileInfo
	_, err = f.Write(data) // loops over short writes itself
	if err == nil {
		st, err = f.Stat()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Leave no half-written file behind; the cause matters more than
		// an error removing it.
		_ = os.Remove(name)
		return FileInfo{}, err
	}
	return fileInfo(st), nil
}

func (osFS) Link(oldname, newname string) error { return os.Link(oldname, newname) }

func (osFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

func (osFS) Lstat(name string) (FileInfo, error) {
	fi, err := os.Lstat(name)
	if err != nil {
		return FileInfo{}, err
	}
	return fileInfo(fi), nil
}

func (osFS) ReadFile(name string, limit int) ([]byte, FileInfo, error) {
	limit = max(limit, 0)
	lfi, err := os.Lstat(name)
	if err != nil {
		return nil, FileInfo{}, &fs.PathError{Op: "open", Path: name, Err: underlying(err)}
	}
	if lfi.Mode()&fs.ModeSymlink != 0 {
		// What open(2) with O_NOFOLLOW answers on Linux.
		return nil, FileInfo{}, &fs.PathError{Op: "open", Path: name, Err: syscall.ELOOP}
	}
	if !lfi.Mode().IsRegular() {
		// Checked before opening so that nothing else is ever opened.
		return nil, fileInfo(lfi), &fs.PathError{Op: "read", Path: name, Err: ErrNotRegular}
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, FileInfo{}, err
	}
	defer f.Close() // read-only: a close error cannot lose data
	sfi, err := f.Stat()
	if err != nil {
		return nil, FileInfo{}, err
	}
	fi := fileInfo(sfi)
	if !fi.IsRegular() {
		return nil, fi, &fs.PathError{Op: "read", Path: name, Err: ErrNotRegular}
	}
	// One byte more than limit tells "exactly limit" from "more".
	n := int64(limit)
	if n < math.MaxInt64 {
		n++
	}
	data, err := io.ReadAll(io.LimitReader(f, n))
	if err != nil {
		return nil, fi, err
	}
	if len(data) > limit {
		return data[:limit], fi, &fs.PathError{Op: "read", Path: name, Err: ErrTooLarge}
	}
	return data, fi, nil
}

func (osFS) Chtimes(name string, atime, mtime time.Time) error {
	// os.Chtimes follows symlinks and has no variant that does not, so a
	// symlink is refused rather than its target changed. It also leaves a
	// zero time unchanged, which FS.Chtimes does not promise; no platform
	// here can store year 1 anyway.
	fi, err := os.Lstat(name)
	if err != nil {
		return &fs.PathError{Op: "chtimes", Path: name, Err: underlying(err)}
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &fs.PathError{Op: "chtimes", Path: name, Err: syscall.ELOOP}
	}
	return os.Chtimes(name, atime, mtime)
}

func (osFS) Remove(name string) error {
	// os.Remove removes an empty directory too; FS.Remove must not.
	fi, err := os.Lstat(name)
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: underlying(err)}
	}
	if fi.IsDir() {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EISDIR}
	}
	return os.Remove(name)
}

func (osFS) Mkdir(name string, perm fs.FileMode) error { return os.Mkdir(name, perm) }

func (osFS) Rmdir(name string) error {
	// os.Remove removes a file too; Rmdir must not.
	fi, err := os.Lstat(name)
	if err != nil {
		return &fs.PathError{Op: "rmdir", Path: name, Err: underlying(err)}
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "rmdir", Path: name, Err: syscall.ENOTDIR}
	}
	return os.Remove(name)
}

// OpenDir is not supported: without openat(2) and unlinkat(2) a handle
// cannot be bound to one directory, and the protocols that need one refuse
// to run rather than act by path.
func (osFS) OpenDir(name string) (Dir, error) {
	return nil, &fs.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported}
}

// fileInfo converts what package os reports. Nothing here has portable
// inode numbers, change times or owners; a name that exists has at least
// one link.
func fileInfo(fi fs.FileInfo) FileInfo {
	return FileInfo{Nlink: 1, Size: fi.Size(), Mode: fi.Mode(), ModTime: fi.ModTime()}
}

// underlying unwraps the *fs.PathError of package os, so that an error can
// be reported under the operation the caller asked for.
func underlying(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
