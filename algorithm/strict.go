package algorithm

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
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

func (p strictProtocol) New(fsys fsops.FS, path string, cfg Config) (Lock, error) {
	abs, dir, base, err := checkLockPath(fsys, path, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Perm == 0 {
		cfg.Perm = 0o644
	}
	if cfg.Perm&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("algorithm: file mode %v has bits other than permissions", cfg.Perm)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
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
		mine:      map[string]bool{},
	}, nil
}

// checkLockPath checks what every protocol needs of a lock path and
// returns it absolute, with its directory (with a trailing separator) and
// base name.
func checkLockPath(fsys fsops.FS, path string, cfg Config) (abs, dir, base string, err error) {
	if fsys == nil {
		return "", "", "", errors.New("algorithm: nil fsops.FS")
	}
	if cfg.Lifetime <= 0 {
		return "", "", "", fmt.Errorf("algorithm: lifetime %v must be positive", cfg.Lifetime)
	}
	if path == "" {
		return "", "", "", fmt.Errorf("algorithm: empty lock path: %w", ErrBadPath)
	}
	if strings.ContainsRune(path, 0) {
		return "", "", "", fmt.Errorf("algorithm: lock path %q contains NUL: %w", path, ErrBadPath)
	}
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", "", "", fmt.Errorf("algorithm: lock path %q: %w", path, err)
	}
	dir, base = filepath.Split(abs)
	// filepath.Abs cleans lexically: "x/." would become the lock "x" in
	// the parent directory. A path whose last element is "." or ".."
	// names a directory.
	if last := path[strings.LastIndexByte(path, filepath.Separator)+1:]; last == "." || last == ".." {
		base = ""
	}
	if base == "" || base == "." || base == ".." || strings.HasSuffix(path, string(filepath.Separator)) {
		return "", "", "", fmt.Errorf("algorithm: lock path %q names a directory, not a file: %w", path, ErrBadPath)
	}
	return abs, dir, base, nil
}

// strictLock is the state of one acquisition of a Strict lock.
type strictLock struct {
	mutations mutation
	fs        fsops.FS
	cfg       Config
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
	mine       map[string]bool

	held bool
	gdir fsops.Dir // our generation, while held

	obs    observation // what we watch at the lock path while waiting
	obsDir fsops.Dir   // handle bound to the generation obs is about
	eperm  int         // consecutive EPERM answers with no lock to show for them

	collected bool     // we collected stale private directories once
	litter    []string // stages of ours we could not remove yet
}

func (l *strictLock) Path() string { return l.path }

// Acquire implements Lock.Acquire.
func (l *strictLock) Acquire(now Instant) (Attempt, error) {
	if l.held {
		return Attempt{}, fmt.Errorf("algorithm: %s: Acquire called while holding the lock", l.path)
	}
	if l.stageDir == nil {
		if err := l.prepare(now); err != nil {
			return Attempt{}, err
		}
	} else if now.Mono-l.stageTouch >= l.cfg.Lifetime {
		// Keep a waiting stage fresh so that no one collects it.
		exp := now.Wall.Add(l.cfg.Lifetime)
		if err := l.stageDir.Chtimes(ownerName, exp, exp); err == nil {
			l.stageTouch = now.Mono
		}
	}
	err := l.fs.Rename(l.stage, l.path)
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
		return Attempt{}, fmt.Errorf("algorithm: lock path %s is not a directory (a flufl.lock-format lock, or a file that is not a lock): %w: %w",
			l.path, ErrNotLock, err)
	case errors.Is(err, fs.ErrNotExist), Transient(err):
		// The rename may have been applied with its reply lost, or
		// replayed; or our stage was collected; or the directory is
		// gone. Find out from the namespace.
		return l.ambiguous(now, err, first)
	default:
		return Attempt{}, fmt.Errorf("algorithm: renaming staging directory to lock %s: %w", l.path, err)
	}
}

// prepare makes a new staging directory holding our owner record.
func (l *strictLock) prepare(now Instant) error {
	l.cleanLitter()
	random := make([]byte, genLen/2)
	if _, err := io.ReadFull(l.cfg.Rand, random); err != nil {
		return fmt.Errorf("algorithm: reading randomness for the generation id: %w", err)
	}
	gen := hex.EncodeToString(random)
	rec := owner{Gen: gen, Host: sanitizeHost(l.cfg.Hostname), Pid: l.cfg.Pid, Lifetime: l.cfg.Lifetime}
	stage := l.dir + "." + l.base + stageInfix + gen
	merr := l.fs.Mkdir(stage, dirPerm(l.cfg.Perm))
	if merr != nil && !errors.Is(merr, fs.ErrExist) && !errors.Is(merr, syscall.EPERM) {
		// (EEXIST, or sshfs's EPERM: the name is unique to us, so it is
		// our own mkdir replayed; checked below.)
		if errors.Is(merr, fs.ErrNotExist) {
			return fmt.Errorf("algorithm: lock %s: the directory %s does not exist: %w", l.path, l.dir, merr)
		}
		if Transient(merr) {
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
	case Transient(err):
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
		if Transient(err) {
			_ = d.Close()
			l.removeEmptyStage(stage)
			return fmt.Errorf("algorithm: listing staging directory for lock %s: %w", l.path, err)
		}
		if err != nil || len(names) > 0 {
			_ = d.Close()
			return fmt.Errorf("algorithm: staging directory %s for lock %s exists and is not ours (entries %q, %v): %w", stage, l.path, names, err, fs.ErrExist)
		}
	}
	l.mine[gen] = true
	l.gen, l.rec, l.stage, l.stageDir, l.tried = gen, []byte(rec.String()), stage, d, false
	err = d.CreateExcl(ownerName, l.rec, l.cfg.Perm)
	if err != nil && (errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EPERM)) {
		switch data, _, rerr := d.ReadFile(ownerName, maxRecordLen); {
		case rerr == nil && string(data) == string(l.rec):
			err = nil
		case Transient(rerr):
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

// won records that our stage is now the lock.
func (l *strictLock) won() Attempt {
	l.held = true
	l.gdir, l.stageDir, l.stage = l.stageDir, nil, ""
	l.closeObs()
	l.eperm = 0
	return Attempt{Acquired: true}
}

// ambiguous sorts out a rename whose outcome is unknown.
func (l *strictLock) ambiguous(now Instant, rerr error, first bool) (Attempt, error) {
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
		return Attempt{}, nil
	}
	exists, err := l.stageExists()
	if err != nil {
		// Only the check's error is wrapped: it decides whether to retry.
		return Attempt{}, fmt.Errorf("algorithm: renaming staging directory to lock %s: %v; checking the stage: %w", l.path, rerr, err)
	}
	if !exists {
		// Our stage is gone (collected, or it is the lock and someone
		// already broke it): start again with a new one.
		l.dropStage()
		if _, err := l.fs.Lstat(l.dir); errors.Is(err, fs.ErrNotExist) {
			return Attempt{}, fmt.Errorf("algorithm: lock %s: the directory %s does not exist: %w", l.path, l.dir, rerr)
		}
		return Attempt{}, nil
	}
	if Transient(rerr) {
		return Attempt{}, fmt.Errorf("algorithm: renaming staging directory to lock %s: %w", l.path, rerr)
	}
	return Attempt{}, nil
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
	_ = l.fs.Rmdir(l.path)
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
	if err != nil && !errors.Is(err, fs.ErrNotExist) && Transient(err) && !slices.Contains(l.litter, stage) {
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
func (l *strictLock) observe(now Instant, rerr error) (Attempt, error) {
	d, err := l.fs.OpenDir(l.path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		l.closeObs()
		if errors.Is(rerr, syscall.EPERM) {
			// EPERM and no lock: sshfs lost a race with a release, or
			// a real permission problem. Give up after a few in a row.
			if l.eperm++; l.eperm > 3 {
				return Attempt{}, fmt.Errorf("algorithm: renaming staging directory to lock %s: %w", l.path, rerr)
			}
		}
		return Attempt{}, nil // freed meanwhile: try again at once
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EMLINK):
		l.closeObs()
		kind := "file"
		if fi, lerr := l.fs.Lstat(l.path); lerr == nil {
			kind = describeMode(fi.Mode)
		}
		return Attempt{}, fmt.Errorf("algorithm: lock path %s holds a %s, not a lock directory (a flufl.lock-format lock, or not a lock): %w: %w",
			l.path, kind, ErrNotLock, err)
	default:
		l.closeObs()
		return Attempt{}, fmt.Errorf("algorithm: opening lock %s: %w", l.path, err)
	}
	l.eperm = 0
	if l.obsDir != nil {
		_ = l.obsDir.Close()
	}
	l.obsDir = d
	data, ofi, err := l.obsDir.ReadFile(ownerName, maxRecordLen)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		return l.abandoned()
	case errors.Is(err, fsops.ErrNotRegular), errors.Is(err, fsops.ErrTooLarge), errors.Is(err, syscall.ELOOP):
		l.closeObs()
		return Attempt{}, fmt.Errorf("algorithm: lock path %s is a directory whose %q is not an owner record: %w", l.path, ownerName, ErrNotLock)
	default:
		l.closeObs()
		return Attempt{}, fmt.Errorf("algorithm: reading lock %s: %w", l.path, err)
	}
	rec, perr := parseOwner(data)
	if perr != nil {
		l.closeObs()
		return Attempt{}, fmt.Errorf("algorithm: lock path %s is a directory whose %q is not an owner record (%d bytes): %w",
			l.path, ownerName, len(data), ErrNotLock)
	}
	if rec.Gen == l.gen {
		// Our stage became the lock without our knowing (a replayed
		// rename): give it up and try again. (An older stage of ours
		// that became the lock is judged like any other generation.)
		l.releaseOwn()
		l.closeObs()
		return Attempt{}, nil
	}
	if !l.obs.valid || l.obs.v.content != string(data) {
		// A generation we have not looked at yet. It holds its owner
		// record and nothing else (but NFS or FUSE litter): a
		// directory with any other entry is not one, whatever its
		// "owner" says, and nothing in it is ours to remove. A failed
		// listing leaves the other checks to judge it.
		if names, err := l.obsDir.ReadDir(); err == nil {
			for _, n := range names {
				if n != ownerName && !isLitter(n) {
					l.closeObs()
					return Attempt{}, fmt.Errorf("algorithm: lock path %s is a directory that holds %q, which no lock generation holds: %w", l.path, n, ErrNotLock)
				}
			}
		}
	}
	h := &Holder{Protocol: "strict", Claim: rec.Gen, Host: rec.Host, Pid: rec.Pid, Lifetime: rec.Lifetime, Expires: ofi.ModTime}
	v := versionOf(data, ofi)
	watched := l.obs.see(v, now.Mono, l.mut(mStrictWatchFromFirstSight))
	wait := rec.Lifetime + StaleMargin - watched
	if !l.collected {
		l.collectStale(now)
	}
	if wait > 0 {
		return Attempt{Holder: h, StaleIn: wait}, nil
	}
	return l.breakStale(v, h)
}

// abandoned handles a lock directory without an owner record: a
// generation whose releaser or breaker stopped between removing the record
// and removing the directory. rmdir removes it only if it is empty, and so
// never a live generation.
func (l *strictLock) abandoned() (Attempt, error) {
	err := l.fs.Rmdir(l.path)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		l.closeObs()
		return Attempt{}, nil
	}
	if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.EPERM) {
		l.closeObs()
		return Attempt{}, fmt.Errorf("algorithm: removing abandoned lock %s: %w", l.path, err)
	}
	// Not empty: a newer generation took the name (retry), or litter
	// in the old one, or a directory that is not a lock.
	names, derr := l.obsDir.ReadDir()
	d := l.obsDir
	l.obsDir = nil
	defer d.Close()
	l.closeObs()
	if derr != nil || len(names) == 0 {
		return Attempt{}, nil
	}
	for _, n := range names {
		if n == ownerName {
			return Attempt{}, nil // a record appeared: look again
		}
		if !isLitter(n) {
			return Attempt{}, fmt.Errorf("algorithm: lock path %s is a directory with no owner record that holds %q: %w", l.path, n, ErrNotLock)
		}
	}
	// Only NFS or FUSE litter (files still open somewhere when they were
	// removed): remove it through the handle on this generation, which
	// nothing newer can be reached by.
	for _, n := range names {
		_ = d.Remove(n)
	}
	return Attempt{}, nil
}

// isLitter reports whether a name inside a generation directory is a file
// that NFS (silly rename) or FUSE (hidden rename) made of a removed file.
func isLitter(name string) bool {
	return strings.HasPrefix(name, ".nfs") || strings.HasPrefix(name, ".fuse_hidden")
}

// breakStale breaks the generation judged stale, whose version is v: its
// record is removed through the handle bound to that generation (so no
// newer generation can be touched, even by a replayed call), then the
// directory by path, which succeeds only if it is empty, and so never
// removes a newer generation either.
func (l *strictLock) breakStale(v version, h *Holder) (Attempt, error) {
	d := l.obsDir
	// A last look, fresh through open: the holder may have refreshed
	// since our judgement.
	data, ofi, err := d.ReadFile(ownerName, maxRecordLen)
	if err != nil {
		l.closeObs()
		if errors.Is(err, fs.ErrNotExist) || Transient(err) {
			return Attempt{}, nil
		}
		return Attempt{}, fmt.Errorf("algorithm: reading lock %s: %w", l.path, err)
	}
	if fresh := versionOf(data, ofi); fresh != v {
		l.obs = observation{}
		return Attempt{Holder: h, StaleIn: h.Lifetime + StaleMargin}, nil
	}
	var rerr error
	if l.mut(mStrictBreakByPath) {
		rerr = l.fs.Remove(l.path + "/" + ownerName)
	} else {
		rerr = l.removeRetry(d, ownerName)
	}
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		l.closeObs()
		return Attempt{}, fmt.Errorf("algorithm: breaking stale lock %s: %w", l.path, rerr)
	}
	// The directory, if empty; a newer generation is never empty.
	_, _ = l.abandoned()
	return Attempt{Broke: true, Holder: h}, nil
}

// collectStale removes, at most maxCollect at a time, private directories
// next to the lock that crashed processes left: stages whose record was
// untouched for staleStageAge of their lifetimes, or that have no record
// and have not changed for staleStageAge of ours. Each is first renamed to
// a name only we use, so that its owner cannot rename it to the lock path
// while we empty it. Ages are judged on our wall clock against times other
// hosts wrote: a wrong judgement costs a live waiter only its stage (its
// rename then fails, and it makes a new one), never a lock.
func (l *strictLock) collectStale(now Instant) {
	l.collected = true
	pd, err := l.fs.OpenDir(l.dir)
	if err != nil {
		return
	}
	names, err := pd.ReadDir()
	_ = pd.Close()
	if err != nil {
		return
	}
	n := 0
	for _, name := range names {
		if n >= maxCollect {
			return
		}
		gen, ok := privateGen(name, l.base)
		if !ok || l.mine[gen] {
			continue
		}
		data, fi, err := l.fs.ReadFile(l.dir+name+"/"+ownerName, maxRecordLen)
		switch {
		case err == nil:
			// A record that does not parse (a waiter killed while
			// writing it leaves it empty or cut short) ages by our
			// lifetime, as a stage with no record does.
			age := staleStageAge * l.cfg.Lifetime
			if rec, err := parseOwner(data); err == nil {
				age = staleStageAge * rec.Lifetime
			}
			if now.Wall.Sub(fi.ModTime) < age {
				continue
			}
		case errors.Is(err, fs.ErrNotExist):
			dfi, err := l.fs.Lstat(l.dir + name)
			if err != nil || !dfi.Mode.IsDir() || now.Wall.Sub(dfi.ModTime) < staleStageAge*l.cfg.Lifetime {
				continue
			}
		default:
			continue
		}
		n++
		l.collect(name)
	}
}

// collect renames the private directory name aside and empties and
// removes it there.
func (l *strictLock) collect(name string) {
	random := make([]byte, genLen/2)
	if _, err := io.ReadFull(l.cfg.Rand, random); err != nil {
		return
	}
	gc := l.dir + "." + l.base + gcInfix + hex.EncodeToString(random)
	if err := l.fs.Rename(l.dir+name, gc); err != nil {
		return
	}
	d, err := l.fs.OpenDir(gc)
	if err != nil {
		return
	}
	if names, err := d.ReadDir(); err == nil {
		for _, n := range names {
			if n == ownerName || isLitter(n) {
				_ = d.Remove(n)
			}
		}
	}
	_ = d.Close()
	_ = l.fs.Rmdir(gc)
}

// privateGen reports whether name is one of the private directories of the
// lock named base, and returns its generation id.
func privateGen(name, base string) (string, bool) {
	prefix := "." + base
	if !strings.HasPrefix(name, prefix) {
		return "", false
	}
	rest := name[len(prefix):]
	for _, infix := range []string{stageInfix, gcInfix} {
		if gen, ok := strings.CutPrefix(rest, infix); ok && len(gen) == genLen {
			if _, err := hex.DecodeString(gen); err == nil && strings.ToLower(gen) == gen {
				return gen, true
			}
		}
	}
	return "", false
}

func (l *strictLock) closeObs() {
	if l.obsDir != nil {
		_ = l.obsDir.Close()
	}
	l.obsDir, l.obs = nil, observation{}
}

// Refresh implements Lock.Refresh.
func (l *strictLock) Refresh(now Instant) error {
	if !l.held {
		return fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, ErrNotHeld)
	}
	exp := now.Wall.Add(l.cfg.Lifetime)
	if err := l.gdir.Chtimes(ownerName, exp, exp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.lose()
			return fmt.Errorf("algorithm: refreshing lock %s: our owner record was removed: %w", l.path, ErrNotHeld)
		}
		return fmt.Errorf("algorithm: refreshing lock %s: %w", l.path, err)
	}
	data, _, err := l.gdir.ReadFile(ownerName, maxRecordLen)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		l.lose()
		return fmt.Errorf("algorithm: lock %s: our owner record was removed: %w", l.path, ErrNotHeld)
	case err != nil:
		return fmt.Errorf("algorithm: checking lock %s: %w", l.path, err)
	case string(data) != string(l.rec):
		l.lose()
		return fmt.Errorf("algorithm: lock %s: our generation holds a foreign record: %w", l.path, ErrNotHeld)
	}
	return nil
}

// lose forgets a lock that is provably no longer ours.
func (l *strictLock) lose() {
	l.held = false
	if l.gdir != nil {
		_ = l.gdir.Close()
		l.gdir = nil
	}
}

// Release implements Lock.Release. Our record goes through the handle on
// our generation, which no one else's generation can be reached by; the
// directory goes by path, but only if empty, which no live generation is.
// A replay of either call is harmless.
func (l *strictLock) Release() error {
	if !l.held {
		return fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, ErrNotHeld)
	}
	var err error
	if l.mut(mStrictReleaseByPath) {
		err = l.fs.Remove(l.path + "/" + ownerName)
	} else {
		err = l.removeRetry(l.gdir, ownerName)
	}
	l.lose()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("algorithm: lock %s was broken before release: %w", l.path, ErrNotHeld)
	case err != nil:
		// Ambiguous: the lock stays until it is judged stale.
		return fmt.Errorf("algorithm: releasing lock %s: %w", l.path, err)
	}
	if err := l.fs.Rmdir(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) &&
		!errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.EPERM) {
		// An empty generation left at the lock path harms no one: the
		// next rename replaces it, and waiters remove it.
		return fmt.Errorf("algorithm: removing released lock directory %s: %w", l.path, err)
	}
	return l.cleanLitter()
}

// Close implements Lock.Close. It removes our stage, through its handle:
// if a lost rename reply made the stage the lock, this frees the lock,
// which no one can have been given meanwhile (it is our generation). A
// held lock is left to be broken when stale.
func (l *strictLock) Close(Instant) error {
	l.closeObs()
	l.dropStage()
	l.lose()
	return l.cleanLitter()
}

// cleanLitter tries again to remove stages of ours that could not be
// removed before, and reports those that remain.
func (l *strictLock) cleanLitter() error {
	for _, stage := range slices.Clone(l.litter) {
		l.removeStage(stage)
	}
	if len(l.litter) > 0 {
		return fmt.Errorf("algorithm: lock %s: could not remove staging directories %q (waiters collect them once they are old)", l.path, l.litter)
	}
	return nil
}

// removeRetry removes an entry of ours through d, trying again a few
// times on a transient error.
func (l *strictLock) removeRetry(d fsops.Dir, name string) error {
	return retry(func() error { return d.Remove(name) })
}

// retry calls fn up to four times while it fails with a transient error,
// so that a passing EIO does not leave a file of ours behind. Only for
// calls whose replay is harmless.
func retry(fn func() error) error {
	var err error
	for range 4 {
		if err = fn(); err == nil || !Transient(err) {
			return err
		}
	}
	return err
}

// describeMode names a file type for messages.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file of mode " + m.String()
}

// ErrUnsupportedFS is wrapped by SelfTest when the filesystem lacks a
// semantic the protocol relies on.
var ErrUnsupportedFS = errors.New("filesystem lacks a semantic the protocol relies on")

// SelfTester is implemented by protocols that rely on filesystem semantics
// beyond what every fsops.FS provides, and can check them. Package lease
// runs SelfTest once per directory before the first acquisition there.
type SelfTester interface {
	SelfTest(fsys fsops.FS, dir string, cfg Config) error
}

// SelfTest checks, in a scratch directory it creates in dir and removes
// again, the semantics Strict relies on: rename(2) of a directory onto a
// non-empty one fails and changes nothing; rmdir(2) of a non-empty
// directory fails; a directory onto an empty one replaces it; and a
// directory handle stays bound to its directory, so that a call through it
// cannot reach a new directory created at the old name. It returns an
// error wrapping ErrUnsupportedFS if one fails, and other errors (no
// permission, no space, EIO) as they come.
// boundHandleFUSE reports whether the FUSE filesystem of type typ is
// known to bind handles to the file rather than resolve a path at each
// call: GlusterFS's FUSE client identifies files by their GFID.
func boundHandleFUSE(typ string) bool { return typ == "fuse.glusterfs" }

func (strictProtocol) SelfTest(fsys fsops.FS, dir string, cfg Config) (err error) {
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	random := make([]byte, 8)
	if _, err := io.ReadFull(cfg.Rand, random); err != nil {
		return fmt.Errorf("algorithm: reading randomness: %w", err)
	}
	scratch := filepath.Join(dir, ".nfslease-selftest."+hex.EncodeToString(random))
	a, b, c := scratch+"/a", scratch+"/b", scratch+"/c"
	unsupported := func(what string, got error) error {
		if got != nil {
			what += " (" + got.Error() + ")"
		}
		return fmt.Errorf("algorithm: the filesystem of %s cannot run the strict protocol: %s: %w; use algorithm.Flufl there",
			dir, what, ErrUnsupportedFS)
	}
	if t, ok := fsys.(fsops.Typer); ok {
		if typ, err := t.FSType(dir); err == nil && strings.HasPrefix(typ, "fuse") && !boundHandleFUSE(typ) {
			return unsupported("it is a FUSE filesystem ("+typ+"), whose directory handles may resolve paths at each call; only GlusterFS's are known to stay bound", nil)
		}
	}
	if err := fsys.Mkdir(scratch, 0o700); err != nil {
		return fmt.Errorf("algorithm: strict protocol self-test in %s: %w", dir, err)
	}
	defer func() {
		// Clean up whatever the steps left, best effort, in any order.
		for _, f := range []string{a + "/x", b + "/x", c + "/x", b + "/y", b + "/z"} {
			_ = fsys.Remove(f)
		}
		for _, d := range []string{a, b, c, scratch} {
			_ = fsys.Rmdir(d)
		}
		if _, lerr := fsys.Lstat(scratch); lerr == nil && err == nil {
			err = fmt.Errorf("algorithm: strict protocol self-test could not remove %s", scratch)
		}
	}()
	step := func(err error) error {
		if err != nil {
			return fmt.Errorf("algorithm: strict protocol self-test in %s: %w", dir, err)
		}
		return nil
	}
	for _, d := range []string{a, b} {
		if err := step(fsys.Mkdir(d, 0o700)); err != nil {
			return err
		}
	}
	if err := step(fsys.CreateExcl(b+"/x", []byte("b"), 0o600)); err != nil {
		return err
	}
	if err := fsys.Rename(a, b); err == nil {
		return unsupported("rename of a directory onto a non-empty one succeeded", err)
	}
	if data, _, err := fsys.ReadFile(b+"/x", 16); err != nil || string(data) != "b" {
		return unsupported("a failed rename of a directory changed its target", err)
	}
	if err := fsys.Rmdir(b); err == nil {
		return unsupported("rmdir of a non-empty directory succeeded", err)
	}
	h, err := fsys.OpenDir(b)
	if errors.Is(err, errors.ErrUnsupported) {
		return unsupported("directory handles are not supported on this platform", err)
	}
	if err := step(err); err != nil {
		return err
	}
	defer h.Close()
	if err := step(h.Remove("x")); err != nil {
		return err
	}
	if err := step(fsys.Rmdir(b)); err != nil {
		return err
	}
	if err := step(fsys.Mkdir(b, 0o700)); err != nil {
		return err
	}
	if err := step(fsys.CreateExcl(b+"/y", []byte("new"), 0o600)); err != nil {
		return err
	}
	if err := h.Remove("y"); err == nil {
		return unsupported("a call through the handle of a removed directory reached the new directory at its name", nil)
	}
	if data, _, err := fsys.ReadFile(b+"/y", 16); err != nil || string(data) != "new" {
		return unsupported("a call through the handle of a removed directory changed the new directory at its name", err)
	}
	// A FUSE filesystem that speaks paths to its server (sshfs, and
	// others on libfuse's high-level API) resolves a handle's path again
	// at each call: a handle of this mount then reaches a directory that
	// another client has put at that name since. Within one mount it
	// cannot be seen (the mount's own renames and removals update its
	// table). Two heuristics catch it: the kind of filesystem, where the
	// FS can tell (fsops.Typer), and inode numbers, which such
	// filesystems usually derive from paths, so that two hard links of
	// one file show different ones. A filesystem without hard links
	// cannot be checked, and is refused.
	switch err := fsys.Link(b+"/y", b+"/z"); {
	case errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.EPERM), errors.Is(err, errors.ErrUnsupported),
		errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EMLINK):
		return unsupported("hard links fail, so it cannot be checked that directory handles stay bound to their directory", err)
	case err != nil:
		return step(err)
	}
	fy, erry := fsys.Lstat(b + "/y")
	fz, errz := fsys.Lstat(b + "/z")
	_ = fsys.Remove(b + "/z")
	if err := step(errors.Join(erry, errz)); err != nil {
		return err
	}
	if !fsops.SameFile(fy, fz) {
		return unsupported("two hard links of one file show different inode numbers, the mark of a filesystem that resolves paths at each call (sshfs): a directory handle there can reach a newer generation at its name", nil)
	}
	if err := step(fsys.Mkdir(c, 0o700)); err != nil {
		return err
	}
	if err := step(fsys.CreateExcl(a+"/x", []byte("a"), 0o600)); err != nil {
		return err
	}
	if err := fsys.Rename(a, c); err != nil {
		return unsupported("rename of a directory onto an empty one failed", err)
	}
	if data, _, err := fsys.ReadFile(c+"/x", 16); err != nil || string(data) != "a" {
		return unsupported("rename of a directory onto an empty one did not move it", err)
	}
	return nil
}

// Mint implements Lock.Mint: it mints a token, reads our owner record
// back through the handle on our generation, which holds it only while our
// generation is the lock (no one removes a non-empty generation, and no
// rename replaces one), and checks that no one minted since (see
// mintVerified).
func (l *strictLock) Mint(Instant) (uint64, error) {
	if !l.held {
		return 0, fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, ErrNotHeld)
	}
	tok, err := mintVerified(l.fs, l.dir, l.base, l.cfg, func(tok uint64) error {
		data, _, err := l.gdir.ReadFile(ownerName, maxRecordLen)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("algorithm: after minting token %d: lock %s: our owner record was removed: %w", tok, l.path, ErrNotHeld)
		case err != nil:
			return fmt.Errorf("algorithm: after minting token %d: checking lock %s: %w", tok, l.path, err)
		case string(data) != string(l.rec):
			return fmt.Errorf("algorithm: after minting token %d: lock %s: our generation holds a foreign record: %w", tok, l.path, ErrNotHeld)
		}
		return nil
	}, l.mut)
	if errors.Is(err, ErrNotHeld) {
		l.lose()
	}
	return tok, err
}
