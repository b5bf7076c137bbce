package nfs3

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// Option configures Dial.
type Option func(*options)

type options struct {
	mount string // MOUNT's host:port, if given
	rpc   rpcConfig
	cache cacheConfig
	cto   bool
}

// Soft makes calls fail with ETIMEDOUT after the retransmissions of
// WithTimeout, as a soft mount does. The default is hard: a call is sent
// again until it is answered or the FS is closed.
func Soft() Option { return func(o *options) { o.rpc.soft = true } }

// WithTimeout sets timeo, the time before the first retransmission of an
// unanswered call (each further one waits timeo longer, up to 600 s, as
// over TCP in Linux), and retrans, the number of retransmissions a soft
// mount makes before it gives up. The defaults are Linux's for TCP:
// 60 s and 2.
func WithTimeout(timeo time.Duration, retrans int) Option {
	return func(o *options) {
		if timeo > 0 {
			o.rpc.timeo = timeo
		}
		o.rpc.retrans = max(retrans, 0)
	}
}

// WithAttrCache sets the attribute cache times: acregmin, acregmax for
// files, acdirmin, acdirmax for directories. The defaults are Linux's:
// 3 s, 60 s, 30 s, 60 s. All zero is noac.
func WithAttrCache(regMin, regMax, dirMin, dirMax time.Duration) Option {
	return func(o *options) {
		o.cache.regMin, o.cache.regMax = regMin, max(regMin, regMax)
		o.cache.dirMin, o.cache.dirMax = dirMin, max(dirMin, dirMax)
	}
}

// WithoutCache turns the attribute and name caches off (noac,
// lookupcache=none): every call goes to the server, which is then seen
// raw.
func WithoutCache() Option {
	return func(o *options) {
		o.cache = cacheConfig{}
	}
}

// NoCloseToOpen stops ReadFile and OpenDir from fetching fresh attributes
// (nocto): they may then answer from the caches.
func NoCloseToOpen() Option { return func(o *options) { o.cto = false } }

// WithAuth sets the AUTH_SYS credential: uid, gid and machine name. The
// default is the process's uid and gid and the host name.
func WithAuth(uid, gid uint32, machine string) Option {
	return func(o *options) { o.rpc.uid, o.rpc.gid, o.rpc.machine = uid, gid, machine }
}

// WithMountAddr makes Dial ask MOUNT at addr (host:port) instead of
// through the portmapper: for a target whose NFS port is a proxy's.
func WithMountAddr(addr string) Option { return func(o *options) { o.mount = addr } }

// FS is an NFSv3 client of one export, implementing fsops.FS. Names are
// absolute paths within the export ("/" is its root). It is safe for
// concurrent use.
type FS struct {
	target    string
	nfs       *rpcClient
	root      []byte
	cache     *cache
	cto       bool
	stats     counters
	rsize     uint32
	wsize     uint32
	mountAddr string
	nfsAddr   string
	// timeDelta is the server's time granularity (FSINFO time_delta).
	timeDelta time.Duration
}

var _ fsops.FS = (*FS)(nil)

// Dial mounts the export named by target, "host:/export" or
// "host:port:/export". The server's portmapper (port 111 of host) gives
// the port of MOUNT v3 over TCP, unless WithMountAddr says where it is,
// and that of NFS v3 over TCP unless the target has it. The context bounds
// the mount itself, not later calls.
func Dial(ctx context.Context, target string, opts ...Option) (*FS, error) {
	host, port, export, err := parseTarget(target)
	if err != nil {
		return nil, err
	}
	o := options{
		rpc:   rpcConfig{timeo: 60 * time.Second, retrans: 2, uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), dialTimeout: 10 * time.Second},
		cache: cacheConfig{regMin: 3 * time.Second, regMax: 60 * time.Second, dirMin: 30 * time.Second, dirMax: 60 * time.Second, lookups: true},
		cto:   true,
	}
	if h, err := os.Hostname(); err == nil {
		o.rpc.machine = h
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cache.regMax == 0 && o.cache.dirMax == 0 {
		o.cache.lookups = false
	}
	// The mount itself: soft, bounded by ctx.
	short := o.rpc
	short.soft = true
	short.retrans = 2
	short.timeo = 2 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		short.timeo = max(min(time.Until(dl)/3, short.timeo), time.Millisecond)
		short.dialTimeout = max(time.Until(dl), time.Millisecond)
	}
	f := &FS{target: target, cache: newCache(o.cache), cto: o.cto, rsize: 64 << 10, wsize: 64 << 10, timeDelta: time.Second}
	fail := func(err error) (*FS, error) {
		return nil, fmt.Errorf("nfs3: mount %s: %w", target, err)
	}
	mountAddr, nfsAddr := o.mount, ""
	if port != "" {
		nfsAddr = net.JoinHostPort(host, port)
	}
	pm := net.JoinHostPort(host, "111")
	if mountAddr == "" {
		mp, err := getport(ctx, pm, progMount, 3, short, &f.stats)
		if err != nil {
			return fail(fmt.Errorf("portmapper %s: MOUNT v3: %w", pm, err))
		}
		mountAddr = net.JoinHostPort(host, strconv.Itoa(int(mp)))
	}
	if nfsAddr == "" {
		np, err := getport(ctx, pm, progNFS, 3, short, &f.stats)
		if err != nil {
			return fail(fmt.Errorf("portmapper %s: NFS v3: %w", pm, err))
		}
		nfsAddr = net.JoinHostPort(host, strconv.Itoa(int(np)))
	}
	f.mountAddr, f.nfsAddr = mountAddr, nfsAddr
	root, err := mnt(ctx, mountAddr, export, short, &f.stats)
	if err != nil {
		return fail(err)
	}
	f.root = root
	f.nfs = newRPCClient(nfsAddr, progNFS, 3, o.rpc, &f.stats)
	// FSINFO gives the transfer sizes; it is also the first NFS call.
	stop := context.AfterFunc(ctx, f.nfs.close) // a context done mid-call ends the (hard) call
	d, st, err := f.call(procFsinfo, func(e *encoder) { e.opaque(root) })
	stop()
	if err == nil && st == 0 {
		d.postOpAttr()
		rtmax, _, _, wtmax := d.u32(), d.u32(), d.u32(), d.u32()
		d.u32() // wtpref
		d.u32() // wtmult
		d.u32() // dtpref
		d.u64() // maxfilesize
		delta := d.time()
		if d.err == nil {
			f.rsize = clampSize(rtmax, f.rsize)
			f.wsize = clampSize(wtmax, f.wsize)
			f.timeDelta = max(time.Duration(delta.sec)*time.Second+time.Duration(delta.nsec), time.Nanosecond)
		}
	}
	if err == nil && st != 0 {
		err = st.errno()
	}
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		f.nfs.close()
		return fail(fmt.Errorf("FSINFO: %w", err))
	}
	return f, nil
}

func clampSize(v, def uint32) uint32 {
	if v == 0 || v > def {
		return def
	}
	return max(v, 512)
}

// parseTarget splits "host:/export" or "host:port:/export".
func parseTarget(target string) (host, port, export string, err error) {
	i := strings.Index(target, ":/")
	if i <= 0 {
		return "", "", "", fmt.Errorf("nfs3: target %q: want host:/export or host:port:/export", target)
	}
	hp, export := target[:i], target[i+1:]
	if h, p, err := net.SplitHostPort(hp); err == nil {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 {
			return "", "", "", fmt.Errorf("nfs3: target %q: bad port %q", target, p)
		}
		return h, p, export, nil
	}
	return strings.Trim(hp, "[]"), "", export, nil
}

func getport(ctx context.Context, addr string, prog, vers uint32, cfg rpcConfig, st *counters) (uint32, error) {
	c := newRPCClient(addr, progPortmap, 2, cfg, st)
	defer c.close()
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	var e encoder
	e.u32(prog)
	e.u32(vers)
	e.u32(6) // TCP
	e.u32(0)
	res, err := c.call(pmapGetport, e.b)
	if err != nil {
		return 0, ctxErr(ctx, err)
	}
	d := decoder{b: res}
	p := d.u32()
	if d.err != nil {
		return 0, d.err
	}
	if p == 0 || p > 65535 {
		return 0, errors.New("not registered")
	}
	return p, nil
}

func mnt(ctx context.Context, addr, export string, cfg rpcConfig, st *counters) ([]byte, error) {
	c := newRPCClient(addr, progMount, 3, cfg, st)
	defer c.close()
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	var e encoder
	e.string(export)
	st.mountCalls.Add(1)
	res, err := c.call(mountMnt, e.b)
	if err != nil {
		return nil, fmt.Errorf("MNT %s: %w", export, ctxErr(ctx, err))
	}
	d := decoder{b: res}
	if s := d.u32(); s != 0 {
		return nil, fmt.Errorf("MNT %s: %w", export, nfsStatus(s).errno())
	}
	fh := d.fh()
	if d.err != nil || len(fh) == 0 {
		return nil, fmt.Errorf("MNT %s: %w", export, errShort)
	}
	return slices.Clone(fh), nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// Close stops the client: calls in progress fail, later calls fail.
func (f *FS) Close() error {
	f.nfs.close()
	return nil
}

// Addrs returns the addresses (host:port) of the server's MOUNT and NFS
// services that Dial found.
func (f *FS) Addrs() (mount, nfs string) { return f.mountAddr, f.nfsAddr }

// String returns the target.
func (f *FS) String() string { return "nfs3 " + f.target }

// FSType implements fsops.Typer: "nfs", as Linux names an NFSv3 mount.
func (f *FS) FSType(string) (string, error) { return "nfs", nil }

// Stats are the client's counters since Dial.
type Stats struct {
	Calls       map[string]uint64 // NFS calls made, by procedure (retransmissions not counted)
	MountCalls  uint64            // MOUNT calls
	Retransmits uint64            // calls sent again, with the same XID
	Timeouts    uint64            // soft calls given up with ETIMEDOUT
	Reconnects  uint64            // connections made after the first
	LateReplies uint64            // replies for which no call was waiting (a retransmission answered twice, or one given up)
	Jukebox     uint64            // NFS3ERR_JUKEBOX answers, retried after a pause
}

// Stats returns the counters.
func (f *FS) Stats() Stats {
	s := Stats{
		Calls:       make(map[string]uint64),
		MountCalls:  f.stats.mountCalls.Load(),
		Retransmits: f.stats.retransmits.Load(),
		Timeouts:    f.stats.timeouts.Load(),
		Reconnects:  f.stats.reconnects.Load(),
		LateReplies: f.stats.lateReplies.Load(),
		Jukebox:     f.stats.jukebox.Load(),
	}
	for i := range f.stats.calls {
		if n := f.stats.calls[i].Load(); n > 0 {
			s.Calls[procNames[i]] = n
		}
	}
	return s
}

// call makes an NFS call and returns a decoder positioned after the
// status. A JUKEBOX answer (the server is busy) is retried after a pause,
// as Linux does.
func (f *FS) call(proc uint32, args func(*encoder)) (*decoder, nfsStatus, error) {
	var e encoder
	args(&e)
	for {
		f.stats.calls[proc].Add(1)
		res, err := f.nfs.call(proc, e.b)
		if err != nil {
			return nil, 0, err
		}
		d := &decoder{b: res}
		st := nfsStatus(d.u32())
		if d.err != nil {
			return nil, 0, d.err
		}
		if st != nfs3ErrJukebox {
			return d, st, nil
		}
		f.stats.jukebox.Add(1)
		select {
		case <-time.After(500 * time.Millisecond):
		case <-f.nfs.closing:
			return nil, 0, errClosed
		}
	}
}

// status turns a transport error or an NFS status into an errno-like
// error, nil for NFS3_OK.
func status(st nfsStatus, err error) error {
	if err != nil {
		return err
	}
	if st != 0 {
		return st.errno()
	}
	return nil
}

// getattr returns the attributes of fh, from the cache unless fresh is set
// or they are stale.
func (f *FS) getattr(fh []byte, fresh bool) (fattr, error) {
	if !fresh {
		if a, ok := f.cache.fresh(fh); ok {
			return a, nil
		}
	}
	d, st, err := f.call(procGetattr, func(e *encoder) { e.opaque(fh) })
	if err := status(st, err); err != nil {
		if errors.Is(err, syscall.ESTALE) {
			f.cache.forget(fh)
		}
		return fattr{}, err
	}
	a := d.fattr()
	if d.err != nil {
		return fattr{}, d.err
	}
	f.cache.update(fh, &a, nil)
	return a, nil
}

// lookup returns the handle of name in dir and its attributes (perhaps
// cached). force skips the name cache.
func (f *FS) lookup(dir []byte, name string, force bool) ([]byte, fattr, error) {
	if name == "." {
		a, err := f.getattr(dir, false)
		return dir, a, err
	}
	if !force && f.cache.cfg.lookups {
		ver, ok := f.cache.version(dir)
		if !ok {
			if _, err := f.getattr(dir, true); err == nil {
				ver, ok = f.cache.version(dir)
			}
		}
		if ok {
			if de, ok := f.cache.name(dir, name, ver); ok {
				if de.fh == nil {
					return nil, fattr{}, syscall.ENOENT
				}
				a, err := f.getattr(de.fh, false)
				if err == nil {
					return de.fh, a, nil
				}
				if !errors.Is(err, syscall.ESTALE) {
					return nil, fattr{}, err
				}
				f.cache.dropName(dir, name) // gone: look it up again
			}
		}
	}
	d, st, err := f.call(procLookup, func(e *encoder) { e.diropargs(dir, name) })
	if err != nil {
		return nil, fattr{}, err
	}
	if st != 0 {
		da := d.postOpAttr()
		f.cache.update(dir, da, nil)
		if st.errno() == syscall.ENOENT {
			f.cache.setName(dir, name, nil)
		}
		return nil, fattr{}, st.errno()
	}
	fh := slices.Clone(d.fh())
	oa := d.postOpAttr()
	da := d.postOpAttr()
	if d.err != nil {
		return nil, fattr{}, d.err
	}
	f.cache.update(dir, da, nil)
	f.cache.update(fh, oa, nil)
	f.cache.setName(dir, name, fh)
	var a fattr
	if oa != nil {
		a = *oa
	} else if a, err = f.getattr(fh, true); err != nil {
		return nil, fattr{}, err
	}
	return fh, a, nil
}

func (f *FS) readlink(fh []byte) (string, error) {
	d, st, err := f.call(procReadlink, func(e *encoder) { e.opaque(fh) })
	if err := status(st, err); err != nil {
		return "", err
	}
	f.cache.update(fh, d.postOpAttr(), nil)
	s := d.string(maxName)
	return s, d.err
}

// walk resolves name from the root of the export, following symbolic
// links in directory components, and in the last one if followLast.
// Absolute link targets are resolved from the export's root.
func (f *FS) walk(name string, followLast bool) ([]byte, fattr, error) {
	var stack []string // components still to resolve, last first
	push := func(p string) {
		parts := strings.Split(p, "/")
		for i := len(parts) - 1; i >= 0; i-- {
			if parts[i] != "" && parts[i] != "." {
				stack = append(stack, parts[i])
			}
		}
	}
	push(name)
	cur := f.root
	curA, err := f.getattr(cur, false)
	if err != nil {
		return nil, fattr{}, err
	}
	var dirs [][]byte // the directories above cur, for ".."
	links := 0
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if curA.typ != nf3Dir {
			return nil, fattr{}, syscall.ENOTDIR
		}
		if c == ".." {
			if len(dirs) > 0 {
				cur = dirs[len(dirs)-1]
				dirs = dirs[:len(dirs)-1]
			}
			if curA, err = f.getattr(cur, false); err != nil {
				return nil, fattr{}, err
			}
			continue
		}
		fh, a, err := f.lookup(cur, c, false)
		if err != nil {
			return nil, fattr{}, err
		}
		if a.typ == nf3Lnk && (len(stack) > 0 || followLast) {
			if links++; links > 40 {
				return nil, fattr{}, syscall.ELOOP
			}
			target, err := f.readlink(fh)
			if err != nil {
				return nil, fattr{}, err
			}
			if strings.HasPrefix(target, "/") {
				cur, dirs = f.root, nil
				if curA, err = f.getattr(cur, false); err != nil {
					return nil, fattr{}, err
				}
			}
			push(target)
			continue
		}
		dirs = append(dirs, cur)
		cur, curA = fh, a
	}
	return cur, curA, nil
}

// parent resolves the directory of name and returns its handle and the
// last element of name.
func (f *FS) parent(name string) ([]byte, string, error) {
	dir, base := path.Split(strings.TrimRight(name, "/"))
	if base == "" || base == "." || base == ".." {
		return nil, "", syscall.EINVAL
	}
	fh, a, err := f.walk(dir, true)
	if err != nil {
		return nil, "", err
	}
	if a.typ != nf3Dir {
		return nil, "", syscall.ENOTDIR
	}
	return fh, base, nil
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// createExclPath is one attempt of the fsops.FS method.
func (f *FS) createExclPath(name string, data []byte, perm fs.FileMode) (fsops.FileInfo, error) {
	dir, base, err := f.parent(name)
	if err != nil {
		return fsops.FileInfo{}, pathErr("open", name, err)
	}
	return f.createExcl(dir, base, name, data, perm, true)
}

// createExcl creates base in dir as Linux does for O_CREAT|O_EXCL: CREATE
// EXCLUSIVE with a verifier (a retransmission the server executed already
// finds its own verifier and succeeds), then SETATTR of the mode and of
// the times to the server's clock (the verifier was stored in them); a
// server without EXCLUSIVE gets GUARDED. Then the data, FILE_SYNC. With
// attrs, it returns the last attributes the server's replies carried (a
// GETATTR only if none did). On an error after the creation the file is
// removed.
func (f *FS) createExcl(dir []byte, base, shown string, data []byte, perm fs.FileMode, attrs bool) (fsops.FileInfo, error) {
	var verf [8]byte
	_, _ = rand.Read(verf[:])
	exclusive := true
	var d *decoder
	var st nfsStatus
	var err error
	for {
		d, st, err = f.call(procCreate, func(e *encoder) {
			e.diropargs(dir, base)
			if exclusive {
				e.u32(createExclusive)
				e.fixed(verf[:])
			} else {
				e.u32(createGuarded)
				e.sattr(sattr{mode: modePtr(perm)})
			}
		})
		if err == nil && st == nfs3ErrNotSupp && exclusive {
			exclusive = false
			continue
		}
		break
	}
	if err != nil {
		f.cache.dropName(dir, base)
		return fsops.FileInfo{}, pathErr("open", shown, err)
	}
	if st != 0 {
		w := d.wcc()
		f.cache.update(dir, w.post, nil)
		f.cache.dropName(dir, base)
		return fsops.FileInfo{}, pathErr("open", shown, st.errno())
	}
	fh := slices.Clone(d.postOpFH())
	oa := d.postOpAttr()
	w := d.wcc()
	if d.err != nil {
		return fsops.FileInfo{}, pathErr("open", shown, d.err)
	}
	f.cache.update(dir, w.post, &w)
	if fh == nil {
		f.cache.dropName(dir, base)
		if fh, _, err = f.lookup(dir, base, true); err != nil {
			return fsops.FileInfo{}, pathErr("open", shown, err)
		}
	} else {
		f.cache.update(fh, oa, nil)
		f.cache.setName(dir, base, fh)
	}
	op := "open"
	if exclusive {
		err = f.setattr(fh, sattr{mode: modePtr(perm), atime: timeServer, mtime: timeServer})
	}
	if err == nil {
		op, err = "write", f.write(fh, data)
	}
	var a fattr
	if err == nil && attrs {
		// The replies above refreshed the cache, unless they carried no
		// attributes.
		op = "stat"
		a, err = f.getattr(fh, false)
	}
	if err != nil {
		_, _, _ = f.call(procRemove, func(e *encoder) { e.diropargs(dir, base) })
		f.cache.forget(dir)
		f.cache.dropName(dir, base)
		return fsops.FileInfo{}, pathErr(op, shown, err)
	}
	return a.info(), nil
}

func (f *FS) setattr(fh []byte, s sattr) error {
	_, err := f.setattrAttrs(fh, s)
	return err
}

// chtimes sets the client's times on fh and checks, in the attributes the
// server returns, that they were set: ganesha answers NFS3_OK to a SETATTR
// of a symbolic link's times and leaves them unchanged. Such a success is
// reported as ENOTSUP.
func (f *FS) chtimes(fh []byte, atime, mtime time.Time) error {
	mt := toNFSTime(mtime)
	post, err := f.setattrAttrs(fh, sattr{atime: timeClient, at: toNFSTime(atime), mtime: timeClient, mt: mt})
	if err != nil || post == nil {
		return err
	}
	if d := post.mtime.time().Sub(mt.time()); d < -f.timeDelta || d > f.timeDelta {
		return syscall.ENOTSUP
	}
	return nil
}

// setattrAttrs is setattr returning the attributes after the call.
func (f *FS) setattrAttrs(fh []byte, s sattr) (*fattr, error) {
	d, st, err := f.call(procSetattr, func(e *encoder) {
		e.opaque(fh)
		e.sattr(s)
		e.bool(false) // no guard
	})
	if err != nil {
		return nil, err
	}
	w := d.wcc()
	if st != 0 {
		f.cache.forget(fh)
		return nil, st.errno()
	}
	f.cache.update(fh, w.post, &w)
	return w.post, nil
}

// write writes data at offset 0, FILE_SYNC, in pieces of the server's
// preferred size.
func (f *FS) write(fh []byte, data []byte) error {
	for off := 0; off < len(data); {
		n := min(len(data)-off, int(f.wsize))
		d, st, err := f.call(procWrite, func(e *encoder) {
			e.opaque(fh)
			e.u64(uint64(off))
			e.u32(uint32(n))
			e.u32(stableFileSync)
			e.opaque(data[off : off+n])
		})
		if err != nil {
			return err
		}
		w := d.wcc()
		if st != 0 {
			return st.errno()
		}
		count := d.u32()
		if d.err != nil {
			return d.err
		}
		f.cache.update(fh, w.post, &w)
		if count == 0 || int(count) > n {
			return syscall.EIO
		}
		off += int(count)
	}
	return nil
}

// linkPath is one attempt of the fsops.FS method.
func (f *FS) linkPath(oldname, newname string) error {
	lerr := func(err error) error { return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err} }
	fh, a, err := f.walk(oldname, false)
	if err != nil {
		return lerr(err)
	}
	if a.typ == nf3Dir {
		return lerr(syscall.EPERM) // as link(2) answers for a directory, without asking the server
	}
	dir, base, err := f.parent(newname)
	if err != nil {
		return lerr(err)
	}
	d, st, err := f.call(procLink, func(e *encoder) {
		e.opaque(fh)
		e.diropargs(dir, base)
	})
	if err != nil {
		f.cache.dropName(dir, base)
		return lerr(err)
	}
	fa := d.postOpAttr()
	w := d.wcc()
	f.cache.update(fh, fa, nil)
	if st != 0 {
		f.cache.update(dir, w.post, nil)
		f.cache.dropName(dir, base)
		return lerr(st.errno())
	}
	f.cache.update(dir, w.post, &w)
	f.cache.setName(dir, base, fh)
	return nil
}

// renamePath is one attempt of the fsops.FS method.
func (f *FS) renamePath(oldname, newname string) error {
	lerr := func(err error) error { return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err} }
	odir, obase, err := f.parent(oldname)
	if err != nil {
		return lerr(err)
	}
	ndir, nbase, err := f.parent(newname)
	if err != nil {
		return lerr(err)
	}
	d, st, err := f.call(procRename, func(e *encoder) {
		e.diropargs(odir, obase)
		e.diropargs(ndir, nbase)
	})
	f.cache.dropName(odir, obase)
	f.cache.dropName(ndir, nbase)
	if err != nil {
		return lerr(err)
	}
	fw, tw := d.wcc(), d.wcc()
	if st != 0 {
		f.cache.update(odir, fw.post, nil)
		f.cache.update(ndir, tw.post, nil)
		return lerr(st.errno())
	}
	f.cache.update(odir, fw.post, &fw)
	if string(ndir) != string(odir) {
		f.cache.update(ndir, tw.post, &tw)
	}
	if string(odir) != string(ndir) || obase != nbase {
		f.cache.setName(odir, obase, nil)
	}
	return nil
}

// lstatPath is one attempt of the fsops.FS method. The attributes may come from the cache.
func (f *FS) lstatPath(name string) (fsops.FileInfo, error) {
	_, a, err := f.walk(name, false)
	if err != nil {
		return fsops.FileInfo{}, pathErr("lstat", name, err)
	}
	return a.info(), nil
}

// readFilePath is one attempt of the fsops.FS method: a LOOKUP (perhaps cached), a GETATTR
// (close-to-open) and READs.
func (f *FS) readFilePath(name string, limit int) ([]byte, fsops.FileInfo, error) {
	dir, base, err := f.parent(name)
	if err != nil {
		return nil, fsops.FileInfo{}, pathErr("open", name, err)
	}
	return f.readFile(dir, base, name, limit)
}

// open looks base up in dir and returns fresh attributes, as open(2)
// does with close-to-open consistency; a cached name whose file is gone
// (ESTALE) is looked up again.
func (f *FS) open(dir []byte, base string) ([]byte, fattr, error) {
	for force := false; ; force = true {
		fh, a, err := f.lookup(dir, base, force)
		if err != nil {
			return nil, fattr{}, err
		}
		if !f.cto {
			return fh, a, nil
		}
		a, err = f.getattr(fh, true)
		if errors.Is(err, syscall.ESTALE) && !force {
			f.cache.dropName(dir, base)
			continue
		}
		return fh, a, err
	}
}

func (f *FS) readFile(dir []byte, base, shown string, limit int) ([]byte, fsops.FileInfo, error) {
	fh, a, err := f.open(dir, base)
	if err != nil {
		return nil, fsops.FileInfo{}, pathErr("open", shown, err)
	}
	switch a.typ {
	case nf3Reg:
	case nf3Lnk:
		return nil, fsops.FileInfo{}, pathErr("open", shown, syscall.ELOOP)
	default:
		return nil, a.info(), pathErr("read", shown, fsops.ErrNotRegular)
	}
	limit = max(limit, 0)
	want := limit + 1 // one more byte tells a file over the limit
	var data []byte
	for len(data) < want {
		n := min(want-len(data), int(f.rsize))
		d, st, err := f.call(procRead, func(e *encoder) {
			e.opaque(fh)
			e.u64(uint64(len(data)))
			e.u32(uint32(n))
		})
		if err != nil {
			return nil, a.info(), pathErr("read", shown, err)
		}
		pa := d.postOpAttr()
		if st != 0 {
			return nil, a.info(), pathErr("read", shown, st.errno())
		}
		d.u32() // count
		eof := d.bool()
		chunk := d.opaque(n)
		if d.err != nil {
			return nil, a.info(), pathErr("read", shown, d.err)
		}
		if pa != nil {
			a = *pa
			f.cache.update(fh, pa, nil)
		}
		data = append(data, chunk...)
		if eof || len(chunk) == 0 {
			break
		}
	}
	if len(data) > limit {
		return data[:limit], a.info(), pathErr("read", shown, fsops.ErrTooLarge)
	}
	return data, a.info(), nil
}

// chtimesPath is one attempt of the fsops.FS method: SETATTR with the client's times.
func (f *FS) chtimesPath(name string, atime, mtime time.Time) error {
	fh, _, err := f.walk(name, false)
	if err == nil {
		err = f.chtimes(fh, atime, mtime)
	}
	if err != nil {
		return pathErr("chtimes", name, err)
	}
	return nil
}

// touchPath is one attempt of Touch, which sets the access and modification times of name to the server's
// clock (SETATTR SET_TO_SERVER_TIME, what utimes(name, NULL) sends on a
// Linux client), without following a symbolic link.
func (f *FS) touchPath(name string) error {
	fh, _, err := f.walk(name, false)
	if err == nil {
		err = f.setattr(fh, sattr{atime: timeServer, mtime: timeServer})
	}
	if err != nil {
		return pathErr("chtimes", name, err)
	}
	return nil
}

// removePath is one attempt of the fsops.FS method. Like unlink(2) on a Linux client it refuses
// a directory before asking the server.
func (f *FS) removePath(name string) error {
	dir, base, err := f.parent(name)
	if err != nil {
		return pathErr("remove", name, err)
	}
	return f.remove(dir, base, name)
}

func (f *FS) remove(dir []byte, base, shown string) error {
	_, a, err := f.lookup(dir, base, false)
	if err != nil {
		return pathErr("remove", shown, err)
	}
	if a.typ == nf3Dir {
		return pathErr("remove", shown, syscall.EISDIR)
	}
	d, st, err := f.call(procRemove, func(e *encoder) { e.diropargs(dir, base) })
	if err != nil {
		f.cache.dropName(dir, base)
		return pathErr("remove", shown, err)
	}
	w := d.wcc()
	if st != 0 {
		f.cache.update(dir, w.post, nil)
		f.cache.dropName(dir, base)
		return pathErr("remove", shown, st.errno())
	}
	f.cache.update(dir, w.post, &w)
	f.cache.setName(dir, base, nil)
	return nil
}

// readDirPath is one attempt of the fsops.FS method.
func (f *FS) readDirPath(dir string) ([]string, error) {
	fh, a, err := f.walk(dir, true)
	if err == nil && a.typ != nf3Dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, pathErr("open", dir, err)
	}
	names, err := f.readdir(fh)
	if err != nil {
		return nil, pathErr("readdirent", dir, err)
	}
	return names, nil
}

func (f *FS) readdir(fh []byte) ([]string, error) {
	var names []string
	var cookie uint64
	var verf []byte = make([]byte, 8)
	for {
		d, st, err := f.call(procReaddir, func(e *encoder) {
			e.opaque(fh)
			e.u64(cookie)
			e.fixed(verf)
			e.u32(f.rsize)
		})
		if err != nil {
			return nil, err
		}
		pa := d.postOpAttr()
		if st != 0 {
			return nil, st.errno()
		}
		f.cache.update(fh, pa, nil)
		verf = slices.Clone(d.fixed(8))
		n := 0
		for d.bool() {
			d.u64() // fileid
			name := d.string(maxName)
			cookie = d.u64()
			if name != "." && name != ".." {
				names = append(names, name)
			}
			n++
		}
		eof := d.bool()
		if d.err != nil {
			return nil, d.err
		}
		if eof {
			break
		}
		if n == 0 {
			return nil, syscall.EIO // no progress: a broken server
		}
	}
	slices.Sort(names)
	return names, nil
}

// mkdirPath is one attempt of the fsops.FS method.
func (f *FS) mkdirPath(name string, perm fs.FileMode) error {
	dir, base, err := f.parent(name)
	if err != nil {
		return pathErr("mkdir", name, err)
	}
	d, st, err := f.call(procMkdir, func(e *encoder) {
		e.diropargs(dir, base)
		e.sattr(sattr{mode: modePtr(perm)})
	})
	f.cache.dropName(dir, base)
	if err != nil {
		return pathErr("mkdir", name, err)
	}
	if st != 0 {
		w := d.wcc()
		f.cache.update(dir, w.post, nil)
		return pathErr("mkdir", name, st.errno())
	}
	fh := slices.Clone(d.postOpFH())
	oa := d.postOpAttr()
	w := d.wcc()
	if d.err == nil {
		f.cache.update(dir, w.post, &w)
		if fh != nil {
			f.cache.update(fh, oa, nil)
			f.cache.setName(dir, base, fh)
		}
	}
	return nil
}

// rmdirPath is one attempt of the fsops.FS method.
func (f *FS) rmdirPath(name string) error {
	dir, base, err := f.parent(name)
	if err != nil {
		return pathErr("rmdir", name, err)
	}
	d, st, err := f.call(procRmdir, func(e *encoder) { e.diropargs(dir, base) })
	f.cache.dropName(dir, base)
	if err != nil {
		return pathErr("rmdir", name, err)
	}
	w := d.wcc()
	if st != 0 {
		f.cache.update(dir, w.post, nil)
		return pathErr("rmdir", name, st.errno())
	}
	f.cache.update(dir, w.post, &w)
	f.cache.setName(dir, base, nil)
	return nil
}

// openDirPath is one attempt of the fsops.FS method: the Dir holds the directory's NFS file
// handle, which names that directory and no other, whatever its name
// later; once it is removed the server answers NFS3ERR_STALE (ESTALE).
func (f *FS) openDirPath(name string) (fsops.Dir, error) {
	dir, base, err := f.parent(name)
	var fh []byte
	var a fattr
	if err == nil {
		fh, a, err = f.open(dir, base)
	} else if errors.Is(err, syscall.EINVAL) && strings.Trim(name, "/") == "" {
		fh, err = f.root, nil // the export's root
		a, err = f.getattr(fh, true)
	}
	if err == nil {
		switch a.typ {
		case nf3Dir:
		case nf3Lnk:
			err = syscall.ELOOP
		default:
			err = syscall.ENOTDIR
		}
	}
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &dirHandle{f: f, fh: fh, path: name}, nil
}
