package fsops

import (
	"io/fs"
	"strings"
	"time"
)

// FS is the set of filesystem primitives the lock protocols in package
// algorithm are built from, and nothing more. Every method acts on the name
// itself and never follows a symbolic link in the last component.
//
// Errors are *fs.PathError (or *os.LinkError for Link and Rename) wrapping a
// syscall.Errno, so callers can test them with errors.Is against fs.ErrExist,
// fs.ErrNotExist or a specific errno. Implementations must be safe for
// concurrent use by multiple goroutines.
//
// On a network filesystem the result of a namespace call (CreateExcl, Link,
// Rename, Remove) may be wrong in either direction: the call can be applied
// on the server while the client reports an error, or be replayed. Callers
// must verify outcomes by reading the namespace back; see package algorithm.
type FS interface {
	// CreateExcl creates name exclusively (O_CREAT|O_EXCL|O_NOFOLLOW),
	// writes data to it and closes it, and returns the new file's
	// attributes as the open file showed them after the write (fstat, or
	// the attributes in the server's replies), so that a caller needs no
	// second lookup of name to learn its inode. It fails with an error
	// wrapping fs.ErrExist if name exists, whatever it is (including a
	// symbolic link). On a write error the new file is removed before
	// returning.
	CreateExcl(name string, data []byte, perm fs.FileMode) (FileInfo, error)

	// Link makes newname a hard link to oldname, like link(2) without
	// following symbolic links. The result is not trusted by the protocols.
	Link(oldname, newname string) error

	// Rename renames oldname to newname, like rename(2), replacing newname
	// if it is a file.
	Rename(oldname, newname string) error

	// Lstat describes name without following a symbolic link.
	Lstat(name string) (FileInfo, error)

	// ReadFile opens name for reading without following a symbolic link
	// and without blocking on a FIFO, checks that it is a regular file,
	// and returns at most limit bytes of it together with the attributes
	// of the opened file (fstat of the descriptor, so that on NFS they are
	// revalidated by close-to-open consistency). If the file holds more
	// than limit bytes it returns the first limit bytes and an error
	// wrapping ErrTooLarge. If name is not a regular file it returns an
	// error wrapping ErrNotRegular, with the attributes. A negative limit
	// is treated as zero.
	ReadFile(name string, limit int) ([]byte, FileInfo, error)

	// Chtimes sets the access and modification times of name, without
	// following a symbolic link. Time zero values are not special.
	Chtimes(name string, atime, mtime time.Time) error

	// Remove removes the directory entry name, like unlink(2). It never
	// removes a directory.
	Remove(name string) error

	// ReadDir returns the names of the entries of the directory dir,
	// sorted, without "." and "..". Symbolic links in dir, including its
	// last component, are followed as in any path resolution. Package
	// algorithm uses it only to find leftover claim files of its own.
	ReadDir(dir string) ([]string, error)

	// Mkdir creates the directory name, like mkdir(2). It fails with an
	// error wrapping fs.ErrExist if name exists, whatever it is.
	Mkdir(name string, perm fs.FileMode) error

	// Rmdir removes the directory name if it is empty, like rmdir(2). A
	// directory with entries fails with ENOTEMPTY or EEXIST (POSIX allows
	// either; sshfs answers EPERM), and so does a replayed call that finds
	// a newer, non-empty directory at name.
	Rmdir(name string) error

	// OpenDir opens the directory name without following a symbolic link
	// (O_DIRECTORY|O_NOFOLLOW). The Dir it returns stays bound to that
	// directory, whatever name it has later. Implementations that cannot
	// bind a handle to a directory return an error wrapping
	// errors.ErrUnsupported.
	OpenDir(name string) (Dir, error)
}

// Dir is an open directory. Its methods act on entries of that directory
// only, through the handle (openat(2), unlinkat(2), ...), never by a path
// from the root: once the directory has been removed, or replaced at its
// name by another one, they fail (ENOENT, or ESTALE on NFS) rather than
// reach the directory that has the name now. Entry names must be single
// path elements; others fail with EINVAL. Errors are *fs.PathError naming
// Path()/name.
//
// A Dir holds an open descriptor until Close. It is safe for concurrent
// use.
type Dir interface {
	// Path is the name the directory was opened by, for messages.
	Path() string

	// Stat describes the directory itself (fstat of the handle).
	Stat() (FileInfo, error)

	// CreateExcl, ReadFile, Chtimes and Remove are the FS methods of the
	// same names, for the entry name in this directory.
	// (CreateExcl returns no attributes: the Strict protocol needs none,
	// and on NFS an fstat can cost a round trip.)
	CreateExcl(name string, data []byte, perm fs.FileMode) error
	ReadFile(name string, limit int) ([]byte, FileInfo, error)
	Chtimes(name string, atime, mtime time.Time) error
	Remove(name string) error

	// ReadDir returns the names of the directory's entries, sorted,
	// without "." and "..".
	ReadDir() ([]string, error)

	// Close releases the handle. Calls after Close fail.
	Close() error
}

// NoReplaceRenamer is implemented by an FS that can rename without
// replacing what is at the new name, as renameat2(2) with RENAME_NOREPLACE
// does on Linux's local filesystems. Strict uses it to take the lock name
// without a look first for an empty directory that rename(2) would
// replace: the kernel's check leaves no window between the look and the
// rename. OS implements it on Linux; fsops/nfs3 does not (NFSv3's RENAME
// has no such flag).
type NoReplaceRenamer interface {
	// RenameNoReplace renames oldname to newname like Rename, but fails
	// with an error wrapping fs.ErrExist if newname exists, whatever it is
	// (an empty directory, a file, a symbolic link, oldname itself).
	// Where the filesystem holding the names cannot (NFS, most FUSE
	// filesystems, kernels before 3.15 answer EINVAL or ENOSYS), it
	// changes nothing and fails with an error wrapping
	// errors.ErrUnsupported; callers fall back to Rename, with a look
	// first. (Linux checks the names before it asks the filesystem, so
	// there too an existing newname fails with fs.ErrExist and a missing
	// oldname with fs.ErrNotExist, by the client's view of the names,
	// which on NFS may be stale; only a rename that would go ahead is
	// answered unsupported.)
	RenameNoReplace(oldname, newname string) error
}

// Typer is implemented by an FS that can tell which kind of filesystem
// holds a directory, as the kernel names it ("ext4", "nfs4", "tmpfs",
// "fuse.sshfs", "fuse.glusterfs"). A protocol may refuse a kind whose
// semantics it cannot check by experiment. OS implements it on Linux.
type Typer interface {
	// FSType returns the type of the filesystem mounted where dir is.
	FSType(dir string) (string, error)
}

// FileInfo is what the protocols need to know about a file. It is a plain
// value so that fakes and simulators can produce it without a syscall.
type FileInfo struct {
	Dev     uint64      // device number; 0 where the platform has none
	Ino     uint64      // inode number; 0 where the platform has none
	Nlink   uint64      // link count; never trusted by the protocols
	Size    int64       // length in bytes
	Mode    fs.FileMode // type and permission bits, as io/fs reports them
	ModTime time.Time   // modification time
	Ctime   time.Time   // inode change time; zero where the platform has none
	Uid     uint32      // owner; 0 where the platform has none
}

// IsRegular reports whether the file is a regular file.
func (fi FileInfo) IsRegular() bool { return fi.Mode.IsRegular() }

// SameFile reports whether a and b describe the same inode. It reports false
// when either has no inode number, so that filesystems without real inode
// numbers never appear to match.
func SameFile(a, b FileInfo) bool {
	return a.Ino != 0 && a.Dev == b.Dev && a.Ino == b.Ino
}

// validEntry reports whether name is a single path element that a Dir
// method accepts.
func validEntry(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}

// Watcher is implemented by an FS that can tell, as it happens, that
// entries left a directory (inotify(7) on Linux; OS implements it there).
// It is a hint for waking a waiter early, never a fact to decide on: it
// sees only the changes this host's kernel sees (not another NFS client's,
// and a FUSE filesystem may report nothing), and events can be lost.
type Watcher interface {
	// WatchDir starts watching the directory dir. The caller must Close
	// the watch.
	WatchDir(dir string) (DirWatch, error)
}

// DirWatch is a running watch of one directory (see Watcher).
type DirWatch interface {
	// Left delivers the name of each entry removed from the directory or
	// renamed out of it, in order, and "" when events were lost (any entry
	// may have changed). It is closed when the watch ends: after Close, or
	// when the directory itself is removed, moved or unmounted, or the
	// watch fails.
	Left() <-chan string

	// Close stops the watch and waits until everything it started has
	// returned. It is idempotent.
	Close() error
}
