package algorithm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// Flufl is the flufl.lock-compatible protocol: Python processes using
// flufl.lock (5.x to 9.x) and Go processes using Flufl exclude each other on
// the same lock file, and each can break the other's stale locks. See
// docs/protocol.md for the on-disk format, every step, and what the format
// cannot make safe (replayed NFS unlinks, Python breakers racing).
var Flufl Protocol = fluflProtocol{}

type fluflProtocol struct {
	mutations mutation // deliberate bugs; see mutant.go
}

func (fluflProtocol) Name() string { return "flufl" }

// fluflSep is the field separator of claim names: flufl.lock's SEP on POSIX.
// Python on Windows uses '^'; mixing the two on one share is unsupported.
const fluflSep = '|'

// nameMax is the longest file name this package creates (NAME_MAX on Linux
// and the BSDs).
const nameMax = 255

// tombSuffix is appended to our claim name to form the private name to
// which we move a lock we are breaking.
const tombSuffix = ".break"

func (p fluflProtocol) New(fsys fsops.FS, path string, cfg Config) (Lock, error) {
	// flufl.lock writes the claim path into the lock, and Python breakers
	// in other directories can only remove our claim if it is absolute.
	abs, dir, base, err := checkLockPath(fsys, path, cfg)
	if err != nil {
		return nil, err
	}
	if strings.IndexByte(abs, fluflSep) >= 0 {
		return nil, fmt.Errorf("algorithm: lock path %q contains the claim separator %q: %w", path, fluflSep, ErrBadPath)
	}
	if cfg.SkewAllowance == 0 {
		cfg.SkewAllowance = DefaultSkewAllowance
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
	random := make([]byte, 8)
	if _, err := io.ReadFull(cfg.Rand, random); err != nil {
		return nil, fmt.Errorf("algorithm: reading randomness for the claim name: %w", err)
	}
	if p.mutations&mClaimNoRandom != 0 {
		clear(random)
	}
	c := claim{
		Lock:   abs,
		Host:   sanitizeHost(cfg.Hostname),
		Pid:    cfg.Pid,
		Field4: formatRecord(cfg.Lifetime, random),
	}
	name := c.String(fluflSep)
	if n := len(filepath.Base(name)) + len(tombSuffix); n > nameMax {
		return nil, fmt.Errorf("algorithm: lock name %q is too long: its claim file name would be %d bytes, over the limit of %d: %w",
			base, n, nameMax, syscall.ENAMETOOLONG)
	}
	return &fluflLock{
		mutations: p.mutations,
		fs:        fsys,
		cfg:       cfg,
		path:      abs,
		dir:       dir,
		base:      base,
		claim:     name,
		tomb:      name + tombSuffix,
		breakLock: abs + breakLockSuffix,
	}, nil
}

// fluflLock is the state of one acquisition of a Flufl lock.
type fluflLock struct {
	mutations mutation
	fs        fsops.FS
	cfg       Config
	path      string // absolute lock path
	dir       string // its directory, with a trailing separator
	base      string // its base name
	claim     string // our claim: the claim file's absolute path and its content
	tomb      string // private name a lock being broken is moved to
	tombUsed  bool   // we may have left something at tomb
	breakLock string // "<lock>|break": held by a breaker while it breaks
	breakHeld bool   // we hold the break lock
	breakObs  observation

	created    bool           // our claim file exists, as far as we know
	unsure     bool           // a create of our claim failed ambiguously: it may exist
	swept      bool           // sweep has run (see sweep.go)
	claimInfo  fsops.FileInfo // the claim's attributes just after creation
	lastTouch  *Instant       // start of our last touch of the claim, if any
	held       bool           // we hold the lock
	realInodes bool           // the lock and our claim showed the same inode once held
	eperm      int            // consecutive EPERM answers from link with no lock to show for them

	obs observation // what we last saw at the lock path while waiting
}

// version is everything about a lock file that a refresh changes. Two
// observations with the same version are "unchanged".
type version struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // UnixNano
	content      string
}

// observation is when we first saw a version of the lock.
type observation struct {
	valid   bool
	v       version
	since   time.Duration // monotonic start of the watch
	pending bool          // seen once; the watch starts at the next step
}

// see records a sighting of version v by a step that began at now
// (monotonic), and returns for how long v has been watched unchanged.
//
// A new version starts a pending watch: now is when this step began, which
// may be long before the read that saw the version completed (a call can
// hang for minutes on a hard mount), so it cannot start the watch. The
// next step that sees v again began after that read completed, and starts
// the watch. fromFirstSight (a mutant) starts it at once.
func (o *observation) see(v version, now time.Duration, fromFirstSight bool) time.Duration {
	switch {
	case !o.valid || o.v != v:
		*o = observation{valid: true, v: v, pending: !fromFirstSight, since: now}
	case o.pending:
		o.since, o.pending = now, false
	}
	if o.pending {
		return 0
	}
	return now - o.since
}

func versionOf(data []byte, fi fsops.FileInfo) version {
	v := version{dev: fi.Dev, ino: fi.Ino, size: fi.Size, mtime: fi.ModTime.UnixNano(), content: string(data)}
	if !fi.Ctime.IsZero() {
		v.ctime = fi.Ctime.UnixNano()
	}
	return v
}

func (l *fluflLock) Path() string { return l.path }

// Acquire implements Lock.Acquire.
func (l *fluflLock) Acquire(now Instant) (Attempt, error) {
	if l.held {
		return Attempt{}, fmt.Errorf("algorithm: %s: Acquire called while holding the lock", l.path)
	}
	if !l.created {
		if err := l.createClaim(); err != nil {
			return Attempt{}, err
		}
	}
	if !l.swept {
		// Once per Lock, and once per lifetime per process with shared
		// Hints: remove claim files crashed processes left.
		l.swept = true
		if l.cfg.Hints.sweepDue(l.path, now, l.cfg.Lifetime) && l.sweep(now) {
			l.cfg.Hints.setSwept(l.path, now)
		}
	}
	att, err := l.tryLink(now)
	if err != nil || att.Acquired || att.Holder == nil {
		return att, err
	}
	// Someone else holds it. Judge staleness on what tryLink just read
	// (through open, so revalidated on NFS), and break only if stale.
	if att.StaleIn > 0 || !l.obs.valid {
		return att, nil
	}
	broke, err := l.breakStale(now)
	if err != nil || !broke {
		return att, err
	}
	// The caller should try again at once, with a fresh now: breaking took
	// several calls, and the touch before the link must carry the time of
	// that attempt, as must the start of the lease's deadline.
	return Attempt{Broke: true}, nil
}

// createClaim makes our claim file, whose content is its own path.
func (l *fluflLock) createClaim() error {
	err := l.fs.CreateExcl(l.claim, []byte(l.claim), l.cfg.Perm)
	if err != nil && (errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EPERM)) {
		// The name is unique to us, so an existing file is our own
		// create replayed by NFS after a lost reply, or (sshfs) EPERM
		// standing for EEXIST. Anything else there is not ours.
		switch data, _, rerr := l.fs.ReadFile(l.claim, maxClaimLen); {
		case rerr == nil && string(data) == l.claim:
			err = nil
		case Transient(rerr):
			err = rerr // cannot tell yet whether it is ours: retry
		}
	}
	if err != nil {
		if Transient(err) {
			// The create may have been applied and its reply lost: our
			// claim may exist. Close removes it if it holds our claim.
			l.unsure = true
		}
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("algorithm: creating claim for lock %s: the directory %s does not exist: %w", l.path, l.dir, err)
		}
		return fmt.Errorf("algorithm: creating claim for lock %s: %w", l.path, err)
	}
	fi, err := l.fs.Lstat(l.claim)
	if errors.Is(err, fs.ErrNotExist) {
		// Removed already: a sweep judged it a crashed process's claim
		// (we were paused for long). The next attempt makes a new one.
		l.created, l.unsure = false, false
		return nil
	}
	if err != nil {
		// Leave l.created set so that Close removes the file.
		l.created = true
		return fmt.Errorf("algorithm: claim for lock %s: %w", l.path, err)
	}
	l.created, l.claimInfo, l.unsure = true, fi, false
	return nil
}

// tryLink touches our claim, links it to the lock name and reads the lock
// back to learn the outcome. The result of link(2) alone decides nothing:
// NFS may report failure for a link it applied (a lost reply) and sshfs
// reports EPERM for EEXIST.
func (l *fluflLock) tryLink(now Instant) (Attempt, error) {
	// Touch immediately before linking, so that the lock never appears
	// with an old expiry (flufl.lock's "new lock already expired" bug).
	exp := now.Wall.Add(l.cfg.Lifetime)
	if l.mut(mNoTouchBeforeLink) && l.lastTouch != nil {
		// (mutant) keep the expiry written before the first attempt
	} else if err := l.fs.Chtimes(l.claim, exp, exp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Our claim was removed (a breaker judged an old lock of
			// ours stale, or an administrator). Make a new one next time.
			l.created = false
			return Attempt{}, nil
		}
		return Attempt{}, fmt.Errorf("algorithm: touching claim of lock %s: %w", l.path, err)
	}
	if !l.mut(mNoTouchBeforeLink) || l.lastTouch == nil {
		l.lastTouch = &now
	}
	lerr := l.fs.Link(l.claim, l.path)
	if l.mut(mTrustLinkReturn) || l.mut(mTrustNlink) {
		if att, ok, err := l.mutantLinkOutcome(lerr); ok {
			return att, err
		}
	}
	switch {
	case lerr == nil, errors.Is(lerr, fs.ErrExist), errors.Is(lerr, syscall.EPERM), Transient(lerr):
		// Decide by reading the lock back.
	case errors.Is(lerr, fs.ErrNotExist):
		// Our claim vanished between touch and link, or the directory
		// did: find out which.
		l.created = false
		if _, err := l.fs.Lstat(l.dir); errors.Is(err, fs.ErrNotExist) {
			return Attempt{}, fmt.Errorf("algorithm: lock %s: the directory %s does not exist: %w", l.path, l.dir, lerr)
		}
		return Attempt{}, nil
	default:
		return Attempt{}, fmt.Errorf("algorithm: linking claim to lock %s: %w", l.path, lerr)
	}

	data, fi, err := l.fs.ReadFile(l.path, maxClaimLen)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if Transient(lerr) {
			// The link failed (a lost request) and there is no lock:
			// report the link's error, so that the caller retries it
			// as transient rather than take the lock for "held".
			return Attempt{}, fmt.Errorf("algorithm: linking claim to lock %s: %w", l.path, lerr)
		}
		if errors.Is(lerr, syscall.EPERM) {
			// EPERM and no lock: either sshfs lost a race with a
			// release, or a real permission problem. Give up after a
			// few in a row.
			l.eperm++
			if l.eperm > 3 {
				return Attempt{}, fmt.Errorf("algorithm: linking claim to lock %s: %w", l.path, lerr)
			}
		}
		return Attempt{}, nil // freed meanwhile: try again at once
	case errors.Is(err, fsops.ErrNotRegular), errors.Is(err, fsops.ErrTooLarge), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EMLINK):
		return Attempt{}, fmt.Errorf("algorithm: lock path %s: %w: %w", l.path, ErrNotLock, err)
	default:
		if lerr == nil {
			// We linked but cannot confirm. Report the read error;
			// Close or the next attempt sorts it out.
			return Attempt{}, fmt.Errorf("algorithm: reading lock %s: %w", l.path, err)
		}
		return Attempt{}, fmt.Errorf("algorithm: reading lock %s: %w", l.path, err)
	}
	l.eperm = 0
	if string(data) == l.claim && !l.mut(mTrustLinkReturn) && !l.mut(mTrustNlink) {
		l.held = true
		l.obs = observation{}
		l.realInodes = fsops.SameFile(fi, l.claimInfo)
		return Attempt{Acquired: true}, nil
	}
	return l.judge(now, data, fi)
}

// judge describes the holder of the lock file just read and decides
// whether it is stale. A lock is stale when either
//
//   - it records its lifetime (a lock of this package) and we have seen it
//     unchanged for that lifetime plus StaleMargin on our monotonic clock,
//     which needs no agreement between clocks; or
//   - its expiry (mtime) is further in the past than SkewAllowance on our
//     wall clock, flufl.lock's own rule, which assumes clocks agree within
//     the allowance.
func (l *fluflLock) judge(now Instant, data []byte, fi fsops.FileInfo) (Attempt, error) {
	if len(data) == 0 {
		// flufl.lock truncates and rewrites its claim (and so the lock)
		// when lock() is called while holding: a moment of emptiness.
		// An empty file that stays empty is not a lock (an
		// administrator's touch, say): never removed, reported.
		l.obs = observation{}
		if wait := fi.ModTime.Add(max(l.cfg.SkewAllowance, l.cfg.Lifetime)).Sub(now.Wall); wait > 0 {
			return Attempt{Holder: &Holder{Protocol: "unknown", Expires: fi.ModTime}, StaleIn: wait}, nil
		}
		return Attempt{}, fmt.Errorf("algorithm: lock path %s holds an empty file, unchanged since %v: %w",
			l.path, fi.ModTime.UTC().Format(time.RFC3339), ErrNotLock)
	}
	c, err := parseClaim(string(data), fluflSep)
	if err != nil || filepath.Base(c.Lock) != l.base {
		l.obs = observation{}
		return Attempt{}, fmt.Errorf("algorithm: lock path %s holds a file that is not a lock of this name (%d bytes, mode %v): %w",
			l.path, fi.Size, fi.Mode, ErrNotLock)
	}
	h := fluflHolder(c, data, fi)
	watched := l.obs.see(versionOf(data, fi), now.Mono, false)
	const never = time.Duration(1<<63 - 1)
	wait := never // time until stale; <= 0 means stale now
	if c.Lifetime > 0 {
		wait = c.Lifetime + StaleMargin - watched
	}
	if l.cfg.SkewAllowance >= 0 {
		skew := l.cfg.SkewAllowance
		if l.mut(mNoSkewAllowance) {
			skew = 0
		}
		wait = min(wait, fi.ModTime.Add(skew).Sub(now.Wall))
	}
	if wait == never {
		// No recorded lifetime and the wall-clock rule is off: this lock
		// can never be judged stale. Look again later all the same.
		wait = maxRecordedLifetime
	}
	if wait <= 0 {
		return Attempt{Holder: h}, nil
	}
	return Attempt{Holder: h, StaleIn: wait}, nil
}

// breakStale breaks the lock judged stale in l.obs. It never removes a
// lock other than the one judged: it moves whatever is at the lock name to
// a name only we use, checks that it is the judged version, and puts it
// back otherwise. Breakers take turns through the break lock, so that one
// breaker's rename cannot catch the fresh lock another breaker's break let
// someone take. See docs/protocol.md for what remains.
func (l *fluflLock) breakStale(now Instant) (bool, error) {
	judged := l.obs.v
	if l.mut(mBreakUnlinkByName) {
		l.obs = observation{}
		return l.mutantBreakByName(judged)
	}
	if ok, err := l.takeBreakLock(now); !ok || err != nil {
		return false, err // another breaker is at work; keep watching
	}
	defer l.dropBreakLock()
	l.obs = observation{}

	// Look once more, fresh, immediately before acting.
	data, fi, err := l.fs.ReadFile(l.path, maxClaimLen)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("algorithm: re-reading stale lock %s: %w", l.path, err)
	}
	if versionOf(data, fi) != judged {
		return false, nil // it changed: a live holder, or a new one
	}
	removed, err := l.removeIfUnchanged(l.path, judged)
	if !removed || err != nil {
		return false, err
	}
	// It was the stale lock. Remove the stale holder's claim too, but only
	// if the name is a well-formed claim of this very lock in this
	// directory and it is still the version judged stale, untouched: a
	// holder that was only slow touches its claim before it links it
	// again, and may hold the lock again by now. Best effort: a leftover
	// claim harms no one, and the sweep removes it later.
	if c, err := parseClaim(judged.content, fluflSep); err == nil && filepath.Base(c.Lock) == l.base {
		victim := filepath.Join(l.dir, filepath.Base(judged.content))
		if victim != l.claim {
			vdata, vfi, err := l.fs.ReadFile(victim, maxClaimLen)
			if err == nil && string(vdata) == judged.content && vfi.ModTime.UnixNano() == judged.mtime {
				_, _ = l.removeIfUnchanged(victim, judged)
			}
		}
	}
	return true, nil
}

// removeIfUnchanged removes name if it still is the version judged. It
// moves whatever is at name to our tomb (rename(2) is atomic: exactly what
// is there at that instant moves), compares it with judged, and removes it
// there if it matches, or puts it back at name otherwise.
func (l *fluflLock) removeIfUnchanged(name string, judged version) (bool, error) {
	l.tombUsed = true
	if err := l.fs.Rename(name, l.tomb); err != nil {
		// Any error, even ENOENT, may come from a rename that was applied
		// and whose reply was lost (a retransmission that missed the
		// server's duplicate request cache answers ENOENT). If the tomb
		// exists, carry on with it; it may hold a live lock to put back.
		if _, _, terr := l.fs.ReadFile(l.tomb, maxClaimLen); terr != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return false, nil // gone already (released or broken)
			}
			return false, fmt.Errorf("algorithm: breaking stale %s: %w", name, err)
		}
	}
	tdata, tfi, err := l.fs.ReadFile(l.tomb, maxClaimLen)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		// We cannot tell what we moved. Try to put it back.
		l.restore(name)
		return false, fmt.Errorf("algorithm: checking broken %s: %w", name, err)
	}
	// rename(2) may change ctime and, on filesystems without real inode
	// numbers, the reported inode; the content (a claim unique to one
	// acquisition) and the mtime (moved by every refresh) identify the
	// version.
	if string(tdata) != judged.content || tfi.ModTime.UnixNano() != judged.mtime || tfi.Size != judged.size {
		// Not what we judged: a new holder took the name between our
		// check and the rename. Put it back.
		l.restore(name)
		return false, nil
	}
	if err := l.removeRetry(l.tomb); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, fmt.Errorf("algorithm: removing broken %s (moved to %s): %w", name, l.tomb, err)
	}
	l.tombUsed = false
	return true, nil
}

// restore puts back at name what we moved to our tomb but must not
// remove. If name has been taken meanwhile, the moved lock's holder has
// lost it; it notices at its next refresh, when it finds the lock is not
// its claim.
func (l *fluflLock) restore(name string) {
	want, _, err := l.fs.ReadFile(l.tomb, maxClaimLen)
	if err != nil {
		return // nothing we can read back; Close tries to remove the tomb
	}
	for range 3 {
		lerr := l.fs.Link(l.tomb, name)
		data, _, err := l.fs.ReadFile(name, maxClaimLen)
		switch {
		case err == nil && string(data) == string(want):
			_ = l.fs.Remove(l.tomb) // put back; the tomb is a second name
			return
		case err == nil:
			// Someone else took the name: the moved holder has lost its
			// lock and finds out at its next refresh.
			_ = l.fs.Remove(l.tomb)
			return
		case lerr != nil && !errors.Is(lerr, fs.ErrExist) && !Transient(lerr) && !errors.Is(err, fs.ErrNotExist):
			return
		}
		// The name is still free (or unreadable): try again.
	}
	// Keep the tomb rather than lose the only name of a live lock; its
	// holder will see its lock gone and give up. Close removes the tomb.
}

// breakLockSuffix names the break lock: "<lock>|break". It holds the
// separator, so it is never a lock or claim anyone else uses.
const breakLockSuffix = "|break"

// takeBreakLock takes the break lock, a file created exclusively that
// holds our claim while we break. If another breaker holds it, it watches
// it like a lock; one left unchanged for half its holder's lifetime plus
// StaleMargin (its holder died mid-break) is removed the same careful way.
func (l *fluflLock) takeBreakLock(now Instant) (bool, error) {
	err := l.fs.CreateExcl(l.breakLock, []byte(l.claim), l.cfg.Perm)
	if err == nil {
		l.breakHeld = true
		return true, nil
	}
	if !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.EPERM) && !Transient(err) {
		return false, fmt.Errorf("algorithm: taking break lock of %s: %w", l.path, err)
	}
	data, fi, rerr := l.fs.ReadFile(l.breakLock, maxClaimLen)
	switch {
	case rerr == nil && string(data) == l.claim:
		l.breakHeld = true // our own create, replayed after a lost reply
		return true, nil
	case errors.Is(rerr, fs.ErrNotExist):
		return false, nil // released meanwhile: next time
	case rerr != nil:
		return false, fmt.Errorf("algorithm: reading break lock of %s: %w", l.path, rerr)
	}
	v := versionOf(data, fi)
	switch {
	case !l.breakObs.valid || l.breakObs.v != v:
		l.breakObs = observation{valid: true, v: v, pending: true}
		return false, nil
	case l.breakObs.pending:
		l.breakObs.since, l.breakObs.pending = now.Mono, false
		return false, nil
	}
	lifetime := l.cfg.Lifetime
	if c, err := parseClaim(string(data), fluflSep); err == nil && c.Lifetime > 0 {
		lifetime = c.Lifetime
	}
	if now.Mono-l.breakObs.since < lifetime/2+StaleMargin {
		return false, nil
	}
	l.breakObs = observation{}
	_, err = l.removeIfUnchanged(l.breakLock, v)
	return false, err
}

// dropBreakLock removes the break lock if we hold it and it is still ours.
func (l *fluflLock) dropBreakLock() {
	if !l.breakHeld {
		return
	}
	l.breakHeld = false
	if data, _, err := l.fs.ReadFile(l.breakLock, maxClaimLen); err == nil && string(data) == l.claim {
		_ = l.removeRetry(l.breakLock)
	}
}

// Refresh implements Lock.Refresh.
func (l *fluflLock) Refresh(now Instant) error {
	if !l.held {
		return fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, ErrNotHeld)
	}
	// Touch our claim, which while we hold the lock is the lock's inode.
	// Touching by the claim name never refreshes someone else's lock.
	exp := now.Wall.Add(l.cfg.Lifetime)
	if err := l.fs.Chtimes(l.claim, exp, exp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.held = false
			return fmt.Errorf("algorithm: refreshing lock %s: our claim was removed: %w", l.path, ErrNotHeld)
		}
		return fmt.Errorf("algorithm: refreshing lock %s: %w", l.path, err)
	}
	l.lastTouch = &now
	if err := l.verify(); err != nil {
		if errors.Is(err, ErrNotHeld) {
			l.held = false
		}
		return err
	}
	return nil
}

// verify checks, by reading the lock back, that it is still ours.
func (l *fluflLock) verify() error {
	data, fi, err := l.fs.ReadFile(l.path, maxClaimLen)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("algorithm: lock %s was removed: %w", l.path, ErrNotHeld)
	case errors.Is(err, fsops.ErrNotRegular), errors.Is(err, fsops.ErrTooLarge), errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("algorithm: lock %s was replaced by something else: %w", l.path, ErrNotHeld)
	default:
		return fmt.Errorf("algorithm: checking lock %s: %w", l.path, err)
	}
	if string(data) != l.claim {
		return fmt.Errorf("algorithm: lock %s now belongs to %q: %w", l.path, data, ErrNotHeld)
	}
	if l.realInodes && !fsops.SameFile(fi, l.claimInfo) {
		return fmt.Errorf("algorithm: lock %s is a different file with our claim: %w", l.path, ErrNotHeld)
	}
	return nil
}

// Release implements Lock.Release.
func (l *fluflLock) Release() error {
	var notOurs error
	if l.mut(mReleaseUnchecked) {
		l.held = false
		_ = l.fs.Remove(l.path)
		return l.removeClaim()
	}
	if l.held {
		l.held = false
		if err := l.verify(); err != nil {
			if !errors.Is(err, ErrNotHeld) {
				// Ambiguous: leave the lock to expire rather than risk
				// removing someone else's.
				_ = l.removeClaim()
				return err
			}
			notOurs = err
		} else if ours, err := l.removeLockIfOurs(); err != nil {
			_ = l.removeClaim()
			return fmt.Errorf("algorithm: releasing lock %s: %w", l.path, err)
		} else if !ours {
			notOurs = fmt.Errorf("algorithm: lock %s was no longer ours at release: %w", l.path, ErrNotHeld)
		}
	} else {
		notOurs = fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, ErrNotHeld)
	}
	if err := l.removeClaim(); err != nil {
		return err
	}
	return notOurs
}

// removeLockIfOurs removes the lock name if it holds our claim, without
// ever unlinking it by name: it moves whatever is at the name to our tomb,
// removes it there if it is ours, and puts it back otherwise. An unlink by
// name that hung (a partition on a hard mount) could land after a waiter
// broke our expired lock and another took it, and would remove that; a
// rename that lands late moves it, and it is put back.
func (l *fluflLock) removeLockIfOurs() (bool, error) {
	l.tombUsed = true
	if err := l.fs.Rename(l.path, l.tomb); err != nil {
		// As in removeIfUnchanged: the rename may have been applied.
		if _, _, terr := l.fs.ReadFile(l.tomb, maxClaimLen); terr != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return false, nil
			}
			return false, err
		}
	}
	data, _, err := l.fs.ReadFile(l.tomb, maxClaimLen)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		l.restore(l.path)
		return false, err
	case string(data) != l.claim:
		l.restore(l.path)
		return false, nil
	}
	if err := l.removeRetry(l.tomb); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, err
	}
	l.tombUsed = false
	return true, nil
}

// Close implements Lock.Close.
func (l *fluflLock) Close(now Instant) error {
	if !l.created {
		return l.removeUnsureClaim()
	}
	if l.mut(mReleaseUnchecked) {
		_ = l.fs.Remove(l.path)
	}
	// A link whose success reply was lost leaves the lock ours without our
	// knowing. Remove it only while no one could judge it stale yet.
	if l.lastTouch != nil && now != (Instant{}) && now.Mono-l.lastTouch.Mono >= 0 && now.Mono-l.lastTouch.Mono < l.cfg.Lifetime/2 {
		if data, _, err := l.fs.ReadFile(l.path, maxClaimLen); err == nil && string(data) == l.claim {
			_, _ = l.removeLockIfOurs()
		}
	}
	l.held = false
	return l.removeClaim()
}

func (l *fluflLock) removeClaim() error {
	if l.tombUsed {
		if err := l.removeRetry(l.tomb); err == nil || errors.Is(err, fs.ErrNotExist) {
			l.tombUsed = false
		}
	}
	if !l.created {
		return nil
	}
	if err := l.removeRetry(l.claim); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("algorithm: removing claim of lock %s: %w", l.path, err)
	}
	l.created = false
	return nil
}

// removeUnsureClaim removes our claim file after a create that failed
// ambiguously, if it exists and holds our claim. Its name carries 64
// random bits and our content, so such a file is ours; anything else
// there is left alone.
func (l *fluflLock) removeUnsureClaim() error {
	if !l.unsure {
		return nil
	}
	data, _, err := l.fs.ReadFile(l.claim, maxClaimLen)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("algorithm: checking claim of lock %s: %w", l.path, err)
	case string(data) == l.claim:
		if err := l.removeRetry(l.claim); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("algorithm: removing claim of lock %s: %w", l.path, err)
		}
	}
	l.unsure = false
	return nil
}

// removeRetry removes a file of ours, trying again a few times on a
// transient error, so that a passing EIO does not leave it behind. (A
// replayed remove of a name only we use harms no one.)
func (l *fluflLock) removeRetry(name string) error {
	return retry(func() error { return l.fs.Remove(name) })
}

// mutantLinkOutcome decides the outcome of a link the way the mutants that
// trust link(2)'s result or the link count do. ok reports that it decided.
func (l *fluflLock) mutantLinkOutcome(lerr error) (Attempt, bool, error) {
	if l.mut(mTrustLinkReturn) {
		if lerr == nil {
			l.held = true
			return Attempt{Acquired: true}, true, nil
		}
		if errors.Is(lerr, syscall.EPERM) {
			return Attempt{}, true, fmt.Errorf("algorithm: linking claim to lock %s: %w", l.path, lerr)
		}
		return Attempt{}, false, nil
	}
	if fi, err := l.fs.Lstat(l.claim); err == nil && fi.Nlink == 2 {
		l.held = true
		return Attempt{Acquired: true}, true, nil
	}
	return Attempt{}, false, nil
}

// mutantBreakByName breaks the way flufl.lock does: remove whatever is at
// the lock name, then the claim it named, with no check in between.
func (l *fluflLock) mutantBreakByName(judged version) (bool, error) {
	_ = l.fs.Remove(l.path)
	if c, err := parseClaim(judged.content, fluflSep); err == nil && filepath.Base(c.Lock) == l.base {
		if victim := filepath.Join(l.dir, filepath.Base(judged.content)); victim != l.claim {
			_ = l.fs.Remove(victim)
		}
	}
	return true, nil
}

// Mint implements Lock.Mint: it mints a token, reads the lock back, as
// Refresh does, to check it is still ours, and checks that no one minted
// since (see mintVerified).
func (l *fluflLock) Mint(Instant) (uint64, error) {
	if !l.held {
		return 0, fmt.Errorf("algorithm: %s: %w (not acquired)", l.path, ErrNotHeld)
	}
	tok, err := mintVerified(l.fs, l.dir, l.base, l.cfg, func(tok uint64) error {
		if err := l.verify(); err != nil {
			return fmt.Errorf("algorithm: after minting token %d: %w", tok, err)
		}
		return nil
	}, l.mut)
	if errors.Is(err, ErrNotHeld) {
		l.held = false
	}
	return tok, err
}
