package nfs3

import (
	"errors"
	"io/fs"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// The methods that take paths make a second attempt after ESTALE, with
// the caches dropped, as Linux's VFS does (retry_estale: the path is looked
// up again with LOOKUP_REVAL): a cached handle on the way may name a file
// or directory that is gone. ESTALE means the server executed nothing.
// Calls through a Dir never do: a handle that is stale must stay so.

func (f *FS) stale(err error) bool {
	if !errors.Is(err, syscall.ESTALE) {
		return false
	}
	f.cache.flush()
	return true
}

// CreateExcl implements fsops.FS.
func (f *FS) CreateExcl(name string, data []byte, perm fs.FileMode) (fsops.FileInfo, error) {
	fi, err := f.createExclPath(name, data, perm)
	if f.stale(err) {
		fi, err = f.createExclPath(name, data, perm)
	}
	return fi, err
}

// Link implements fsops.FS.
func (f *FS) Link(oldname, newname string) error {
	err := f.linkPath(oldname, newname)
	if f.stale(err) {
		err = f.linkPath(oldname, newname)
	}
	return err
}

// Rename implements fsops.FS.
func (f *FS) Rename(oldname, newname string) error {
	err := f.renamePath(oldname, newname)
	if f.stale(err) {
		err = f.renamePath(oldname, newname)
	}
	return err
}

// Lstat implements fsops.FS. The attributes may come from the cache.
func (f *FS) Lstat(name string) (fsops.FileInfo, error) {
	fi, err := f.lstatPath(name)
	if f.stale(err) {
		fi, err = f.lstatPath(name)
	}
	return fi, err
}

// ReadFile implements fsops.FS: a LOOKUP (perhaps cached), a GETATTR
// (close-to-open) and READs.
func (f *FS) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	data, fi, err := f.readFilePath(name, limit)
	if f.stale(err) {
		data, fi, err = f.readFilePath(name, limit)
	}
	return data, fi, err
}

// Chtimes implements fsops.FS: SETATTR with the client's times.
func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	err := f.chtimesPath(name, atime, mtime)
	if f.stale(err) {
		err = f.chtimesPath(name, atime, mtime)
	}
	return err
}

// Touch sets the access and modification times of name to the server's
// clock (SETATTR SET_TO_SERVER_TIME, what utimes(name, NULL) sends on a
// Linux client), without following a symbolic link.
func (f *FS) Touch(name string) error {
	err := f.touchPath(name)
	if f.stale(err) {
		err = f.touchPath(name)
	}
	return err
}

// Remove implements fsops.FS. Like unlink(2) on a Linux client it refuses
// a directory before asking the server.
func (f *FS) Remove(name string) error {
	err := f.removePath(name)
	if f.stale(err) {
		err = f.removePath(name)
	}
	return err
}

// ReadDir implements fsops.FS.
func (f *FS) ReadDir(dir string) ([]string, error) {
	names, err := f.readDirPath(dir)
	if f.stale(err) {
		names, err = f.readDirPath(dir)
	}
	return names, err
}

// Mkdir implements fsops.FS.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	err := f.mkdirPath(name, perm)
	if f.stale(err) {
		err = f.mkdirPath(name, perm)
	}
	return err
}

// Rmdir implements fsops.FS.
func (f *FS) Rmdir(name string) error {
	err := f.rmdirPath(name)
	if f.stale(err) {
		err = f.rmdirPath(name)
	}
	return err
}

// OpenDir implements fsops.FS: the Dir holds the directory's NFS file
// handle, which names that directory and no other, whatever its name
// later; once it is removed the server answers NFS3ERR_STALE (ESTALE).
func (f *FS) OpenDir(name string) (fsops.Dir, error) {
	d, err := f.openDirPath(name)
	if f.stale(err) {
		d, err = f.openDirPath(name)
	}
	return d, err
}
