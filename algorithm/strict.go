package algorithm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// Strict is the generation-directory protocol: a lock is a directory at the
// lock path holding one owner record, published whole by rename(2) and
// removed only through a handle bound to the generation it judged, so that
// no break, release or replayed call can remove a newer holder's lock.
// Staleness is judged only by watching the record unchanged for the
// holder's recorded lifetime plus StaleMargin on the waiter's own monotonic
// clock; no wall clocks are compared. It is not compatible with Python
// flufl.lock. See docs/protocol.md for the format and every step.
var Strict Protocol = strictProtocol{}

type strictProtocol struct {
	mutations mutation // deliberate bugs; see mutant.go
}

func (strictProtocol) Name() string { return "strict" }

// ownerName is the owner record's name inside a generation directory.
const ownerName = "owner"

// Infixes of the names of private directories next to the lock:
// ".<base>.stage.<gen>" is a generation being prepared (it becomes the lock
// by rename), ".<base>.gc.<gen>" one being collected.
const (
	stageInfix = ".stage."
	gcInfix    = ".gc."
)

// staleStageAge is how long a staging directory may go untouched (by its
// record's mtime, on our wall clock) before a waiter collects it. A live
// waiter touches its own every lifetime, so a collected stage costs it only
// a new one.
const staleStageAge = 10

// maxCollect bounds the private directories one collection removes.
const maxCollect = 8

func (p strictProtocol) New(fsys fsops.FS, path string, cfg proto.Config) (proto.Lock, error) {
	abs, dir, base, err := checkLockPath(fsys, path, cfg)
	if err != nil {
		return nil, err
	}
	if cfg, err = withDefaults(cfg); err != nil {
		return nil, err
	}
	if n := 1 + len(base) + len(stageInfix) + genLen; n > nameMax {
		return nil, fmt.Errorf("algorithm: lock name %q is too long: its staging directory name would be %d bytes, over the limit of %d: %w",
			base, n, nameMax, syscall.ENAMETOOLONG)
	}
	return &strictLock{
		mutations: p.mutations,
		fs:        fsys,
		cfg:       cfg,
		path:      abs,
		dir:       dir,
		base:      base,
	}, nil
}

// strictLock is the state of one acquisition of a Strict lock.
type strictLock struct {
	mutations mutation
	fs        fsops.FS
	cfg       proto.Config
	path      string // absolute lock path: the generation directory
	dir       string // its parent, with a trailing separator
	base      string

	// Our staging directory, while we have one. Its handle stays bound
	// to it when it is renamed to the lock path: it is then the handle
	// on our generation.
	gen        string
	rec        []byte
	stage      string
	stageDir   fsops.Dir
	stageTouch time.Duration // monotonic time of the last touch of its record
	tried      bool          // a rename of this stage was attempted before
	mine       []string      // every generation we staged (usually one): collect skips them

	held bool
	gdir fsops.Dir // our generation, while held

	w      *strictWait // while waiting: what we watch (wait makes it)
	obsDir fsops.Dir   // handle bound to the generation w.obs is about
	eperm  int         // consecutive EPERM answers with no lock to show for them

	collected bool     // we collected stale private directories once
	litter    []string // stages of ours we could not remove yet
	looked    bool     // the first attempt looked for an unmarked empty directory at the lock path
	noReplace bool     // this attempt's rename was one that never replaces (renameStage); until looked, observe refuses an unmarked empty directory
	again     bool     // observe removed an empty generation after a noReplace rename: Acquire tries once more
}

// strictWait is what a waiter watches: made when first used, dropped with
// the handle it is about, so that a holder keeps none of it.
type strictWait struct {
	lastOwner lastParse[owner] // the owner record observe parsed last
	obs       observation      // what we watch at the lock path
	live      liveHolder       // the holder the last attempt judged, if local and alive
}

// wait returns what we watch while waiting, made on first use.
func (l *strictLock) wait() *strictWait {
	if l.w == nil {
		l.w = new(strictWait)
	}
	return l.w
}

func (l *strictLock) Path() string { return l.path }

// HolderGone implements proto.Lock.
func (l *strictLock) HolderGone() bool { return l.w != nil && l.w.live.gone(l.cfg, l.mut) }

// Acquire implements Lock.Acquire.
func (l *strictLock) Acquire(now proto.Instant) (proto.Attempt, error) {
	if l.held {
		return proto.Attempt{}, fmt.Errorf("algorithm: %s: Acquire called while holding the lock", l.path)
	}
	if l.w != nil {
		l.w.live = liveHolder{}
	}
	if l.stageDir == nil {
		if err := l.prepare(now); err != nil {
			return proto.Attempt{}, err
		}
	} else if now.Mono-l.stageTouch >= l.cfg.Lifetime {
		// Keep a waiting stage fresh so that no one collects it.
		exp := now.Wall.Add(l.cfg.Lifetime)
		if err := l.stageDir.Chtimes(ownerName, exp, exp); err == nil {
			l.stageTouch = now.Mono
		}
	}
	a, err := l.attempt(now)
	if l.again {
		// An empty generation removed from the lock path after a rename
		// that never replaces: rename(2) would have replaced it within
		// this attempt, so try once more now.
		l.again = false
		a, err = l.attempt(now)
		l.again = false
	}
	return a, err
}

// attempt renames our stage onto the lock path and, if something is
// there, looks at it.
func (l *strictLock) attempt(now proto.Instant) (proto.Attempt, error) {
	err := l.renameStage()
	if errors.Is(err, proto.ErrNotLock) { // refuseUnmarkedEmptyDir's
		return proto.Attempt{}, err
	}
	first := !l.tried
	l.tried = true
	if l.mut(mStrictTrustRename) && err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EPERM) {
		return l.won(), nil
	}
	switch {
	case err == nil:
		return l.won(), nil
	case errors.Is(err, fs.ErrExist), errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.EPERM):
		// Held (or sshfs's EPERM, which may also mean no permission):
		// look at what is there.
		return l.observe(now, err)
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EISDIR):
		return proto.Attempt{}, notLock(l.fs, l.path, "strict")
	case errors.Is(err, fs.ErrNotExist), proto.Transient(err):
		// The rename may have been applied with its reply lost, or
		// replayed; or our stage was collected; or the directory is
		// gone. Find out from the namespace.
		return l.ambiguous(now, err, first)
	default:
		return proto.Attempt{}, fmt.Errorf("algorithm: renaming staging directory to lock %s: %w", l.path, err)
	}
}

// prepare makes a new staging directory holding our owner record.
func (l *strictLock) prepare(now proto.Instant) error {
	l.cleanLitter()
	random := make([]byte, genLen/2)
	if _, err := io.ReadFull(l.cfg.Rand, random); err != nil {
		return fmt.Errorf("algorithm: reading randomness for the generation id: %w", err)
	}
	gen := hex.EncodeToString(random)
	rec := owner{Gen: gen, Host: proto.RecordedHost(l.cfg.Hostname), Pid: l.cfg.Pid, Lifetime: l.cfg.Lifetime}
	if l.cfg.Procs != nil {
		rec = rec.withProc(l.cfg.Procs.Self())
	}
	stage := l.dir + "." + l.base + stageInfix + gen
	merr := l.fs.Mkdir(stage, stageMode(l.cfg.Perm))
	if merr != nil && !errors.Is(merr, fs.ErrExist) && !errors.Is(merr, syscall.EPERM) {
		// (EEXIST, or sshfs's EPERM: the name is unique to us, so it is
		// our own mkdir replayed; checked below.)
		if errors.Is(merr, fs.ErrNotExist) {
			return fmt.Errorf("algorithm: lock %s: the directory %s does not exist: %w", l.path, l.dir, merr)
		}
		if proto.Transient(merr) {
			// The mkdir may have been applied with its reply lost.
			l.removeStage(stage)
		}
		return fmt.Errorf("algorithm: creating staging directory for lock %s: %w", l.path, merr)
	}
	d, err := l.fs.OpenDir(stage)
	switch {
	case err != nil && merr == nil:
		l.removeStage(stage)
		return fmt.Errorf("algorithm: opening staging directory for lock %s: %w", l.path, err)
	case err != nil && errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("algorithm: creating staging directory for lock %s: %w", l.path, merr)
	case proto.Transient(err):
		// Cannot look now. What our replayed mkdir made is empty, and
		// rmdir removes nothing else.
		l.removeEmptyStage(stage)
		return fmt.Errorf("algorithm: opening staging directory for lock %s: %w", l.path, err)
	case err != nil:
		// Something that is not a directory (a symbolic link, a file)
		// was at our staging name: not ours, left alone.
		return fmt.Errorf("algorithm: staging directory %s for lock %s exists and is not a directory: %w: %w", stage, l.path, fs.ErrExist, err)
	case merr != nil:
		// Our own mkdir replayed leaves an empty directory: one with
		// entries is someone else's, left alone.
		names, err := d.ReadDir()
		if proto.Transient(err) {
			_ = d.Close()
			l.removeEmptyStage(stage)
			return fmt.Errorf("algorithm: listing staging directory for lock %s: %w", l.path, err)
		}
		if err != nil || len(names) > 0 {
			_ = d.Close()
			return fmt.Errorf("algorithm: staging directory %s for lock %s exists and is not ours (entries %q, %v): %w", stage, l.path, names, err, fs.ErrExist)
		}
	}
	l.mine = append(l.mine, gen)
	l.gen, l.rec, l.stage, l.stageDir, l.tried = gen, []byte(rec.String()), stage, d, false
	err = d.CreateExcl(ownerName, l.rec, l.cfg.Perm)
	if err != nil && (errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EPERM)) {
		switch data, _, rerr := d.ReadFile(ownerName, maxRecordLen); {
		case rerr == nil && string(data) == string(l.rec):
			err = nil
		case proto.Transient(rerr):
			err = rerr // cannot tell yet whether it is ours: retry
		}
	}
	if err == nil {
		exp := now.Wall.Add(l.cfg.Lifetime)
		err = d.Chtimes(ownerName, exp, exp)
	}
	if err != nil {
		l.dropStage()
		return fmt.Errorf("algorithm: writing owner record for lock %s: %w", l.path, err)
	}
	l.stageTouch = now.Mono
	return nil
}

// dirPerm is the mode of our directories: the file mode plus search
// permission wherever it grants read, and always write and search
// permission for their owner, who must create and remove the owner record
// in them (a read-only file mode such as 0444 still makes a read-only
// owner record).
func dirPerm(perm fs.FileMode) fs.FileMode {
	return perm | (perm&0o444)>>2 | 0o300
}

// stageMode is the mode a staging directory is made with: dirPerm(perm)
// and, where it changes no one's rights, the sticky bit, genMark. The mark
// tells a generation of ours left empty at the lock path (a release whose
// rmdir failed) from an empty directory someone else made, without any
// clock. The sticky bit lets only a file's owner remove it from the
// directory, so it is set only where no one else may write the directory
// anyway (no group or other write bit); a generation of a group-writable
// mode carries no mark, and if left empty at the lock path it is refused
// like anyone's.
func stageMode(perm fs.FileMode) fs.FileMode {
	m := dirPerm(perm)
	if m&0o022 == 0 {
		m |= genMark
	}
	return m
}

// genMark is the mode bit that marks a directory as a generation of ours.
const genMark = fs.ModeSticky

// won records that our stage is now the lock.
func (l *strictLock) won() proto.Attempt {
	l.held = true
	l.gdir, l.stageDir, l.stage = l.stageDir, nil, ""
	l.closeObs()
	l.eperm = 0
	return proto.Attempt{Acquired: true}
}

// ambiguous sorts out a rename whose outcome is unknown.
func (l *strictLock) ambiguous(now proto.Instant, rerr error, first bool) (proto.Attempt, error) {
	data, _, err := l.fs.ReadFile(l.path+"/"+ownerName, maxRecordLen)
	if err == nil && string(data) == string(l.rec) {
		if first {
			// Our first rename of this stage was applied: the lock
			// became ours after now, so a deadline from now is safe.
			return l.won(), nil
		}
		// An earlier rename of this stage, replayed late, may have
		// made it the lock long ago: too long, maybe, for a deadline
		// counted from now. Give it up, through our handle, and try
		// again with a new stage.
		l.releaseOwn()
		return proto.Attempt{}, nil
	}
	exists, err := l.stageExists()
	if err != nil {
		// Only the check's error is wrapped: it decides whether to retry.
		return proto.Attempt{}, fmt.Errorf("algorithm: renaming staging directory to lock %s: %v; checking the stage: %w", l.path, rerr, err)
	}
	if !exists {
		// Our stage is gone (collected, or it is the lock and someone
		// already broke it): start again with a new one.
		l.dropStage()
		if _, err := l.fs.Lstat(l.dir); errors.Is(err, fs.ErrNotExist) {
			return proto.Attempt{}, fmt.Errorf("algorithm: lock %s: the directory %s does not exist: %w", l.path, l.dir, rerr)
		}
		return proto.Attempt{}, nil
	}
	if proto.Transient(rerr) {
		return proto.Attempt{}, fmt.Errorf("algorithm: renaming staging directory to lock %s: %w", l.path, rerr)
	}
	return proto.Attempt{}, nil
}

// stageExists reports whether our stage is still at its name.
func (l *strictLock) stageExists() (bool, error) {
	data, _, err := l.fs.ReadFile(l.stage+"/"+ownerName, maxRecordLen)
	switch {
	case err == nil:
		return string(data) == string(l.rec), nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, err
}

// releaseOwn removes a generation of ours that we never used from the
// lock path: its record through our handle, then the directory if empty.
func (l *strictLock) releaseOwn() {
	_ = l.removeRetry(l.stageDir, ownerName)
	_ = retry(func() error { return l.fs.Rmdir(l.path) })
	l.dropStage()
}

// dropStage forgets our stage, removing it if it is still there.
func (l *strictLock) dropStage() {
	if l.stageDir == nil {
		return
	}
	_ = l.removeRetry(l.stageDir, ownerName)
	l.removeStage(l.stage)
	_ = l.stageDir.Close()
	l.stageDir, l.stage, l.gen, l.rec = nil, "", "", nil
}

// removeEmptyStage removes the directory at stage if it is empty, which
// is all our own replayed mkdir can have left there; if it cannot be
// removed now, it is tried again later like any stage of ours.
func (l *strictLock) removeEmptyStage(stage string) {
	err := retry(func() error { return l.fs.Rmdir(stage) })
	if err != nil && !errors.Is(err, fs.ErrNotExist) && proto.Transient(err) && !slices.Contains(l.litter, stage) {
		l.litter = append(l.litter, stage)
	}
}

// removeStage removes a stage of ours by its name, which no one else
// uses: if the stage became the lock, or a collector took it, nothing is
// at the name any more. A stage that cannot be removed now (a partition)
// is remembered, tried again at Close, and reported if it is still there.
func (l *strictLock) removeStage(stage string) {
	err := retry(func() error { return l.fs.Remove(stage + "/" + ownerName) })
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		err = retry(func() error { return l.fs.Rmdir(stage) })
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		if !slices.Contains(l.litter, stage) {
			l.litter = append(l.litter, stage)
		}
		return
	}
	l.litter = slices.DeleteFunc(l.litter, func(s string) bool { return s == stage })
}

// observe looks at the lock someone else holds, judges it, and breaks it
// if it is stale. Every look opens the lock path afresh (open revalidates
// cached attributes and names on NFS) and reads the record through that
// handle, so that a break acts on exactly the generation judged. No
// inode number is compared: generations differ by their records'
// random ids, which sshfs's path-derived inode numbers cannot hide.
func (l *strictLock) observe(now proto.Instant, rerr error) (proto.Attempt, error) {
	d, err := l.fs.OpenDir(l.path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		l.closeObs()
		if errors.Is(rerr, syscall.EPERM) {
			// EPERM and no lock: sshfs lost a race with a release, or
			// a real permission problem. Give up after a few in a row.
			if l.eperm++; l.eperm > 3 {
				return proto.Attempt{}, fmt.Errorf("algorithm: renaming staging directory to lock %s: %w", l.path, rerr)
			}
		}
		return proto.Attempt{}, nil // freed meanwhile: try again at once
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EMLINK):
		l.closeObs()
		return proto.Attempt{}, notLock(l.fs, l.path, "strict")
	default:
		l.closeObs()
		return proto.Attempt{}, fmt.Errorf("algorithm: opening lock %s: %w", l.path, err)
	}
	l.eperm = 0
	if l.obsDir != nil {
		_ = l.obsDir.Close()
	}
	l.obsDir = d
	data, ofi, err := l.obsDir.ReadFile(ownerName, maxRecordLen)
	switch {
	case err == nil:
		l.looked = true // a record: not an empty directory
	case errors.Is(err, fs.ErrNotExist):
		a, err := l.abandoned(l.noReplace && !l.looked)
		l.looked = true // abandoned refused an unmarked empty directory if it had to
		l.again = err == nil && a == (proto.Attempt{}) && l.noReplace
		return a, err
	case errors.Is(err, fsops.ErrNotRegular), errors.Is(err, fsops.ErrTooLarge), errors.Is(err, syscall.ELOOP):
		l.closeObs()
		return proto.Attempt{}, fmt.Errorf("algorithm: lock path %s is a directory whose %q is not an owner record: %w", l.path, ownerName, proto.ErrNotLock)
	default:
		l.closeObs()
		return proto.Attempt{}, fmt.Errorf("algorithm: reading lock %s: %w", l.path, err)
	}
	rec, perr := l.wait().lastOwner.parse(data, parseOwner)
	if perr != nil {
		l.closeObs()
		return proto.Attempt{}, fmt.Errorf("algorithm: lock path %s is a directory whose %q is not an owner record (%d bytes): %w",
			l.path, ownerName, len(data), proto.ErrNotLock)
	}
	if rec.Gen == l.gen {
		// Our stage became the lock without our knowing (a replayed
		// rename): give it up and try again. (An older stage of ours
		// that became the lock is judged like any other generation.)
		l.releaseOwn()
		l.closeObs()
		return proto.Attempt{}, nil
	}
	if !l.wait().obs.valid || l.wait().obs.v.content != string(data) {
		// A generation we have not looked at yet. It holds its owner
		// record and nothing else (but NFS or FUSE litter): a
		// directory with any other entry is not one, whatever its
		// "owner" says, and nothing in it is ours to remove. A failed
		// listing leaves the other checks to judge it.
		if names, err := l.obsDir.ReadDir(); err == nil {
			for _, n := range names {
				if n != ownerName && !isLitter(n) {
					l.closeObs()
					return proto.Attempt{}, fmt.Errorf("algorithm: lock path %s is a directory that holds %q, which no lock generation holds: %w", l.path, n, proto.ErrNotLock)
				}
			}
		}
	}
	local, dead := judgeHolder(&l.wait().live, l.cfg, rec.proc(), rec.Pid, rec.Host, l.mut)
	h := &proto.Holder{Protocol: "strict", Claim: rec.Gen, Host: rec.Host, Pid: rec.Pid, Lifetime: rec.Lifetime, Expires: ofi.ModTime, Dead: dead, ThisMachine: local}
	v := versionOf(data, ofi)
	watched := l.wait().obs.see(v, now.Mono, l.mut(mStrictWatchFromFirstSight))
	wait := rec.Lifetime + l.staleMargin() - watched
	if h.Dead {
		// Its process is gone: nothing will refresh this version, so
		// it is stale now. breakStale still checks it is the version
		// judged.
		wait = 0
	}
	if !l.collected {
		l.collectStale(now)
	}
	if wait > 0 {
		return proto.Attempt{Holder: h, StaleIn: wait}, nil
	}
	return l.breakStale(v, h)
}

func (l *strictLock) closeObs() {
	if l.obsDir != nil {
		_ = l.obsDir.Close()
	}
	l.obsDir, l.w = nil, nil
}

// renameStage renames our stage onto the lock path, where it must replace
// nothing but an empty generation of ours. Where the filesystem can rename
// without replacing (fsops.NoReplaceRenamer), anything at the lock path
// fails the rename with EEXIST and is looked at by observe, which, until
// it has seen what is there (looked), refuses an unmarked empty directory,
// as refuseUnmarkedEmptyDir does; the rename itself never
// replaces one. Elsewhere the first attempt looks first, with
// refuseUnmarkedEmptyDir, then renames with rename(2). A filesystem that
// answers unsupported is remembered in Config.Hints.
func (l *strictLock) renameStage() error {
	if r, ok := l.fs.(fsops.NoReplaceRenamer); ok && !l.cfg.Hints.NoReplaceUnsupported(l.dir) {
		err := r.RenameNoReplace(l.stage, l.path)
		if !errors.Is(err, errors.ErrUnsupported) {
			// Until observe has looked at what is at the lock path
			// (looked), every attempt is a first one: a rename that
			// failed otherwise (a transient error) looked at nothing.
			l.noReplace = true
			return err
		}
		l.cfg.Hints.SetNoReplaceUnsupported(l.dir)
	}
	l.noReplace = false
	if !l.looked {
		l.looked = true
		if err := l.refuseUnmarkedEmptyDir(); err != nil {
			return err
		}
	}
	return l.fs.Rename(l.stage, l.path)
}

// refuseUnmarkedEmptyDir returns an error wrapping ErrNotLock if the lock
// path is an empty directory without genMark: rename(2) would replace it,
// and it is not a generation of ours. An empty directory with the mark is
// one (a release or break that stopped between removing the record and
// removing the directory), at any age: the rename replaces it. No clock is
// consulted. It runs once per acquisition, before the first rename;
// anything else at the lock path is left to the rename and the look after
// it.
func (l *strictLock) refuseUnmarkedEmptyDir() error {
	fi, err := l.fs.Lstat(l.path)
	if err != nil || !fi.Mode.IsDir() {
		return nil
	}
	d, err := l.fs.OpenDir(l.path)
	if err != nil {
		return nil
	}
	defer d.Close()
	return l.unmarkedEmpty(d)
}

// unmarkedEmpty returns an error wrapping ErrNotLock if d, open at the
// lock path, is an empty directory without genMark; nil if it is not, or
// if that cannot be told.
func (l *strictLock) unmarkedEmpty(d fsops.Dir) error {
	names, err := d.ReadDir()
	if err != nil || len(names) > 0 {
		return nil
	}
	dfi, err := d.Stat() // fresh on NFS: the open revalidated it
	if err != nil || dfi.Mode&genMark != 0 {
		return nil
	}
	return fmt.Errorf("algorithm: lock path %s is an empty directory that nfslease did not make (no sticky bit): %w; nfslease does not remove it (remove it with rmdir if it should be a lock)",
		l.path, proto.ErrNotLock)
}
