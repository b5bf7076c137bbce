//go:build unix

package fsops

import (
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

func (osFS) CreateExcl(name string, data []byte, perm fs.FileMode) (FileInfo, error) {
	var st unix.Stat_t
	if err := createExclAt(unix.AT_FDCWD, name, name, data, perm, &st); err != nil {
		return FileInfo{}, err
	}
	return fileInfo(&st), nil
}

// createExclAt creates name relative to dirfd; shown is the name for
// errors. If st is not nil, it receives the new file's attributes.
func createExclAt(dirfd int, name, shown string, data []byte, perm fs.FileMode, st *unix.Stat_t) error {
	// O_EXCL alone already refuses to follow a symlink at name; O_NOFOLLOW
	// states the intent and costs nothing.
	fd, err := ignoringEINTR2(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, unixMode(perm))
	})
	if err != nil {
		return &fs.PathError{Op: "open", Path: shown, Err: err}
	}
	op := "write"
	err = writeAll(fd, data)
	if err == nil && st != nil {
		// The attributes of the open file, not of whatever a lookup of
		// name would find. (On Linux NFS, fstat writes the dirty data back
		// first, as close would have.)
		if err = ignoringEINTR(func() error { return unix.Fstat(fd, st) }); err != nil {
			op = "stat"
		}
	}
	// A close error matters here: NFS writes back at close, so ENOSPC,
	// EDQUOT or EIO for the data may only be reported now. EINTR from
	// close means the descriptor is released but the outcome of the
	// write-back is unknown; since callers read the file back anyway it is
	// not treated as a failure, and close is never retried (on Linux the
	// descriptor number may already belong to another goroutine's file).
	if cerr := unix.Close(fd); err == nil && cerr != nil && cerr != unix.EINTR {
		op, err = "close", cerr
	}
	if err != nil {
		// The name was created by this call an instant ago and holds
		// partial content: remove it so that no half-written file is left
		// behind. An unlink error is dropped in favour of the cause.
		_ = ignoringEINTR(func() error { return unix.Unlinkat(dirfd, name, 0) })
		return &fs.PathError{Op: op, Path: shown, Err: err}
	}
	return nil
}

// writeAll writes all of data to fd, continuing after short writes.
func writeAll(fd int, data []byte) error {
	for len(data) > 0 {
		n, err := ignoringEINTR2(func() (int, error) { return unix.Write(fd, data) })
		if err != nil {
			return err
		}
		if n <= 0 {
			// write(2) only returns 0 for a non-empty buffer on odd
			// devices; do not spin.
			return io.ErrShortWrite
		}
		data = data[n:]
	}
	return nil
}

func (osFS) Link(oldname, newname string) error {
	err := ignoringEINTR(func() error { return linkNoFollow(oldname, newname) })
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func (osFS) Rename(oldname, newname string) error {
	err := ignoringEINTR(func() error {
		return unix.Renameat(unix.AT_FDCWD, oldname, unix.AT_FDCWD, newname)
	})
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
	}
	return nil
}

func (osFS) Lstat(name string) (FileInfo, error) {
	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Lstat(name, &st) }); err != nil {
		return FileInfo{}, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fileInfo(&st), nil
}

// maxReadPrealloc bounds the buffer ReadFile allocates up front from the
// size fstat reports, which a network filesystem may get wrong.
const maxReadPrealloc = 1 << 20

func (osFS) ReadFile(name string, limit int) ([]byte, FileInfo, error) {
	return readFileAt(unix.AT_FDCWD, name, shownName{name: name}, limit)
}

// readFileAt reads name relative to dirfd; shown is the name for errors
// (built only for one).
func readFileAt(dirfd int, name string, shown shownName, limit int) ([]byte, FileInfo, error) {
	limit = max(limit, 0)
	// O_NONBLOCK keeps open from waiting for a writer when name is a FIFO;
	// it has no effect on reads of a regular file.
	fd, err := ignoringEINTR2(func() (int, error) {
		return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		if err == unix.ENXIO || err == unix.ENODEV {
			// open(2) of a socket, or of a device with no driver behind
			// it, fails with ENXIO (ENODEV on some systems) before there
			// is a descriptor to fstat. It is not a regular file all the
			// same, and callers must be able to tell that from a
			// failure of the filesystem.
			var st unix.Stat_t
			if ignoringEINTR(func() error { return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }) == nil {
				if fi := fileInfo(&st); !fi.IsRegular() {
					return nil, fi, &fs.PathError{Op: "read", Path: shown.String(), Err: ErrNotRegular}
				}
			}
		}
		return nil, FileInfo{}, &fs.PathError{Op: "open", Path: shown.String(), Err: err}
	}
	// Closing a descriptor opened for reading cannot lose data, so its
	// error is of no interest.
	defer unix.Close(fd)

	var st unix.Stat_t
	if err := ignoringEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
		return nil, FileInfo{}, &fs.PathError{Op: "stat", Path: shown.String(), Err: err}
	}
	fi := fileInfo(&st)
	if !fi.IsRegular() {
		return nil, fi, &fs.PathError{Op: "read", Path: shown.String(), Err: ErrNotRegular}
	}

	// Read one byte more than limit to tell "exactly limit" from "more".
	// The reported size is only a hint for the first allocation: the file
	// may change while it is read.
	buf := make([]byte, 0, min(max(st.Size, 0), int64(limit), maxReadPrealloc)+1)
	for len(buf) <= limit {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 1)
		}
		room := buf[len(buf):cap(buf)]
		if rest := limit - len(buf); len(room) > rest {
			room = room[:rest+1]
		}
		n, err := ignoringEINTR2(func() (int, error) { return unix.Read(fd, room) })
		if err != nil {
			return nil, fi, &fs.PathError{Op: "read", Path: shown.String(), Err: err}
		}
		if n <= 0 {
			return buf, fi, nil
		}
		buf = buf[:len(buf)+n]
		if n < len(room) && int64(len(buf)) == st.Size {
			// A short read of a regular file ends at its end, and this
			// is the size fstat gave: no read(2) more to see 0 bytes
			// (one syscall of five, on every look at a lock).
			return buf, fi, nil
		}
	}
	return buf[:limit], fi, &fs.PathError{Op: "read", Path: shown.String(), Err: ErrTooLarge}
}

func (osFS) Chtimes(name string, atime, mtime time.Time) error {
	return chtimesAt(unix.AT_FDCWD, name, shownName{name: name}, atime, mtime)
}

// chtimesAt sets the times of name relative to dirfd; shown is the name
// for errors.
func chtimesAt(dirfd int, name string, shown shownName, atime, mtime time.Time) error {
	var ts [2]unix.Timespec
	for i, t := range []time.Time{atime, mtime} {
		var err error
		// ERANGE where the platform's time_t cannot hold t.
		if ts[i], err = unix.TimeToTimespec(t); err != nil {
			return &fs.PathError{Op: "chtimes", Path: shown.String(), Err: err}
		}
	}
	err := ignoringEINTR(func() error {
		return unix.UtimesNanoAt(dirfd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return &fs.PathError{Op: "chtimes", Path: shown.String(), Err: err}
	}
	return nil
}

func (osFS) Remove(name string) error {
	return removeAt(unix.AT_FDCWD, name, name)
}

// removeAt unlinks name relative to dirfd; shown is the name for errors.
func removeAt(dirfd int, name, shown string) error {
	// unlink(2) refuses directories (EISDIR on Linux, EPERM on BSDs), which
	// is what Remove promises; os.Remove would fall back to rmdir.
	if err := ignoringEINTR(func() error { return unix.Unlinkat(dirfd, name, 0) }); err != nil {
		return &fs.PathError{Op: "remove", Path: shown, Err: err}
	}
	return nil
}

func (osFS) Mkdir(name string, perm fs.FileMode) error {
	if err := ignoringEINTR(func() error { return unix.Mkdir(name, unixMode(perm)) }); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	return nil
}

func (osFS) Rmdir(name string) error {
	if err := ignoringEINTR(func() error { return unix.Rmdir(name) }); err != nil {
		return &fs.PathError{Op: "rmdir", Path: name, Err: err}
	}
	return nil
}

func (osFS) OpenDir(name string) (Dir, error) {
	fd, err := ignoringEINTR2(func() (int, error) {
		return unix.Open(name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &osDir{fd: fd, path: name}, nil
}

// osDir is a Dir on an open directory descriptor.
type osDir struct {
	path string
	mu   sync.RWMutex // Close takes it for writing: no call uses a closed fd
	fd   int          // -1 after Close
}

// with runs fn with the descriptor for a call on the entry name, or
// fails with EINVAL for a name that is not a single element, or with EBADF
// after Close.
func (d *osDir) with(op, name string, fn func(fd int) error) error {
	if !validEntry(name) {
		return &fs.PathError{Op: op, Path: d.join(name), Err: unix.EINVAL}
	}
	return d.withFD(op, fn)
}

// withFD runs fn with the descriptor, or fails with EBADF after Close.
func (d *osDir) withFD(op string, fn func(fd int) error) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.fd < 0 {
		return &fs.PathError{Op: op, Path: d.path, Err: unix.EBADF}
	}
	return fn(d.fd)
}

// shownName is the name of a file for errors: name, or, with dir, name
// in dir. It is joined only for an error, so that the calls a refresh
// makes allocate no name.
type shownName struct {
	dir  *osDir
	name string
}

func (n shownName) String() string {
	if n.dir == nil {
		return n.name
	}
	return n.dir.join(n.name)
}

func (d *osDir) join(name string) string {
	if name == "" {
		return d.path
	}
	return d.path + "/" + name
}

func (d *osDir) Path() string { return d.path }

func (d *osDir) Stat() (FileInfo, error) {
	var fi FileInfo
	err := d.withFD("stat", func(fd int) error {
		var st unix.Stat_t
		if err := ignoringEINTR(func() error { return unix.Fstat(fd, &st) }); err != nil {
			return &fs.PathError{Op: "stat", Path: d.path, Err: err}
		}
		fi = fileInfo(&st)
		return nil
	})
	return fi, err
}

func (d *osDir) CreateExcl(name string, data []byte, perm fs.FileMode) error {
	return d.with("open", name, func(fd int) error { return createExclAt(fd, name, d.join(name), data, perm, nil) })
}

func (d *osDir) ReadFile(name string, limit int) (data []byte, fi FileInfo, err error) {
	err = d.with("open", name, func(fd int) error {
		data, fi, err = readFileAt(fd, name, shownName{d, name}, limit)
		return err
	})
	return data, fi, err
}

func (d *osDir) Chtimes(name string, atime, mtime time.Time) error {
	return d.with("chtimes", name, func(fd int) error { return chtimesAt(fd, name, shownName{d, name}, atime, mtime) })
}

func (d *osDir) Remove(name string) error {
	return d.with("remove", name, func(fd int) error { return removeAt(fd, name, d.join(name)) })
}

func (d *osDir) ReadDir() ([]string, error) {
	var names []string
	err := d.withFD("open", func(fd int) error {
		// A descriptor of its own: reading moves the offset.
		nfd, err := ignoringEINTR2(func() (int, error) {
			return unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return &fs.PathError{Op: "open", Path: d.path, Err: err}
		}
		f := os.NewFile(uintptr(nfd), d.path)
		defer f.Close()
		names, err = f.Readdirnames(-1)
		return err
	})
	slices.Sort(names)
	return names, err
}

func (d *osDir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd < 0 {
		return &fs.PathError{Op: "close", Path: d.path, Err: unix.EBADF}
	}
	err := unix.Close(d.fd)
	d.fd = -1
	if err != nil && err != unix.EINTR {
		return &fs.PathError{Op: "close", Path: d.path, Err: err}
	}
	return nil
}

// fileInfo converts a Stat_t. The conversions are needed because field
// types differ between platforms (Mode is 16 bits on BSDs, Nlink 16 or 32
// bits on some, Dev signed on Darwin).
func fileInfo(st *unix.Stat_t) FileInfo {
	return FileInfo{
		Dev:     uint64(st.Dev),
		Ino:     uint64(st.Ino),
		Nlink:   uint64(st.Nlink),
		Size:    int64(st.Size),
		Mode:    fileMode(uint32(st.Mode)),
		ModTime: time.Unix(st.Mtim.Unix()),
		Ctime:   time.Unix(st.Ctim.Unix()),
		Uid:     uint32(st.Uid),
	}
}

// fileMode converts st_mode to io/fs mode bits, as package os does, except
// that a file type os does not know (such as a BSD whiteout or a Solaris
// door) is reported as irregular rather than regular.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	case unix.S_IFIFO:
		mode |= fs.ModeNamedPipe
	case unix.S_IFCHR:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		mode |= fs.ModeDevice
	case unix.S_IFSOCK:
		mode |= fs.ModeSocket
	default:
		mode |= fs.ModeIrregular
	}
	if m&unix.S_ISUID != 0 {
		mode |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		mode |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// unixMode converts permission bits to the mode argument of open(2).
func unixMode(perm fs.FileMode) uint32 {
	m := uint32(perm.Perm())
	if perm&fs.ModeSetuid != 0 {
		m |= unix.S_ISUID
	}
	if perm&fs.ModeSetgid != 0 {
		m |= unix.S_ISGID
	}
	if perm&fs.ModeSticky != 0 {
		m |= unix.S_ISVTX
	}
	return m
}

// ignoringEINTR calls fn until it fails with something other than EINTR.
// The Go runtime installs its signal handlers with SA_RESTART, but a call
// can still be interrupted, for example on an NFS mount with "intr" or by
// a handler installed by cgo code.
func ignoringEINTR(fn func() error) error {
	for {
		if err := fn(); err != unix.EINTR {
			return err
		}
	}
}

// ignoringEINTR2 is ignoringEINTR for a call that also returns a value.
func ignoringEINTR2[T any](fn func() (T, error)) (T, error) {
	for {
		v, err := fn()
		if err != unix.EINTR {
			return v, err
		}
	}
}
