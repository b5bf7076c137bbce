package lease

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
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
	// Stale: the holder's recorded expiry plus the skew allowance has
	// passed on our wall clock (Flufl locks only). Acquire would break it.
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
	Protocol   string        // "strict", "flufl", or "flufl.lock" for a lock made by Python
	Host       string        // host name recorded by the holder
	Pid        int           // process id recorded by the holder
	AcquiredAt time.Time     // when it was acquired, if recorded (no protocol records it yet: zero)
	Expires    time.Time     // the recorded expiry (the lock's mtime), on the holder's wall clock
	Lifetime   time.Duration // the recorded lifetime; 0 for Python flufl.lock locks, which record none
	Token      uint64        // the lock's fencing-token counter: the last token minted (by the holder, if held); 0 if none yet
}

// String describes the lock for a person, for example
// "/x/a.lock: held by pid 4242 on build-7 (strict, lifetime 15s), expires in 12.3s".
func (i Info) String() string {
	if i.State == Unlocked {
		return i.Path + ": unlocked"
	}
	var who string
	switch i.State {
	case Ours:
		who = "held by this process"
	case Stale:
		who = "stale, held"
	default:
		who = "held"
	}
	s := fmt.Sprintf("%s: %s by pid %d on %s (%s", i.Path, who, i.Pid, i.Host, i.Protocol)
	if i.Lifetime > 0 {
		s += ", lifetime " + i.Lifetime.String()
	} else {
		s += ", no recorded lifetime"
	}
	s += ")"
	if !i.Expires.IsZero() {
		if d := i.Expires.Sub(i.At); d >= 0 {
			s += ", expires in " + d.Round(100*time.Millisecond).String()
		} else {
			s += ", expired " + (-d).Round(100*time.Millisecond).String() + " ago"
		}
	}
	return s
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
// is reported only when one look proves it (a Flufl lock whose expiry plus
// the skew allowance has passed); a Strict lock whose holder died is
// reported Held, with an expiry in the past.
//
// Errors name the path; one for something at path that is not a lock
// wraps algorithm.ErrNotLock.
func Inspect(path string, opts ...Option) (Info, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return Info{}, fmt.Errorf("lease: inspect %s: %w", path, err)
	}
	if path == "" {
		return Info{}, fmt.Errorf("lease: inspect: empty lock path: %w", algorithm.ErrBadPath)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Info{}, fmt.Errorf("lease: inspect %s: %w", path, err)
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
		return info, nil
	case err != nil:
		return Info{}, fmt.Errorf("lease: inspect %s: %w", path, err)
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
		return Info{}, fmt.Errorf("lease: inspect %s: protocol %s cannot inspect", path, p.Name())
	}
	look, err := in.Inspect(cfg.fs, abs, cfg.algorithm(), proto.Instant{Wall: now, Mono: cfg.clock.Mono()})
	if err != nil {
		return Info{}, fmt.Errorf("lease: inspect %s: %w", path, err)
	}
	h := look.Holder
	if h == nil {
		return info, nil
	}
	info.Protocol, info.Host, info.Pid = h.Protocol, h.Host, h.Pid
	info.Expires, info.Lifetime = h.Expires, h.Lifetime
	switch {
	case h.Pid == cfg.pid && h.Host == proto.RecordedHost(cfg.hostname):
		info.State = Ours
	case look.Stale:
		info.State = Stale
	default:
		info.State = Held
	}
	return info, nil
}
