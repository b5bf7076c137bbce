package algorithm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
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

// tombSuffix is appended to our claim name to form the private name to
// which we move a lock we are breaking.
const tombSuffix = ".break"

func (p fluflProtocol) New(fsys fsops.FS, path string, cfg proto.Config) (proto.Lock, error) {
	// flufl.lock writes the claim path into the lock, and Python breakers
	// in other directories can only remove our claim if it is absolute.
	abs, dir, base, err := checkLockPath(fsys, path, cfg)
	if err != nil {
		return nil, err
	}
	if strings.IndexByte(abs, fluflSep) >= 0 {
		return nil, fmt.Errorf("algorithm: lock path %q contains the claim separator %q: %w", path, fluflSep, proto.ErrBadPath)
	}
	if cfg.SkewAllowance == 0 {
		cfg.SkewAllowance = proto.DefaultSkewAllowance
	}
	if cfg, err = withDefaults(cfg); err != nil {
		return nil, err
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
		Host:   proto.RecordedHost(cfg.Hostname),
		Pid:    cfg.Pid,
		Field4: formatRecord(cfg.Lifetime, random),
	}
	if cfg.Procs != nil {
		// Record who we are on this machine, if it fits: a lock name
		// that fitted without it keeps working, without it.
		if id := cfg.Procs.Self(); id.Pid == cfg.Pid {
			with := c
			with.Field4 += formatIdentity(id)
			if len(filepath.Base(with.String(fluflSep)))+len(tombSuffix) <= nameMax {
				c = with
			}
		}
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
	}, nil
}

// fluflLock is the state of one acquisition of a Flufl lock.
type fluflLock struct {
	mutations mutation
	fs        fsops.FS
	cfg       proto.Config
	path      string        // absolute lock path
	dir       string        // its directory, with a trailing separator
	base      string        // its base name
	claim     string        // our claim: the claim file's absolute path and its content
	tombUsed  bool          // we may have left something at tomb()
	breakHeld bool          // we hold the break lock
	turnStart proto.Instant // when we sent the call that took it
	w         *fluflWait    // while waiting: what we watch (wait makes it)

	created    bool           // our claim file exists, as far as we know
	unsure     bool           // a create of our claim failed ambiguously: it may exist
	swept      bool           // sweep has run (see sweep.go)
	claimInfo  fsops.FileInfo // the claim's attributes just after creation
	lastTouch  proto.Instant  // start of our last touch of the claim, if touched
	touched    bool           // lastTouch is set
	verified   bool           // our last call was a read-back that showed the lock ours
	held       bool           // we hold the lock
	linked     bool           // held on link(2)'s word alone: the next read-back decides (see tryLink)
	realInodes bool           // the lock and our claim showed the same inode once held
	eperm      int            // consecutive EPERM answers from link with no lock to show for them
}

// fluflWait is what a waiter watches. Only waiting needs it: it is made
// when first used and dropped once the lock is ours, so that a process
// holding many leases does not keep it for each.
type fluflWait struct {
	lastClaim lastParse[claim] // the lock content judge parsed last
	obs       observation      // what we last saw at the lock path
	emptyObs  observation      // an empty file at the lock path, watched
	breakObs  observation      // someone else's break lock, watched
	live      liveHolder       // the holder the last attempt judged, if local and alive
}

// wait returns what we watch while waiting, made on first use.
func (l *fluflLock) wait() *fluflWait {
	if l.w == nil {
		l.w = new(fluflWait)
	}
	return l.w
}

func (l *fluflLock) Path() string { return l.path }

// HolderGone implements proto.Lock.
func (l *fluflLock) HolderGone() bool { return l.w != nil && l.w.live.gone(l.cfg, l.mut) }

// tomb is the private name a lock being broken or released is moved to.
// It and breakLock are made when used, not kept: a process holding many
// leases pays for neither.
func (l *fluflLock) tomb() string { return l.claim + tombSuffix }

// breakLock is "<lock>|break", held by a breaker while it breaks.
func (l *fluflLock) breakLock() string { return l.path + breakLockSuffix }

// Acquire implements Lock.Acquire.
func (l *fluflLock) Acquire(now proto.Instant) (proto.Attempt, error) {
	if l.held {
		return proto.Attempt{}, fmt.Errorf("algorithm: %s: Acquire called while holding the lock", l.path)
	}
	l.verified, l.linked = false, false
	if l.w != nil {
		l.w.live = liveHolder{}
	}
	if !l.created {
		if err := l.createClaim(); err != nil {
			return proto.Attempt{}, err
		}
	}
	if !l.swept {
		// Once per Lock, and once per lifetime per process with shared
		// Hints: remove claim files crashed processes left.
		l.swept = true
		if l.cfg.Hints.SweepDue(l.path, now, l.cfg.Lifetime) && l.sweep(now) {
			l.cfg.Hints.SetSwept(l.path, now)
		}
	}
	att, err := l.tryLink(now)
	if err != nil || att.Acquired || att.Holder == nil {
		return att, err
	}
	// Someone else holds it. Judge staleness on what tryLink just read
	// (through open, so revalidated on NFS), and break only if stale.
	if att.StaleIn > 0 || !l.wait().obs.valid {
		return att, nil
	}
	broke, err := l.breakStale(now)
	if err != nil || !broke {
		return att, err
	}
	// The caller should try again at once, with a fresh now: breaking took
	// several calls, and the touch before the link must carry the time of
	// that attempt, as must the start of the lease's deadline.
	return proto.Attempt{Broke: true}, nil
}

// createClaim makes our claim file, whose content is its own path, and
// records its attributes (its inode, for realInodes) from the create itself.
func (l *fluflLock) createClaim() error {
	fi, err := l.fs.CreateExcl(l.claim, []byte(l.claim), l.cfg.Perm)
	if err != nil && (errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.EPERM)) {
		// The name is unique to us, so an existing file is our own
		// create replayed by NFS after a lost reply, or (sshfs) EPERM
		// standing for EEXIST. Anything else there is not ours.
		switch data, rfi, rerr := l.fs.ReadFile(l.claim, maxClaimLen); {
		case rerr == nil && string(data) == l.claim:
			fi, err = rfi, nil
		case proto.Transient(rerr):
			err = rerr // cannot tell yet whether it is ours: retry
		}
	}
	if err != nil {
		if proto.Transient(err) {
			// The create may have been applied and its reply lost: our
			// claim may exist. Close removes it if it holds our claim.
			l.unsure = true
		}
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("algorithm: creating claim for lock %s: the directory %s does not exist: %w", l.path, l.dir, err)
		}
		return fmt.Errorf("algorithm: creating claim for lock %s: %w", l.path, err)
	}
	// Should a sweep remove it before we link (it judged it a crashed
	// process's claim: we were paused for long), the touch before the link
	// finds it gone and the next attempt makes a new one.
	l.created, l.claimInfo, l.unsure = true, fi, false
	return nil
}

// tryLink touches our claim, links it to the lock name and reads the lock
// back to learn the outcome. The result of link(2) alone decides nothing:
// NFS may report failure for a link it applied (a lost reply) and sshfs
// reports EPERM for EEXIST.
func (l *fluflLock) tryLink(now proto.Instant) (proto.Attempt, error) {
	// Touch immediately before linking, so that the lock never appears
	// with an old expiry (flufl.lock's "new lock already expired" bug).
	exp := now.Wall.Add(l.cfg.Lifetime)
	if l.mut(mNoTouchBeforeLink) && l.touched {
		// (mutant) keep the expiry written before the first attempt
	} else if err := l.fs.Chtimes(l.claim, exp, exp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Our claim was removed (a breaker judged an old lock of
			// ours stale, or an administrator). Make a new one next time.
			l.created = false
			return proto.Attempt{}, nil
		}
		return proto.Attempt{}, fmt.Errorf("algorithm: touching claim of lock %s: %w", l.path, err)
	}
	if !l.mut(mNoTouchBeforeLink) || !l.touched {
		l.lastTouch, l.touched = now, true
	}
	lerr := l.fs.Link(l.claim, l.path)
	if l.mut(mTrustLinkReturn) || l.mut(mTrustNlink) {
		if att, ok, err := l.mutantLinkOutcome(lerr); ok {
			return att, err
		}
	}
	switch {
	case lerr == nil, errors.Is(lerr, fs.ErrExist), errors.Is(lerr, syscall.EPERM), proto.Transient(lerr):
		// Decide by reading the lock back.
	case errors.Is(lerr, fs.ErrNotExist):
		// Our claim vanished between touch and link, or the directory
		// did: find out which.
		l.created = false
		if _, err := l.fs.Lstat(l.dir); errors.Is(err, fs.ErrNotExist) {
			return proto.Attempt{}, fmt.Errorf("algorithm: lock %s: the directory %s does not exist: %w", l.path, l.dir, lerr)
		}
		return proto.Attempt{}, nil
	default:
		return proto.Attempt{}, fmt.Errorf("algorithm: linking claim to lock %s: %w", l.path, lerr)
	}
	if lerr == nil && !l.mut(mTrustNlink) {
		// link(2) says it linked. That decides nothing alone (an NFS
		// replay, a FUSE server's answer), but the read-back that does
		// decide need not come now: the caller mints the lock's token
		// next, and Mint reads the lock back after minting and hands out
		// nothing unless it is ours (mint, then verify). So the lock is
		// held on link's word until that read, which also learns
		// realInodes; if it shows the lock not ours, the token minted is
		// never used, and the acquisition attempts again.
		l.held, l.linked = true, true
		return proto.Attempt{Acquired: true}, nil
	}

	data, fi, err := l.fs.ReadFile(l.path, maxClaimLen)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if proto.Transient(lerr) {
			// The link failed (a lost request) and there is no lock:
			// report the link's error, so that the caller retries it
			// as transient rather than take the lock for "held".
			return proto.Attempt{}, fmt.Errorf("algorithm: linking claim to lock %s: %w", l.path, lerr)
		}
		if errors.Is(lerr, syscall.EPERM) {
			// EPERM and no lock: either sshfs lost a race with a
			// release, or a real permission problem. Give up after a
			// few in a row.
			l.eperm++
			if l.eperm > 3 {
				return proto.Attempt{}, fmt.Errorf("algorithm: linking claim to lock %s: %w", l.path, lerr)
			}
		}
		return proto.Attempt{}, nil // freed meanwhile: try again at once
	case errors.Is(err, fsops.ErrTooLarge):
		return proto.Attempt{}, fmt.Errorf("algorithm: lock path %s holds a file over %d bytes, not a flufl lock: %w", l.path, maxClaimLen, proto.ErrNotLock)
	case errors.Is(err, fsops.ErrNotRegular), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EMLINK):
		return proto.Attempt{}, notLock(l.fs, l.path, "flufl")
	default:
		if lerr == nil {
			// We linked but cannot confirm. Report the read error;
			// Close or the next attempt sorts it out.
			return proto.Attempt{}, fmt.Errorf("algorithm: reading lock %s: %w", l.path, err)
		}
		return proto.Attempt{}, fmt.Errorf("algorithm: reading lock %s: %w", l.path, err)
	}
	l.eperm = 0
	if string(data) == l.claim && !l.mut(mTrustLinkReturn) && !l.mut(mTrustNlink) {
		l.held, l.verified = true, true
		l.confirmed(fi)
		return proto.Attempt{Acquired: true}, nil
	}
	return l.judge(now, data, fi)
}

// confirmed records the first read that showed the lock ours since we
// linked it, fi being the lock's attributes in that read: what we watched
// while waiting is moot now, and whether the lock and our claim showed one
// inode tells later read-backs whether to compare inodes (realInodes).
func (l *fluflLock) confirmed(fi fsops.FileInfo) {
	l.linked = false
	l.w = nil
	l.realInodes = fsops.SameFile(fi, l.claimInfo)
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
func (l *fluflLock) judge(now proto.Instant, data []byte, fi fsops.FileInfo) (proto.Attempt, error) {
	if len(data) == 0 {
		// flufl.lock truncates and rewrites its claim (and so the lock)
		// when lock() is called while holding: a moment of emptiness.
		// An empty file that stays empty is not a lock (an
		// administrator's touch, say): never removed, reported.
		// It is watched like a lock, on our monotonic clock, for
		// EmptyFileWait; one that is already old by its mtime is
		// reported at once.
		l.wait().obs = observation{}
		watched := l.wait().emptyObs.see(versionOf(data, fi), now.Mono, false)
		young := fi.ModTime.Add(max(l.cfg.SkewAllowance, l.cfg.Lifetime)).After(now.Wall)
		if young && watched < proto.EmptyFileWait {
			return proto.Attempt{Holder: &proto.Holder{Protocol: "unknown", Expires: fi.ModTime}, StaleIn: max(proto.EmptyFileWait-watched, proto.LocalPoll)}, nil
		}
		l.wait().emptyObs = observation{}
		return proto.Attempt{}, fmt.Errorf("algorithm: lock path %s holds an empty file, unchanged since %v (flufl.lock empties its lock only for a moment): %w",
			l.path, fi.ModTime.UTC().Format(time.RFC3339), proto.ErrNotLock)
	}
	c, err := l.wait().lastClaim.parse(data, parseFluflClaim)
	if err != nil || filepath.Base(c.Lock) != l.base {
		l.wait().obs = observation{}
		return proto.Attempt{}, fmt.Errorf("algorithm: lock path %s holds a file that is not a lock of this name (%d bytes, mode %v): %w",
			l.path, fi.Size, fi.Mode, proto.ErrNotLock)
	}
	h := fluflHolder(c, data, fi)
	local, dead := judgeHolder(&l.wait().live, l.cfg, c.Proc, c.Pid, c.Host, l.mut)
	h.Dead, h.ThisMachine = dead, local
	watched := l.wait().obs.see(versionOf(data, fi), now.Mono, l.mut(mFluflWatchFromFirstSight))
	const never = time.Duration(1<<63 - 1)
	wait := never // time until stale; <= 0 means stale now
	if c.Lifetime > 0 {
		wait = c.Lifetime + l.staleMargin() - watched
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
	if h.Dead {
		// Its process is gone: nothing will refresh this version, so
		// it is stale now. breakStale still checks it is the version
		// judged.
		wait = 0
	}
	if wait <= 0 {
		return proto.Attempt{Holder: h}, nil
	}
	return proto.Attempt{Holder: h, StaleIn: wait}, nil
}

// mutantLinkOutcome decides the outcome of a link the way the mutants that
// trust link(2)'s result or the link count do. ok reports that it decided.
func (l *fluflLock) mutantLinkOutcome(lerr error) (proto.Attempt, bool, error) {
	if l.mut(mTrustLinkReturn) {
		if lerr == nil {
			l.held = true
			return proto.Attempt{Acquired: true}, true, nil
		}
		if errors.Is(lerr, syscall.EPERM) {
			return proto.Attempt{}, true, fmt.Errorf("algorithm: linking claim to lock %s: %w", l.path, lerr)
		}
		return proto.Attempt{}, false, nil
	}
	if fi, err := l.fs.Lstat(l.claim); err == nil && fi.Nlink == 2 {
		l.held = true
		return proto.Attempt{Acquired: true}, true, nil
	}
	return proto.Attempt{}, false, nil
}
