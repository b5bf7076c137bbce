package lease

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/proto"
)

// State is the state of a lock as Inspect sees it.
type State int

const (
	// Unlocked: nothing holds the lock.
	Unlocked State = iota
	// Held: another holder has the lock, and one look cannot prove it
	// stale (a Strict lock never can be: see TryAcquire).
	Held
	// Stale: one look proves the lock stale: its holder is a process of
	// this machine that is gone (Info.Dead; either protocol), or its
	// recorded expiry plus the skew allowance has passed on our wall
	// clock (Flufl locks only). Acquire would break it.
	Stale
	// Ours: the lock records this process's host and pid.
	Ours
)

func (s State) String() string {
	switch s {
	case Unlocked:
		return "unlocked"
	case Held:
		return "held"
	case Stale:
		return "stale"
	case Ours:
		return "ours"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Info is what Inspect found at a lock path.
type Info struct {
	Path  string    // the lock path, as given
	State State     // Unlocked, Held, Stale or Ours
	At    time.Time // when the look was taken (on the clock of WithClock)

	// The holder, as recorded in the lock; zero when Unlocked.
	Protocol string        // "strict", "flufl", "flufl.lock" for a lock made by Python, or "unknown" for an empty lock file
	Host     string        // host name recorded by the holder
	Pid      int           // process id recorded by the holder
	Expires  time.Time     // the recorded expiry (the lock's mtime), on the holder's wall clock
	Lifetime time.Duration // the recorded lifetime; 0 for Python flufl.lock locks, which record none
	Dead     bool          // the holder is a process of this machine that is gone (see Holder.Dead)
	// ThisMachine: the holder is a process of this machine whose
	// liveness can be judged (Dead is true or false); otherwise Dead is
	// false and says nothing.
	ThisMachine bool
	Token       uint64 // the lock's fencing-token counter: the last token minted (by the holder, if held); 0 if none yet
}

// String describes the lock for a person, for example
//
//	/x/a.lock: unlocked
//	/x/a.lock: held by pid 4242 on build-7 (strict, lifetime 15s), expires in 12.3s
//	/x/a.lock: held by this process (pid 4242 on build-7; strict, lifetime 15s), expires in 12.3s
//	/x/a.lock: held by pid 4242 on build-7, dead since 11:30:05 at the latest (its process is gone; strict, lifetime 15s): stale
//	/x/a.lock: stale, held by pid 4242 on build-7 (flufl.lock, no recorded lifetime), expired 1m3s ago
//	/x/a.lock: an empty file (Python flufl.lock rewriting its lock, or not a lock), modified 3.2s ago
func (i Info) String() string {
	switch {
	case i.State == Unlocked:
		return i.Path + ": unlocked"
	case i.Protocol == "unknown":
		return i.Path + ": an empty file (Python flufl.lock rewriting its lock, or not a lock), modified " + roundDuration(i.At.Sub(i.Expires)).String() + " ago"
	}
	what := fmt.Sprintf("%s, lifetime %v", i.Protocol, i.Lifetime)
	if i.Lifetime <= 0 {
		what = i.Protocol + ", no recorded lifetime"
	}
	switch {
	case i.State == Ours:
		return fmt.Sprintf("%s: held by this process (pid %d on %s; %s), %s", i.Path, i.Pid, i.Host, what, describeExpiry(i.Expires, i.At))
	case i.Dead:
		// It refreshed last at its expiry minus its lifetime, and was
		// alive then.
		since := i.Expires.Add(-i.Lifetime)
		return fmt.Sprintf("%s: held by pid %d on %s, dead since %s at the latest (its process is gone; %s): stale",
			i.Path, i.Pid, i.Host, since.Local().Format(time.TimeOnly), what)
	case i.State == Stale:
		return fmt.Sprintf("%s: stale, held by pid %d on %s (%s), %s", i.Path, i.Pid, i.Host, what, describeExpiry(i.Expires, i.At))
	}
	return fmt.Sprintf("%s: held by pid %d on %s (%s), %s", i.Path, i.Pid, i.Host, what, describeExpiry(i.Expires, i.At))
}

// Inspect reports the state of the lock at path and who holds it,
// without changing anything on disk: it creates, touches, renames and
// removes nothing, and breaks no lock. It reads whichever protocol made
// the lock (a directory is an algorithm.Strict lock, a file an
// algorithm.Flufl or Python flufl.lock one), so WithProtocol is not
// needed. Of the options, WithFS, WithClock and WithSkewAllowance (and
// WithLifetime's validation) apply.
//
// The result is a snapshot: the lock may change the moment after. Stale
// is reported only when one look proves it: a holder of this machine whose
// process is gone (Info.Dead), or a Flufl lock whose expiry plus the skew
// allowance has passed. A Strict lock whose holder died on another machine
// is reported Held, with an expiry in the past.
//
// Errors name the path; one for something at path that is not a lock
// wraps algorithm.ErrNotLock, and one for a path whose directory does not
// exist wraps fs.ErrNotExist (nothing can be locked there, so it is not
// "unlocked").
func Inspect(path string, opts ...Option) (Info, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Info{}, wrapPath(path, path, err)
	}
	if path == "" {
		return Info{}, wrapPath(path, path, fmt.Errorf("empty lock path: %w", algorithm.ErrBadPath))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Info{}, wrapPath(path, path, err)
	}
	now := cfg.clock.Now()
	info := Info{Path: path, At: now}
	if dir, base := filepath.Split(abs); base != "" {
		// Best effort: a listing that fails leaves the token 0.
		if n, ok, err := proto.CurrentToken(cfg.fs, dir, base); err == nil && ok {
			info.Token = n
		}
	}
	fi, err := cfg.fs.Lstat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Unlocked, if its directory exists: a lock cannot be taken
		// where there is no directory.
		if dfi, derr := cfg.fs.Lstat(filepath.Dir(abs)); derr != nil || !dfi.Mode.IsDir() {
			return Info{}, failed(cfg, path, abs, err)
		}
		return info, nil
	case errors.Is(err, syscall.ENOTDIR):
		return Info{}, failed(cfg, path, abs, err) // names what is not a directory
	case err != nil:
		return Info{}, wrapPath(path, abs, err)
	}
	var p algorithm.Protocol
	switch {
	case fi.Mode.IsDir():
		p = algorithm.Strict
	case fi.Mode.IsRegular():
		p = algorithm.Flufl
	default:
		p = algorithm.Strict // which names what is there: not a lock
	}
	in, ok := p.(proto.Inspector)
	if !ok {
		return Info{}, &pathError{path: path, text: "protocol " + p.Name() + " cannot inspect"}
	}
	look, err := in.Inspect(cfg.fs, abs, cfg.algorithm(filepath.Dir(abs)), proto.Instant{Wall: now, Mono: cfg.clock.Mono()})
	if err != nil {
		return Info{}, wrapPath(path, abs, err)
	}
	h := look.Holder
	if h == nil {
		return info, nil
	}
	info.Protocol, info.Host, info.Pid = h.Protocol, h.Host, h.Pid
	info.Expires, info.Lifetime, info.Dead, info.ThisMachine = h.Expires, h.Lifetime, h.Dead, h.ThisMachine
	switch {
	case h.Pid == cfg.pid && h.Host == proto.RecordedHost(cfg.hostname) && !h.Dead:
		info.State = Ours
	case look.Stale:
		info.State = Stale
	default:
		info.State = Held
	}
	return info, nil
}
