package proto

import (
	"errors"
	"io"
	"io/fs"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// Config is what a protocol needs from its caller. The zero value of each
// field means its documented default.
type Config struct {
	// Lifetime is how long the lock stays valid after each acquisition or
	// refresh without a further refresh. Required (> 0).
	Lifetime time.Duration

	// SkewAllowance is how far another host's wall clock may be ahead of or
	// behind ours. A lock whose stored expiry has passed by more than this
	// on our wall clock is stale. Default: DefaultSkewAllowance. Negative
	// disables the wall-clock rule (only locks whose lifetime is recorded,
	// that is locks made by this package, can then be judged stale).
	SkewAllowance time.Duration

	// Hostname and Pid identify this process in the claim file name. Pid is
	// written as decimal; Hostname is sanitised (see Flufl).
	Hostname string
	Pid      int

	// Perm is the permission of files the protocol creates, before the
	// umask. Default 0644.
	Perm fs.FileMode

	// Rand is the source of the random part of claim names. Default
	// crypto/rand. A deterministic simulator sets its own.
	Rand io.Reader

	// PidAlive reports whether a process with this pid runs on this
	// host. It lets an acquisition remove the claim files of crashed
	// processes of this host sooner (see Flufl); nil means unknown, and
	// such files are still removed, later. It must not block.
	PidAlive func(pid int) bool

	// Procs is this machine's process table. With it, every lock made
	// records this process's identity on its machine (boot id, pid
	// namespace, pid, start time; only if Procs.Self is complete and
	// names Pid), and a lock whose record names a process of this very
	// machine, boot and pid namespace that no longer runs is stale at
	// once (Holder.Dead; the rule and what it assumes are in
	// algorithm/liveness.go). nil: nothing recorded, no holder judged
	// dead, locks go stale by their lifetime only. When PidAlive is nil,
	// Procs answers it too. Procs must not block.
	Procs fsops.Procs

	// Now, if not nil, reads the caller's clocks, as the now passed to each
	// step is read. A step that holds a turn with a deadline (Flufl's
	// break lock) reads it after a call that may have returned late and
	// before a call that acts on what it returned, so that it never acts
	// once its turn may have been judged over. nil: no time passes within
	// a step (only for tests on an in-memory filesystem).
	Now func() Instant

	// Hints, if not nil, is what this process remembers across Locks to
	// save filesystem calls (token counter values, sweep times). Share one
	// per process; nil means every Lock starts from nothing.
	Hints *Hints
}

// DefaultSkewAllowance is the default Config.SkewAllowance: flufl.lock's
// CLOCK_SLOP, so that Go and Python waiters agree on when a lock without a
// recorded lifetime is stale.
const DefaultSkewAllowance = 10 * time.Second

// StaleMargin is added to a holder's recorded lifetime before a waiter that
// has watched the lock unchanged may judge it stale. It covers filesystems
// whose timestamps have whole-second resolution (sshfs), on which a refresh
// can leave the lock looking unchanged for up to one second.
const StaleMargin = time.Second

// BreakTurn is how long a Flufl breaker may act on the break lock it took,
// counted from when it sent the call that took it. Other breakers judge a
// break lock stale once they have seen it unchanged for BreakTurn of its
// holder's lifetime plus StaleMargin, which leaves the last call sent in
// time that long to reach the server. (The simulator's oracle checks the
// turn against the same rule.)
func BreakTurn(lifetime time.Duration) time.Duration { return lifetime / 2 }

// Lock is one lock on one path, driven step by step by its caller. Each
// method performs one bounded protocol step against the filesystem and
// returns: no method sleeps, loops waiting, starts a goroutine or reads a
// clock of its own; the caller passes the current time (and Config.Now
// for the few checks within a step). A Lock is not safe for concurrent
// use.
type Lock interface {
	// Acquire makes one attempt to take the lock at time now: claim,
	// link, verify, and, if the current holder is provably stale, break
	// its lock (Attempt.Broke: the caller should attempt again at once).
	//
	// It returns Attempt.Acquired, or who holds the lock, or an error.
	// Errors for which Transient reports true may be retried; any other
	// error means the lock cannot be taken at this path as things stand.
	Acquire(now Instant) (Attempt, error)

	// Refresh extends a held lock to now+Lifetime and checks that the lock
	// is still ours. It returns an error wrapping ErrNotHeld when the lock
	// is provably no longer ours; any other error is ambiguous (the refresh
	// may or may not have been applied) and must not be counted as success.
	Refresh(now Instant) error

	// Release removes the lock if it is still ours and then what else
	// only we use (Flufl's claim file). It returns an error wrapping ErrNotHeld if the lock was no
	// longer ours (nothing that is not ours is removed). The caller must
	// not call Release after its lease deadline has passed; use Close.
	//
	// valid reports whether the caller's hold is still within its
	// deadline, by the caller's clock at the moment of the call. Release
	// calls it immediately before each call that removes or moves what is
	// at the lock name (a read-back before it may return late, after a
	// partition); once it reports false, Release sends no such call: it
	// removes only what only we use, as Close does, leaves the lock to go
	// stale, and returns an error wrapping ErrExpired. (Putting back
	// another holder's lock that our own earlier rename moved aside is
	// not gated: it undoes a call sent in time.)
	Release(valid func() bool) error

	// Close gives up without releasing: it removes every file that only
	// we use (Flufl's claim file, Strict's staging directory). It removes the lock itself only when it
	// is ours and was last touched less than Lifetime/2 before now (an
	// acquisition whose success reply was lost), so that it never races a
	// breaker; a zero now never removes it. Close is idempotent.
	Close(now Instant) error

	// Mint mints the lock's next fencing token while the lock is held,
	// then checks that the lock is still ours (mint, then verify), so
	// that a holder whose lock was broken before it minted never hands
	// out its token. Tokens of one lock path are unique and increase in
	// the order in which holders verified them. It returns an error
	// wrapping ErrNotHeld when the lock is provably no longer ours; any
	// other error means no token was minted that may be used (errors for
	// which Transient reports true may be retried). See docs/fencing.md.
	Mint(now Instant) (uint64, error)

	// HolderGone reports whether the holder the last Acquire saw, which
	// it judged a live process of this machine (Holder.ThisMachine and
	// not Dead), has since been proven dead. It probes that process alone
	// (Config.Procs), with no filesystem call, so a waiter may call it
	// often; it is false if the last attempt saw no such holder. True is
	// only a reason to attempt at once: the attempt judges the lock
	// afresh before it breaks anything.
	HolderGone() bool

	// Path is the lock's path as used on disk (absolute).
	Path() string
}

// Instant is the current time as the caller's clocks tell it. Wall is the
// wall-clock time, written to disk as expiries and compared with what other
// hosts wrote. Mono is a monotonic reading from an origin the caller fixes
// (for example time.Since of a time taken at start-up): every duration the
// protocol measures is a difference of two Mono values, so that wall-clock
// steps do not affect it.
type Instant struct {
	Wall time.Time
	Mono time.Duration
}

// Attempt is the outcome of Lock.Acquire.
type Attempt struct {
	// Acquired reports that the lock is now held by the caller, as far
	// as the attempt could tell: the read-back that proves it may be left
	// to Mint, which the caller makes next and which hands out no token
	// unless the lock is ours (Flufl, when link(2) reported success).
	Acquired bool

	// Holder describes the current holder when the lock was not acquired
	// and the lock file could be read.
	Holder *Holder

	// Broke reports that this step broke a stale lock. The lock was not
	// taken in the same step: the caller should attempt again at once.
	Broke bool

	// StaleIn, when positive, is the earliest time from now at which the
	// current holder could be judged stale, if nothing changes. A waiter
	// should not sleep much past it.
	StaleIn time.Duration
}

// Holder describes the holder of a lock, as read from the lock file.
type Holder struct {
	Protocol string        // name of the protocol that wrote the record, as far as can be told
	Claim    string        // the holder's claim, exactly as recorded
	Host     string        // host name recorded by the holder
	Pid      int           // process id recorded by the holder
	Lifetime time.Duration // recorded lifetime; 0 if the holder did not record one (Python flufl.lock)
	Expires  time.Time     // recorded expiry (the lock file's mtime)

	// Dead reports that the holder is provably dead: its record names a
	// process of this machine, boot and pid namespace that no longer
	// runs (Config.Procs), so its lock may be broken at once.
	Dead bool

	// ThisMachine reports that the record names a process of this very
	// machine, boot and pid namespace, whose liveness a probe can judge:
	// Dead is then true or false. Otherwise Dead is false and says
	// nothing.
	ThisMachine bool
}

var (
	// ErrNotHeld is wrapped by Refresh and Release when the lock is
	// provably no longer ours: removed, replaced or broken.
	ErrNotHeld = errors.New("lock is no longer ours")

	// ErrNotLock is wrapped when something that is not a lock of this
	// protocol sits at the lock path (a directory, FIFO, device, symbolic
	// link, or a file whose content is not a lock record). It is never
	// removed.
	ErrNotLock = errors.New("not a lock file")

	// ErrExpired is wrapped by Release when the caller's hold passed its
	// deadline before Release could remove the lock: the lock is left to
	// go stale, and only what only we use is removed.
	ErrExpired = errors.New("the lease expired before release")

	// ErrBadPath is wrapped by Protocol.New when a path cannot be used for
	// a lock.
	ErrBadPath = errors.New("unusable lock path")
)

// Transient reports whether err is worth retrying: an error that a network
// filesystem returns for a call that may succeed later (EIO, ESTALE,
// ETIMEDOUT, EINTR, EAGAIN, EBUSY, ENOLCK, and ENOTCONN, which GlusterFS
// returns while its server is unreachable). Permission errors, missing
// directories, read-only filesystems, full disks and ErrNotLock are not
// transient.
func Transient(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.EIO, syscall.ESTALE, syscall.ETIMEDOUT, syscall.EINTR,
		syscall.EAGAIN, syscall.EBUSY, syscall.ENOLCK, syscall.ENOTCONN:
		return true
	}
	return false
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
