package nfs3

import (
	"io/fs"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// NFSv3 (RFC 1813) and MOUNT v3 types and procedures, the parts used.

const (
	progPortmap = 100000
	progNFS     = 100003
	progMount   = 100005

	pmapGetport = 3
	mountMnt    = 1
)

// NFSv3 procedures.
const (
	procNull        = 0
	procGetattr     = 1
	procSetattr     = 2
	procLookup      = 3
	procAccess      = 4
	procReadlink    = 5
	procRead        = 6
	procWrite       = 7
	procCreate      = 8
	procMkdir       = 9
	procSymlink     = 10
	procMknod       = 11
	procRemove      = 12
	procRmdir       = 13
	procRename      = 14
	procLink        = 15
	procReaddir     = 16
	procReaddirplus = 17
	procFsstat      = 18
	procFsinfo      = 19
	procPathconf    = 20
	procCommit      = 21
	nprocs          = 22
)

var procNames = [nprocs]string{
	"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ", "WRITE", "CREATE",
	"MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR", "RENAME", "LINK", "READDIR", "READDIRPLUS",
	"FSSTAT", "FSINFO", "PATHCONF", "COMMIT",
}

// ftype3
const (
	nf3Reg  = 1
	nf3Dir  = 2
	nf3Blk  = 3
	nf3Chr  = 4
	nf3Lnk  = 5
	nf3Sock = 6
	nf3Fifo = 7
)

// createhow3 and time_how
const (
	createUnchecked = 0
	createGuarded   = 1
	createExclusive = 2

	timeDontChange   = 0
	timeServer       = 1
	timeClient       = 2
	stableFileSync   = 2
	maxHandle        = 64
	maxName          = 4096
	nfs3ErrJukebox   = 10008
	nfs3ErrNotSupp   = 10004
	nfs3ErrBadHandle = 10001
	nfs3ErrStale     = 70
)

// nfsStatus is an NFSv3 status other than NFS3_OK.
type nfsStatus uint32

// errno maps a status to the errno a Linux client reports.
func (s nfsStatus) errno() syscall.Errno {
	switch s {
	case 1:
		return syscall.EPERM
	case 2:
		return syscall.ENOENT
	case 5:
		return syscall.EIO
	case 6:
		return syscall.ENXIO
	case 13:
		return syscall.EACCES
	case 17:
		return syscall.EEXIST
	case 18:
		return syscall.EXDEV
	case 19:
		return syscall.ENODEV
	case 20:
		return syscall.ENOTDIR
	case 21:
		return syscall.EISDIR
	case 22:
		return syscall.EINVAL
	case 27:
		return syscall.EFBIG
	case 28:
		return syscall.ENOSPC
	case 30:
		return syscall.EROFS
	case 31:
		return syscall.EMLINK
	case 63:
		return syscall.ENAMETOOLONG
	case 66:
		return syscall.ENOTEMPTY
	case 69:
		return syscall.EDQUOT
	case nfs3ErrStale, nfs3ErrBadHandle:
		return syscall.ESTALE
	case nfs3ErrNotSupp:
		return syscall.ENOTSUP
	case nfs3ErrJukebox:
		return syscall.EAGAIN
	}
	return syscall.EIO
}

// fattr is fattr3.
type fattr struct {
	typ, mode, nlink, uid, gid uint32
	size, used                 uint64
	fsid, fileid               uint64
	atime, mtime, ctime        nfstime
}

type nfstime struct{ sec, nsec uint32 }

func (t nfstime) time() time.Time { return time.Unix(int64(t.sec), int64(t.nsec)) }

func toNFSTime(t time.Time) nfstime {
	// NFSv3 times are unsigned 32-bit seconds; earlier or later times
	// wrap, as on a Linux client.
	return nfstime{uint32(t.Unix()), uint32(t.Nanosecond())}
}

func (d *decoder) time() nfstime { return nfstime{d.u32(), d.u32()} }

func (d *decoder) fattr() fattr {
	var a fattr
	a.typ, a.mode, a.nlink, a.uid, a.gid = d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	a.size, a.used = d.u64(), d.u64()
	d.u32() // rdev
	d.u32()
	a.fsid, a.fileid = d.u64(), d.u64()
	a.atime, a.mtime, a.ctime = d.time(), d.time(), d.time()
	return a
}

// postOpAttr reads post_op_attr: nil if the server sent none.
func (d *decoder) postOpAttr() *fattr {
	if !d.bool() {
		return nil
	}
	a := d.fattr()
	return &a
}

// wccData reads wcc_data and returns the pre-operation mtime and ctime
// (zero if absent) and the post-operation attributes.
type wcc struct {
	pre          bool
	mtime, ctime nfstime
	size         uint64
	post         *fattr
}

func (d *decoder) wcc() wcc {
	var w wcc
	if d.bool() {
		w.pre = true
		w.size = d.u64()
		w.mtime, w.ctime = d.time(), d.time()
	}
	w.post = d.postOpAttr()
	return w
}

func (d *decoder) fh() []byte { return d.opaque(maxHandle) }

func (d *decoder) postOpFH() []byte {
	if !d.bool() {
		return nil
	}
	return d.fh()
}

// info converts attributes to a FileInfo.
func (a *fattr) info() fsops.FileInfo {
	mode := fs.FileMode(a.mode & 0o777)
	if a.mode&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if a.mode&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if a.mode&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	switch a.typ {
	case nf3Dir:
		mode |= fs.ModeDir
	case nf3Lnk:
		mode |= fs.ModeSymlink
	case nf3Blk:
		mode |= fs.ModeDevice
	case nf3Chr:
		mode |= fs.ModeDevice | fs.ModeCharDevice
	case nf3Sock:
		mode |= fs.ModeSocket
	case nf3Fifo:
		mode |= fs.ModeNamedPipe
	}
	return fsops.FileInfo{
		Dev:     a.fsid,
		Ino:     a.fileid,
		Nlink:   uint64(a.nlink),
		Size:    int64(a.size),
		Mode:    mode,
		ModTime: a.mtime.time(),
		Ctime:   a.ctime.time(),
		Uid:     a.uid,
	}
}

// sattr is the sattr3 the client sends.
type sattr struct {
	mode         *uint32
	size         *uint64
	atime, mtime int // timeDontChange, timeServer or timeClient
	at, mt       nfstime
}

func (e *encoder) sattr(s sattr) {
	e.bool(s.mode != nil)
	if s.mode != nil {
		e.u32(*s.mode)
	}
	e.bool(false) // uid
	e.bool(false) // gid
	e.bool(s.size != nil)
	if s.size != nil {
		e.u64(*s.size)
	}
	e.u32(uint32(s.atime))
	if s.atime == timeClient {
		e.u32(s.at.sec)
		e.u32(s.at.nsec)
	}
	e.u32(uint32(s.mtime))
	if s.mtime == timeClient {
		e.u32(s.mt.sec)
		e.u32(s.mt.nsec)
	}
}

func (e *encoder) diropargs(dir []byte, name string) {
	e.opaque(dir)
	e.string(name)
}

func modePtr(perm fs.FileMode) *uint32 {
	m := uint32(perm.Perm())
	if perm&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if perm&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if perm&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return &m
}
