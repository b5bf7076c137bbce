package lease

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nfslease/nfslease/internal/proto"
)

var (
	// ErrHeld is matched (errors.Is) by the error TryAcquire returns when
	// another holder has the lock. errors.As with a *HeldError gives the
	// holder's details.
	ErrHeld = errors.New("lease: held by another holder")

	// ErrLost is matched by context.Cause(held) once a lease is lost, and
	// by the error release returns if the lease had been lost before it
	// was released. errors.As with a *LostError gives the reason.
	ErrLost = errors.New("lease: lost")

	// ErrReleased is context.Cause(held) after release was called (unless
	// the lease had been lost, or ctx ended, before).
	ErrReleased = errors.New("lease: released")

	// ErrInvalidOption is matched by the error Acquire and TryAcquire
	// return for an invalid option or combination of options.
	ErrInvalidOption = errors.New("lease: invalid option")
)

// Holder describes the holder of a lock, as recorded in the lock file.
type Holder struct {
	// Protocol names the protocol that wrote the record, as far as can be
	// told: "strict", "flufl", "flufl.lock" (Python flufl.lock), or
	// "unknown" (a lock file caught being rewritten).
	Protocol string
	Claim    string        // the holder's claim, exactly as recorded
	Host     string        // host name recorded by the holder
	Pid      int           // process id recorded by the holder
	Lifetime time.Duration // recorded lifetime; 0 if the holder recorded none (Python flufl.lock)
	Expires  time.Time     // recorded expiry (the lock's mtime)

	// Dead reports that the holder is provably dead: a process of this
	// machine (same boot id and pid namespace) that is gone, or whose pid
	// now belongs to a process with another start time. Its lock is
	// broken at once.
	Dead bool

	// ThisMachine reports that the holder is a process of this machine
	// whose liveness can be judged: Dead is then true or false. Otherwise
	// Dead is false and says nothing.
	ThisMachine bool
}

// holderOf converts a protocol's description of a holder; nil stays nil.
func holderOf(h *proto.Holder) *Holder {
	if h == nil {
		return nil
	}
	return &Holder{Protocol: h.Protocol, Claim: h.Claim, Host: h.Host, Pid: h.Pid, Lifetime: h.Lifetime, Expires: h.Expires, Dead: h.Dead, ThisMachine: h.ThisMachine}
}

// HeldError is returned by TryAcquire when another holder has the lock.
type HeldError struct {
	Path   string    // the lock path
	Holder Holder    // who holds it, as far as the lock file tells
	At     time.Time // when it was seen held (on the clock of WithClock); zero if unknown
}

// Error reads like "lease: /x/job.lock: held by pid 4242 on build-7
// (strict, expires in 9s)".
func (e *HeldError) Error() string {
	return "lease: " + e.Path + ": " + describeHolder(&e.Holder, e.At)
}

// describeHolder describes the holder h of a lock as seen at now (zero:
// unknown, and expiries are given as times), for messages: "held by pid
// 4242 on build-7 (strict, expires in 9s)".
func describeHolder(h *Holder, now time.Time) string {
	switch {
	case h == nil || h.Host == "" && h.Pid == 0 && h.Protocol == "":
		return "held by another holder"
	case h.Protocol == "unknown":
		// Only an empty file at a Flufl lock path reads this way.
		return "held by an unknown holder (the lock file is empty: Python flufl.lock rewriting its lock, or not a lock)"
	}
	s := fmt.Sprintf("held by pid %d on %s (%s", h.Pid, h.Host, h.Protocol)
	if !h.Expires.IsZero() {
		s += ", " + describeExpiry(h.Expires, now)
	}
	s += ")"
	if h.Dead {
		s += ", dead: its process is gone"
	}
	return s
}

// describeExpiry says when a recorded expiry is, relative to now if now is
// known: "expires in 9s", "expired 3.2s ago", or "expires 2026-12-01T11:30:07Z".
func describeExpiry(exp, now time.Time) string {
	if now.IsZero() {
		return "expires " + exp.UTC().Format(time.RFC3339)
	}
	if d := exp.Sub(now); d < 0 {
		return "expired " + roundDuration(-d).String() + " ago"
	}
	return "expires in " + roundDuration(exp.Sub(now)).String()
}

// roundDuration rounds d for people: to 100 ms under a minute, to seconds
// above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// pathError is an error of an operation on the lock at path, read as
// "lease: <path>: <cause>": one prefix, the path once where the cause
// names it too. It wraps the cause.
type pathError struct {
	path string
	text string
	err  error
}

func (e *pathError) Error() string {
	if e.path == "" {
		return "lease: " + e.text // "lease: empty lock path: ..."
	}
	return "lease: " + e.path + ": " + e.text
}
func (e *pathError) Unwrap() error { return e.err }

// absPath is path made absolute, for messages; path itself if that fails.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// wrapPath wraps err, an error of the lock at path (abs: the lock's
// absolute path, as the protocols name it), as a pathError whose text is
// causeText's.
func wrapPath(path, abs string, err error) error {
	return &pathError{path: path, text: causeText(abs, err), err: err}
}

// causeText is the text of err, the cause of a failure of the lock at abs
// (its absolute path, as the protocols name it), for a message whose one
// prefix already names the path: without the "algorithm: " and "lease: "
// prefixes of the packages it went through, without a leading mention of
// the lock path, and with later mentions of the lock ("refreshing lock
// /x/job.lock: ...") read as "the lock".
func causeText(abs string, err error) string {
	text := strings.TrimPrefix(strings.ReplaceAll(err.Error(), "algorithm: ", ""), "lease: ")
	for _, p := range []string{"lock path " + abs + ": ", "lock path " + abs + " ", "lock " + abs + ": "} {
		if rest, ok := strings.CutPrefix(text, p); ok {
			text = rest
			break
		}
	}
	for _, sep := range []string{":", " ", ")", ";", ","} {
		text = strings.ReplaceAll(text, "lock "+abs+sep, "the lock"+sep)
	}
	return text
}

// Is makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// LostError is the cause of a lost lease: context.Cause(held) and the error
// release returns after a loss.
type LostError struct {
	Path string // the lock path
	At   time.Time
	Err  error // why: the proof of loss, or the last refresh error at the deadline
}

// Error reads like "lease: /x/job.lock: lease lost: the lock was
// removed: lock is no longer ours".
func (e *LostError) Error() string {
	if e.Err == nil {
		return "lease: " + e.Path + ": lease lost"
	}
	return "lease: " + e.Path + ": lease lost: " + causeText(e.Path, e.Err)
}

// Unwrap returns ErrLost and the reason, so that errors.Is works for both.
func (e *LostError) Unwrap() []error { return []error{ErrLost, e.Err} }
