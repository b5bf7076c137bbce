// Package keeper holds the timing rules of a held lease as a deterministic
// value: when the holder must give up (the renew deadline), which refreshes
// count, and that a lost lease is never revived. Package lease drives it
// from its refresher goroutine and deadline timer; the simulator drives the
// same code from simulated time.
//
// All times are monotonic readings (durations from an origin the caller
// fixes). A Keeper is not safe for concurrent use.
package keeper

import (
	"errors"
	"fmt"
	"time"

	"github.com/nfslease/nfslease/algorithm"
)

// Keeper is the deadline bookkeeping of one held lease.
type Keeper struct {
	renewDeadline time.Duration
	refresh       time.Duration
	deadline      time.Duration
	lost          error
	lastErr       error

	// Mutation, when not empty, names a deliberate bug (see Mutations);
	// only the simulator's mutant tests set it.
	Mutation string
}

// Mutations are the deliberate bugs a Keeper can be told to have, so that
// the simulator can show it catches them.
var Mutations = []string{
	"keeper-late-refresh-revives", // a refresh that succeeds after the deadline revives the lease
	"keeper-no-deadline",          // failed refreshes never lose the lease; only proof of loss does
	"keeper-deadline-from-end",    // a refresh counts however long it took, and the deadline from its end, not its start
}

// New returns the Keeper of a lease acquired by an attempt that started at
// start. The deadline counts from start: the lock was touched after it.
func New(start, renewDeadline, refresh time.Duration) *Keeper {
	return &Keeper{renewDeadline: renewDeadline, refresh: refresh, deadline: start + renewDeadline}
}

// Deadline is the monotonic time at which the lease is lost unless a
// counted refresh moves it.
func (k *Keeper) Deadline() time.Duration { return k.deadline }

// Lost returns the reason the lease was lost, or nil.
func (k *Keeper) Lost() error { return k.lost }

// Lose marks the lease lost for reason, unless it is lost already.
func (k *Keeper) Lose(reason error) {
	if k.lost == nil {
		k.lost = reason
	}
}

// Check marks the lease lost if now is at or past the deadline, and returns
// Lost().
func (k *Keeper) Check(now time.Duration) error {
	if k.lost != nil || now < k.deadline || k.Mutation == "keeper-no-deadline" {
		return k.lost
	}
	reason := fmt.Errorf("no successful refresh within the renew deadline of %v", k.renewDeadline)
	if k.lastErr != nil {
		reason = fmt.Errorf("%w; last refresh error: %w", reason, k.lastErr)
	}
	k.lost = reason
	return k.lost
}

// Refreshed records a refresh that started at s and returned at e with
// err, and returns how long to wait before the next one.
//
// A refresh counts, moving the deadline to s + renew deadline, only if it
// succeeded, started before the deadline, and took no longer than the
// refresh interval: a slower one may have landed after a waiter's last look
// (docs/protocol.md §3). Proof of loss (algorithm.ErrNotHeld) loses the
// lease at once. Any other error is retried four times as often, until the
// deadline decides. Nothing revives a lost lease.
func (k *Keeper) Refreshed(s, e time.Duration, err error) time.Duration {
	retry := max(k.refresh/4, time.Millisecond)
	if k.lost != nil {
		if k.Mutation == "keeper-late-refresh-revives" && err == nil {
			k.lost = nil
			k.deadline = s + k.renewDeadline
		}
		return k.refresh
	}
	switch {
	case err == nil && k.Mutation == "keeper-deadline-from-end" && s < k.deadline:
		k.deadline = max(k.deadline, e+k.renewDeadline)
		k.lastErr = nil
		return k.refresh
	case err == nil && e-s <= k.refresh && s < k.deadline:
		k.deadline = max(k.deadline, s+k.renewDeadline)
		k.lastErr = nil
		return k.refresh
	case err == nil:
		k.lastErr = fmt.Errorf("refresh took %v, longer than the refresh interval %v", e-s, k.refresh)
		return retry
	case errors.Is(err, algorithm.ErrNotHeld):
		k.Lose(err)
		return k.refresh
	default:
		k.lastErr = err
		return retry
	}
}
