package lease

import (
	"errors"
	"fmt"
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
}

// holderOf converts a protocol's description of a holder; nil stays nil.
func holderOf(h *proto.Holder) *Holder {
	if h == nil {
		return nil
	}
	return &Holder{Protocol: h.Protocol, Claim: h.Claim, Host: h.Host, Pid: h.Pid, Lifetime: h.Lifetime, Expires: h.Expires}
}

// HeldError is returned by TryAcquire when another holder has the lock.
type HeldError struct {
	Path   string // the lock path
	Holder Holder // who holds it, as far as the lock file tells
}

func (e *HeldError) Error() string {
	h := e.Holder
	if h.Host == "" && h.Pid == 0 {
		return fmt.Sprintf("lease: %s is held by another holder", e.Path)
	}
	s := fmt.Sprintf("lease: %s is held by pid %d on %s (%s", e.Path, h.Pid, h.Host, h.Protocol)
	if !h.Expires.IsZero() {
		s += ", expires " + h.Expires.UTC().Format(time.RFC3339)
	}
	return s + ")"
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

func (e *LostError) Error() string {
	return fmt.Sprintf("lease: lost %s: %v", e.Path, e.Err)
}

// Unwrap returns ErrLost and the reason, so that errors.Is works for both.
func (e *LostError) Unwrap() []error { return []error{ErrLost, e.Err} }
