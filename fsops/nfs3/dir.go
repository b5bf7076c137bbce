package nfs3

import (
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// dirHandle is an fsops.Dir: a directory's NFS file handle.
type dirHandle struct {
	f    *FS
	fh   []byte
	path string
	mu   sync.RWMutex
	done bool
}

var _ fsops.Dir = (*dirHandle)(nil)

func validEntry(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

func (d *dirHandle) join(name string) string { return d.path + "/" + name }

// with runs fn unless the handle is closed (EBADF) or name is not a
// single path element (EINVAL).
func (d *dirHandle) with(op, name string, fn func() error) error {
	if !validEntry(name) {
		return pathErr(op, d.join(name), syscall.EINVAL)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.done {
		return pathErr(op, d.path, syscall.EBADF)
	}
	return fn()
}

func (d *dirHandle) Path() string { return d.path }

func (d *dirHandle) Stat() (fsops.FileInfo, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.done {
		return fsops.FileInfo{}, pathErr("stat", d.path, syscall.EBADF)
	}
	a, err := d.f.getattr(d.fh, true)
	if err != nil {
		return fsops.FileInfo{}, pathErr("stat", d.path, err)
	}
	return a.info(), nil
}

func (d *dirHandle) CreateExcl(name string, data []byte, perm fs.FileMode) error {
	return d.with("open", name, func() error {
		_, err := d.f.createExcl(d.fh, name, d.join(name), data, perm, false)
		return err
	})
}

func (d *dirHandle) ReadFile(name string, limit int) (data []byte, fi fsops.FileInfo, err error) {
	err = d.with("open", name, func() error {
		data, fi, err = d.f.readFile(d.fh, name, d.join(name), limit)
		return err
	})
	return data, fi, err
}

func (d *dirHandle) Chtimes(name string, atime, mtime time.Time) error {
	return d.with("chtimes", name, func() error {
		fh, _, err := d.f.lookup(d.fh, name, false)
		if err == nil {
			err = d.f.chtimes(fh, atime, mtime)
		}
		if err != nil {
			return pathErr("chtimes", d.join(name), err)
		}
		return nil
	})
}

func (d *dirHandle) Remove(name string) error {
	return d.with("remove", name, func() error { return d.f.remove(d.fh, name, d.join(name)) })
}

func (d *dirHandle) ReadDir() ([]string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.done {
		return nil, pathErr("open", d.path, syscall.EBADF)
	}
	names, err := d.f.readdir(d.fh)
	if err != nil {
		return nil, pathErr("readdirent", d.path, err)
	}
	return names, nil
}

func (d *dirHandle) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done {
		return pathErr("close", d.path, syscall.EBADF)
	}
	d.done = true
	return nil
}
