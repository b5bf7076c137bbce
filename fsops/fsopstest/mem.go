package fsopstest

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/oracle"
)

// Mem is an in-memory fsops.FS with the semantics of a local Linux
// filesystem: the same results, the same errno for each failure, and
// timestamps taken from a clock of the test's choosing, so that lock protocols can be tested
// deterministically and fast. Options add quirks of network filesystems.
//
// Names are cleaned (path/filepath.Clean, then slash-separated) and
// resolved from the root, so a relative name is taken as relative to "/".
// Symbolic links in directory components are followed, up to 40 of them
// (ELOOP after that), as on Linux; in the last component they are followed
// only by the test helpers documented to do so. Mem has no permission
// checks (every call is allowed), no umask, no owners (Uid is 0) and no
// access times (Chtimes accepts one and drops it).
// Every inode is on device 1 and inode numbers count up from 1.
//
// Besides the fsops.FS methods, Mem has helpers for setting up tests,
// which also make it a Setup for TestFS.
//
// A Mem is safe for concurrent use: every call is atomic.
type Mem struct {
	clk            interface{ Now() time.Time }
	gran           time.Duration
	pathInodes     bool
	epermForEEXIST bool
	noRenameFlags  bool

	mu      sync.Mutex
	root    *inode
	lastIno uint64
	changes uint64 // changes made so far (see oracle.Changes)

	// The directory the last lookup walked to, by its path, where the
	// next lookup in it starts (most lookups are in one directory). A
	// path names the same directory until one of its directories is
	// detached (removed, renamed or replaced), which dirMoves counts.
	lastDir     *inode
	lastDirPath string
	lastDirAt   uint64 // dirMoves when lastDir was walked to
	dirMoves    uint64
}

var (
	_ fsops.FS = (*Mem)(nil)
	_ Setup    = (*Mem)(nil)

	_ fsops.NoReplaceRenamer = (*Mem)(nil)
)

// inode is a file of any type. A directory's entries hold its children by
// name; "." and ".." are not entries but handled by lookup.
type inode struct {
	ino     uint64
	mode    fs.FileMode // type and permission bits
	nlink   uint64
	data    []byte            // a regular file's content, a symlink's target
	entries map[string]*inode // a directory's entries
	parent  *inode            // a directory's parent; the root is its own
	mtime   time.Time
	ctime   time.Time
}

func (n *inode) isDir() bool     { return n.mode.IsDir() }
func (n *inode) isSymlink() bool { return n.mode&fs.ModeSymlink != 0 }

// memDev is the device number of every Mem inode.
const memDev = 1

// maxSymlinks is how many symbolic links one lookup may follow, as Linux's
// MAXSYMLINKS.
const maxSymlinks = 40

// MemOption configures a Mem made by NewMem.
type MemOption func(*Mem)

// WithMtimeGranularity makes Mem store modification and change times
// truncated to a multiple of d (since the zero Time, which for any d that
// divides a second is the same as truncating Unix time), as sshfs stores
// whole seconds. It applies to times set by Chtimes as well.
func WithMtimeGranularity(d time.Duration) MemOption {
	return func(m *Mem) { m.gran = d }
}

// WithPathInodes makes Lstat and ReadFile report, like sshfs without
// -o use_ino, an inode number derived from the name used rather than the
// real inode, and a link count of 1. Two names of one file then never look
// like the same file, and one name keeps its number when the file at it is
// replaced.
func WithPathInodes() MemOption {
	return func(m *Mem) { m.pathInodes = true }
}

// WithEPERMForEEXIST makes Link, CreateExcl and Mkdir fail with EPERM
// instead of EEXIST when the new name exists, and Rename and Rmdir with
// EPERM instead of ENOTEMPTY, as sshfs does (the SFTP protocol has no such
// statuses).
func WithEPERMForEEXIST() MemOption {
	return func(m *Mem) { m.epermForEEXIST = true }
}

// WithoutRenameNoReplace makes RenameNoReplace fail, changing nothing,
// with an error wrapping errors.ErrUnsupported and EINVAL, as Linux
// answers renameat2's RENAME_NOREPLACE on NFS, sshfs and other FUSE
// filesystems when the rename would go ahead. (It answers so whatever is
// at the names, where Linux answers EEXIST or ENOENT first.)
func WithoutRenameNoReplace() MemOption {
	return func(m *Mem) { m.noRenameFlags = true }
}

// NewMem returns a Mem holding just the root directory "/". It reads the
// time for timestamps from c.Now: a *clock.Fake, for example, or nil for
// the host's time. It needs nothing else of a clock.
func NewMem(c interface{ Now() time.Time }, opts ...MemOption) *Mem {
	if c == nil {
		c = hostClock{}
	}
	m := &Mem{clk: c}
	for _, o := range opts {
		o(m)
	}
	m.root = m.newInode(fs.ModeDir|0o755, nil)
	m.root.parent = m.root
	return m
}

// CreateExcl implements fsops.FS.
func (m *Mem) CreateExcl(name string, data []byte, perm fs.FileMode) (fsops.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	if e == 0 && l.node != nil {
		e = m.eexist()
	}
	if e != 0 {
		return fsops.FileInfo{}, &fs.PathError{Op: "open", Path: name, Err: e}
	}
	n := m.newInode(perm&permBits, slices.Clone(data))
	m.attach(l, n)
	return m.info(n, name), nil
}

// Link implements fsops.FS. The checks come in Linux's order: a missing
// oldname before an existing newname before a directory oldname.
func (m *Mem) Link(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.link(oldname, newname); e != 0 {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: e}
	}
	return nil
}

func (m *Mem) link(oldname, newname string) syscall.Errno {
	ol, e := m.lookup(oldname, false)
	if e != 0 {
		return e
	}
	if ol.node == nil {
		return syscall.ENOENT
	}
	nl, e := m.lookup(newname, false)
	if e != 0 {
		return e
	}
	if nl.node != nil {
		return m.eexist()
	}
	n := ol.node
	if n.isDir() {
		return syscall.EPERM
	}
	n.nlink++
	n.ctime = m.now()
	m.attach(nl, n)
	return 0
}

// Rename implements fsops.FS, with rename(2)'s rules on Linux: a file
// replaces a file, a directory replaces an empty directory, and renaming a
// name onto another name of the same file does nothing.
func (m *Mem) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.rename(oldname, newname); e != 0 {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: e}
	}
	return nil
}

// RenameNoReplace implements fsops.NoReplaceRenamer (unless
// WithoutRenameNoReplace).
func (m *Mem) RenameNoReplace(oldname, newname string) error {
	if m.noRenameFlags {
		return &os.LinkError{Op: "renameat2", Old: oldname, New: newname, Err: fmt.Errorf("%w (%w)", errors.ErrUnsupported, syscall.EINVAL)}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	e := syscall.Errno(0)
	switch nl, le := m.lookup(newname, false); {
	case le != 0:
		e = le
	case nl.node != nil:
		// As Linux: a missing oldname is reported first.
		switch ol, oe := m.lookup(oldname, false); {
		case oe != 0:
			e = oe
		case ol.node == nil:
			e = syscall.ENOENT
		default:
			e = syscall.EEXIST
		}
	default:
		e = m.rename(oldname, newname)
	}
	if e != 0 {
		return &os.LinkError{Op: "renameat2", Old: oldname, New: newname, Err: e}
	}
	return nil
}

func (m *Mem) rename(oldname, newname string) syscall.Errno {
	ol, e := m.lookup(oldname, false)
	if e != 0 {
		return e
	}
	nl, e := m.lookup(newname, false)
	if e != 0 {
		return e
	}
	if ol.dir == nil || nl.dir == nil {
		return syscall.EBUSY // "/", or a name ending in "." or ".."
	}
	src, dst := ol.node, nl.node
	if src == nil {
		return syscall.ENOENT
	}
	if src.isDir() && m.within(nl.dir, src) {
		return syscall.EINVAL // a directory into itself
	}
	if dst != nil && dst.isDir() && m.within(ol.dir, dst) {
		return syscall.ENOTEMPTY // onto an ancestor of itself
	}
	if src == dst {
		return 0
	}
	if dst != nil {
		switch {
		case src.isDir() && !dst.isDir():
			return syscall.ENOTDIR
		case !src.isDir() && dst.isDir():
			return syscall.EISDIR
		case dst.isDir() && len(dst.entries) > 0:
			return m.enotempty()
		}
		m.unlink(nl)
	}
	m.detach(ol)
	m.attach(nl, src)
	src.ctime = m.now()
	return 0
}

// Lstat implements fsops.FS.
func (m *Mem) Lstat(name string) (fsops.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	if e == 0 && l.node == nil {
		e = syscall.ENOENT
	}
	if e != 0 {
		return fsops.FileInfo{}, &fs.PathError{Op: "lstat", Path: name, Err: e}
	}
	return m.info(l.node, name), nil
}

// ReadFile implements fsops.FS. A symbolic link fails with ELOOP, as
// open(2) with O_NOFOLLOW does on Linux.
func (m *Mem) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	if e != 0 {
		return nil, fsops.FileInfo{}, &fs.PathError{Op: "open", Path: name, Err: e}
	}
	return m.read(l, name, limit)
}

// read reads the file at l, found at name. m.mu must be held.
func (m *Mem) read(l location, name string, limit int) ([]byte, fsops.FileInfo, error) {
	limit = max(limit, 0)
	var e syscall.Errno
	switch {
	case l.node == nil:
		e = syscall.ENOENT
	case l.node.isSymlink():
		e = syscall.ELOOP
	}
	if e != 0 {
		return nil, fsops.FileInfo{}, &fs.PathError{Op: "open", Path: name, Err: e}
	}
	n := l.node
	fi := m.info(n, name)
	if !n.mode.IsRegular() {
		return nil, fi, &fs.PathError{Op: "read", Path: name, Err: fsops.ErrNotRegular}
	}
	if len(n.data) > limit {
		return slices.Clone(n.data[:limit]), fi, &fs.PathError{Op: "read", Path: name, Err: fsops.ErrTooLarge}
	}
	return slices.Clone(n.data), fi, nil
}

// Chtimes implements fsops.FS. It sets the times of a symbolic link
// itself, and the change time to now.
func (m *Mem) Chtimes(name string, atime, mtime time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	if e != 0 {
		return &fs.PathError{Op: "chtimes", Path: name, Err: e}
	}
	return m.chtimes(l, name, mtime)
}

// chtimes sets the modification time of the file at l, found at name.
// m.mu must be held.
func (m *Mem) chtimes(l location, name string, mtime time.Time) error {
	if l.node == nil {
		return &fs.PathError{Op: "chtimes", Path: name, Err: syscall.ENOENT}
	}
	l.node.mtime = m.stamp(mtime)
	l.node.ctime = m.now()
	m.changes++
	return nil
}

// Remove implements fsops.FS. A directory fails with EISDIR, as unlink(2)
// does on Linux.
func (m *Mem) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	if e != 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: e}
	}
	return m.remove(l, name)
}

// remove unlinks the file at l, found at name. m.mu must be held.
func (m *Mem) remove(l location, name string) error {
	var e syscall.Errno
	switch {
	case l.node == nil:
		e = syscall.ENOENT
	case l.node.isDir():
		e = syscall.EISDIR
	}
	if e != 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: e}
	}
	m.unlink(l)
	return nil
}

// Mkdir implements fsops.FS.
func (m *Mem) Mkdir(name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	switch {
	case e != 0:
	case l.dir == nil || l.node != nil:
		e = m.eexist()
	}
	if e != 0 {
		return &fs.PathError{Op: "mkdir", Path: name, Err: e}
	}
	m.attach(l, m.newInode(fs.ModeDir|perm&permBits, nil))
	return nil
}

// Rmdir implements fsops.FS.
func (m *Mem) Rmdir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	switch {
	case e != 0:
	case l.node == nil:
		e = syscall.ENOENT
	case l.dir == nil:
		e = syscall.EBUSY // "/", or a name ending in "." or ".."
	case !l.node.isDir():
		e = syscall.ENOTDIR
	case len(l.node.entries) > 0:
		e = m.enotempty()
	}
	if e != 0 {
		return &fs.PathError{Op: "rmdir", Path: name, Err: e}
	}
	m.unlink(l)
	return nil
}

// OpenDir implements fsops.FS. The handle is bound to the directory's
// inode: once the directory is removed, its entry calls fail with ENOENT.
func (m *Mem) OpenDir(name string) (fsops.Dir, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	switch {
	case e != 0:
	case l.node == nil:
		e = syscall.ENOENT
	case l.node.isSymlink():
		e = syscall.ELOOP
	case !l.node.isDir():
		e = syscall.ENOTDIR
	}
	if e != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: e}
	}
	return &memDir{m: m, node: l.node, path: name}, nil
}

// memDir is a Mem directory handle.
type memDir struct {
	m      *Mem
	node   *inode
	path   string
	closed bool // guarded by m.mu
}

func (d *memDir) Path() string { return d.path }

func (d *memDir) join(name string) string {
	if name == "" {
		return d.path
	}
	return d.path + "/" + name
}

// entry resolves the entry name for op. m.mu must be held.
func (d *memDir) entry(op, name string) (location, error) {
	var e syscall.Errno
	switch {
	case d.closed:
		e = syscall.EBADF
	case !validEntry(name):
		e = syscall.EINVAL
	case d.node.nlink == 0:
		e = syscall.ENOENT // a removed directory
	}
	if e != 0 {
		return location{}, &fs.PathError{Op: op, Path: d.join(name), Err: e}
	}
	return location{dir: d.node, base: name, node: d.node.entries[name]}, nil
}

func (d *memDir) Stat() (fsops.FileInfo, error) {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if d.closed {
		return fsops.FileInfo{}, &fs.PathError{Op: "stat", Path: d.path, Err: syscall.EBADF}
	}
	return d.m.info(d.node, d.path), nil
}

func (d *memDir) CreateExcl(name string, data []byte, perm fs.FileMode) error {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	l, err := d.entry("open", name)
	if err != nil {
		return err
	}
	if l.node != nil {
		return &fs.PathError{Op: "open", Path: d.join(name), Err: d.m.eexist()}
	}
	d.m.attach(l, d.m.newInode(perm&permBits, slices.Clone(data)))
	return nil
}

func (d *memDir) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	l, err := d.entry("open", name)
	if err != nil {
		return nil, fsops.FileInfo{}, err
	}
	return d.m.read(l, d.join(name), limit)
}

func (d *memDir) Chtimes(name string, atime, mtime time.Time) error {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	l, err := d.entry("chtimes", name)
	if err != nil {
		return err
	}
	return d.m.chtimes(l, d.join(name), mtime)
}

func (d *memDir) Remove(name string) error {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	l, err := d.entry("remove", name)
	if err != nil {
		return err
	}
	return d.m.remove(l, d.join(name))
}

func (d *memDir) ReadDir() ([]string, error) {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if d.closed {
		return nil, &fs.PathError{Op: "open", Path: d.path, Err: syscall.EBADF}
	}
	if d.node.nlink == 0 {
		return nil, nil // Linux lists a removed directory as empty
	}
	return slices.Sorted(maps.Keys(d.node.entries)), nil
}

func (d *memDir) Close() error {
	d.m.mu.Lock()
	defer d.m.mu.Unlock()
	if d.closed {
		return &fs.PathError{Op: "close", Path: d.path, Err: syscall.EBADF}
	}
	d.closed = true
	return nil
}

// MkdirAll creates the directory dir and any missing parents, like
// os.MkdirAll: symbolic links to directories are followed, an existing
// directory is not an error, anything else in the way is (ENOTDIR, or
// EEXIST for a dangling symbolic link).
func (m *Mem) MkdirAll(dir string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mkdirAll(clean(dir), perm&permBits)
}

func (m *Mem) mkdirAll(dir string, perm fs.FileMode) error {
	l, e := m.lookup(dir, true)
	if e == 0 && l.node != nil {
		if l.node.isDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	}
	if parent := path.Dir(dir); parent != dir {
		if err := m.mkdirAll(parent, perm); err != nil {
			return err
		}
	}
	l, e = m.lookup(dir, false)
	if e == 0 && l.node != nil {
		e = syscall.EEXIST
	}
	if e != 0 {
		return &fs.PathError{Op: "mkdir", Path: dir, Err: e}
	}
	m.attach(l, m.newInode(fs.ModeDir|perm, nil))
	return nil
}

// WriteFile writes data to the regular file name, creating it with perm
// if it does not exist and truncating it otherwise, like os.WriteFile: a
// symbolic link at name is followed, even a dangling one.
func (m *Mem) WriteFile(name string, data []byte, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, true)
	if e == 0 {
		switch n := l.node; {
		case n == nil:
			m.attach(l, m.newInode(perm&permBits, slices.Clone(data)))
		case n.isDir():
			e = syscall.EISDIR
		case !n.mode.IsRegular():
			e = syscall.EINVAL // a FIFO: writing would block forever
		default:
			n.data = slices.Clone(data)
			n.mtime = m.now()
			n.ctime = n.mtime
			m.changes++
		}
	}
	if e != 0 {
		return &fs.PathError{Op: "open", Path: name, Err: e}
	}
	return nil
}

// Symlink creates the symbolic link link pointing to target, like
// os.Symlink. The target is not checked; an empty one fails with ENOENT as
// on Linux.
func (m *Mem) Symlink(target, link string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(link, false)
	switch {
	case e != 0:
	case target == "":
		e = syscall.ENOENT
	case l.node != nil:
		e = syscall.EEXIST
	}
	if e != 0 {
		return &os.LinkError{Op: "symlink", Old: target, New: link, Err: e}
	}
	m.attach(l, m.newInode(fs.ModeSymlink|0o777, []byte(target)))
	return nil
}

// Mkfifo creates a named pipe, with permissions 0o644. Mem's FIFOs exist
// only to be refused by ReadFile.
func (m *Mem) Mkfifo(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	if e == 0 && l.node != nil {
		e = syscall.EEXIST
	}
	if e != 0 {
		return &fs.PathError{Op: "mkfifo", Path: name, Err: e}
	}
	m.attach(l, m.newInode(fs.ModeNamedPipe|0o644, nil))
	return nil
}

// ReadDir returns the sorted names in the directory dir, following
// symbolic links.
func (m *Mem) ReadDir(dir string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(dir, true)
	switch {
	case e != 0:
	case l.node == nil:
		e = syscall.ENOENT
	case !l.node.isDir():
		e = syscall.ENOTDIR
	}
	if e != 0 {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: e}
	}
	names := make([]string, 0, len(l.node.entries))
	for name := range l.node.entries {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

func init() {
	oracle.Ino = func(fsys fsops.FS, name string) (uint64, bool) {
		m, ok := fsys.(*Mem)
		if !ok {
			return 0, false
		}
		return m.trueIno(name)
	}
	oracle.DirIno = trueDirIno
	oracle.Changes = func(fsys fsops.FS) (uint64, bool) {
		m, ok := fsys.(*Mem)
		if !ok {
			return 0, false
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.changes, true
	}
}

// trueIno returns the inode number of the file at name, without following
// a symbolic link in its last component, ignoring WithPathInodes: the
// identity of the file itself, for oracles that must not be fooled by
// quirks or by equal content (see internal/oracle).
func (m *Mem) trueIno(name string) (uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	if e != 0 || l.node == nil {
		return 0, false
	}
	return l.node.ino, true
}

// trueDirIno is trueIno for the entry name of d, a Dir opened on a Mem.
func trueDirIno(d fsops.Dir, name string) (uint64, bool) {
	md, ok := d.(*memDir)
	if !ok {
		return 0, false
	}
	md.m.mu.Lock()
	defer md.m.mu.Unlock()
	if md.node.nlink == 0 {
		return 0, false
	}
	n := md.node.entries[name]
	if n == nil {
		return 0, false
	}
	return n.ino, true
}

// Exists reports whether name exists, without following a symbolic link
// in its last component.
func (m *Mem) Exists(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, e := m.lookup(name, false)
	return e == 0 && l.node != nil
}

// permBits are the bits of a mode that Mem keeps from a perm argument.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// location is where a name leads: the directory entry base in dir, and the
// inode it names, nil if there is no such entry. A name that resolves to a
// directory without naming an entry ("/", or ending in "." or ".." after
// following a symbolic link) has a nil dir and a non-nil node.
type location struct {
	dir  *inode
	base string
	node *inode
}

// clean returns the absolute, cleaned, slash-separated form of name.
func clean(name string) string {
	return path.Clean("/" + filepath.ToSlash(filepath.Clean(name)))
}

// lookup resolves name, following symbolic links in directory components
// and, if follow is set, in the last one. The errno is ENOENT for a missing
// directory component, ENOTDIR for a component that is not a directory and
// ELOOP for too many symbolic links; a missing last component is not an
// error. m.mu must be held.
func (m *Mem) lookup(name string, follow bool) (location, syscall.Errno) {
	if name == "" || name[0] != '/' {
		name = clean(name)
	}
	// A name in the directory the last lookup walked to starts there (its
	// path is clean, so only the last component needs checking).
	if i := strings.LastIndexByte(name, '/'); i > 0 && m.lastDir != nil && m.lastDirAt == m.dirMoves && name[:i] == m.lastDirPath {
		c := name[i+1:]
		if c != "" && c != "." && c != ".." {
			n := m.lastDir.entries[c]
			if n == nil || !n.isSymlink() || !follow {
				return location{dir: m.lastDir, base: c, node: n}, 0
			}
		}
	}
	// The common case, a clean path without symbolic links, walks name in
	// place, checking that it is clean as it goes; the first symbolic
	// link to follow hands the rest to walk. A name found not to be clean
	// starts again cleaned (nothing has changed yet; a clean name never
	// starts again).
	dir := m.root
	rest := name[1:]
	for rest != "" {
		c, after, more := strings.Cut(rest, "/")
		if c == "" || c == "." || c == ".." || (more && after == "") {
			return m.lookup(clean(name), follow)
		}
		n := dir.entries[c]
		if n != nil && n.isSymlink() && (follow || more) {
			if !isClean(name) {
				return m.lookup(clean(name), follow)
			}
			return m.walk(dir, strings.Split(rest, "/"), follow)
		}
		if !more {
			if dir != m.root {
				m.lastDir, m.lastDirPath, m.lastDirAt = dir, name[:len(name)-len(c)-1], m.dirMoves
			}
			return location{dir: dir, base: c, node: n}, 0
		}
		if n == nil {
			return location{}, syscall.ENOENT
		}
		if !n.isDir() {
			return location{}, syscall.ENOTDIR
		}
		dir, rest = n, after
	}
	return location{node: dir}, 0
}

// isClean reports whether name is what clean makes of it: absolute, with
// no empty, "." or ".." component and no trailing slash.
func isClean(name string) bool {
	if name == "/" {
		return true
	}
	if name == "" || name[0] != '/' || name[len(name)-1] == '/' {
		return false
	}
	for rest := name[1:]; ; {
		c, after, more := strings.Cut(rest, "/")
		if c == "" || c == "." || c == ".." {
			return false
		}
		if !more {
			return true
		}
		rest = after
	}
}

// walk resolves the components todo from directory dir, as lookup does.
func (m *Mem) walk(dir *inode, todo []string, follow bool) (location, syscall.Errno) {
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			dir = dir.parent
			continue
		}
		n := dir.entries[c]
		if n != nil && n.isSymlink() && (follow || len(todo) > 0) {
			if links++; links > maxSymlinks {
				return location{}, syscall.ELOOP
			}
			target := string(n.data)
			if strings.HasPrefix(target, "/") {
				dir = m.root
			}
			todo = append(strings.Split(target, "/"), todo...)
			continue
		}
		if len(todo) == 0 {
			return location{dir: dir, base: c, node: n}, 0
		}
		if n == nil {
			return location{}, syscall.ENOENT
		}
		if !n.isDir() {
			return location{}, syscall.ENOTDIR
		}
		dir = n
	}
	return location{node: dir}, 0
}

// within reports whether directory d is a or inside a. m.mu must be held.
func (m *Mem) within(d, a *inode) bool {
	for ; d != m.root; d = d.parent {
		if d == a {
			return true
		}
	}
	return a == m.root
}

// newInode returns an inode with the next inode number and times of now.
// m.mu must be held, except by NewMem.
func (m *Mem) newInode(mode fs.FileMode, data []byte) *inode {
	m.lastIno++
	now := m.now()
	n := &inode{ino: m.lastIno, mode: mode, nlink: 1, data: data, mtime: now, ctime: now}
	if n.isDir() {
		n.nlink = 2 // its entry and its own "."
		n.entries = make(map[string]*inode)
	}
	return n
}

// attach makes n the entry l.base of l.dir. Linking a directory in also
// links its ".." to l.dir. m.mu must be held.
func (m *Mem) attach(l location, n *inode) {
	l.dir.entries[l.base] = n
	if n.isDir() {
		n.parent = l.dir
		l.dir.nlink++
	}
	m.touch(l.dir)
}

// detach removes the entry l.base from l.dir without changing l.node's own
// link count. m.mu must be held.
func (m *Mem) detach(l location) {
	delete(l.dir.entries, l.base)
	if l.node.isDir() {
		l.dir.nlink--
		m.dirMoves++
	}
	m.touch(l.dir)
}

// unlink removes the entry l.base, and with it a link to l.node. m.mu must
// be held.
func (m *Mem) unlink(l location) {
	m.detach(l)
	if l.node.isDir() {
		l.node.nlink = 0 // an empty directory, replaced by Rename
	} else {
		l.node.nlink--
	}
	l.node.ctime = m.now()
}

// touch records a change of directory d's entries. m.mu must be held.
// Every change of a name goes through it (attach, detach), so it counts
// them; chtimes and WriteFile count the changes of a file in place.
func (m *Mem) touch(d *inode) {
	d.mtime = m.now()
	d.ctime = d.mtime
	m.changes++
}

// now is the time to record for a change now.
// hostClock is the host's time, for a Mem given no clock.
type hostClock struct{}

func (hostClock) Now() time.Time { return time.Now() }

func (m *Mem) now() time.Time { return m.stamp(m.clk.Now()) }

// stamp is t as stored in an inode: without a monotonic clock reading,
// which a file's times never have, and at the configured granularity.
func (m *Mem) stamp(t time.Time) time.Time {
	t = t.Round(0)
	if m.gran > 0 {
		t = t.Truncate(m.gran)
	}
	return t
}

// enotempty is the errno for a directory that must be empty and is not.
func (m *Mem) enotempty() syscall.Errno {
	if m.epermForEEXIST {
		return syscall.EPERM
	}
	return syscall.ENOTEMPTY
}

// eexist is the errno for a new name that exists.
func (m *Mem) eexist() syscall.Errno {
	if m.epermForEEXIST {
		return syscall.EPERM
	}
	return syscall.EEXIST
}

// info describes n, found at name. m.mu must be held.
func (m *Mem) info(n *inode, name string) fsops.FileInfo {
	fi := fsops.FileInfo{
		Dev:     memDev,
		Ino:     n.ino,
		Nlink:   n.nlink,
		Size:    int64(len(n.data)),
		Mode:    n.mode,
		ModTime: n.mtime,
		Ctime:   n.ctime,
	}
	if m.pathInodes {
		fi.Ino, fi.Nlink = pathIno(clean(name)), 1
	}
	return fi
}

// pathIno derives a non-zero inode number from a cleaned name.
func pathIno(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return max(h.Sum64(), 1)
}

// validEntry reports whether name is a single path element, as a Dir
// method requires.
func validEntry(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00")
}
