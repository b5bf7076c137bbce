package lease

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// LeaderCallbacks are optional observers of Lead. Each is called
// synchronously from Lead's goroutine and must be fast; nil ones are
// skipped. A callback that panics is not recovered: the panic goes up
// through Lead, as a panic of fn does, after the lease is released if it
// was held (see WithEventHook for hooks).
type LeaderCallbacks struct {
	// OnStartedLeading is called when this process has become the
	// leader, just before fn is called.
	OnStartedLeading func()
	// OnStoppedLeading is called when a term of leadership has ended:
	// after fn has returned and the lease has been released.
	OnStoppedLeading func()
	// OnNewLeader is called while campaigning, each time another holder
	// is seen to hold the lock (as far as its lock file tells).
	OnNewLeader func(Holder)
}

// WithLeaderCallbacks sets observers of Lead's leadership. It applies to
// Lead only: Acquire and TryAcquire given it fail with an error wrapping
// ErrInvalidOption.
func WithLeaderCallbacks(cb LeaderCallbacks) Option {
	return optionFunc(func(c *config) { c.leader = cb })
}

// Lead runs fn while this process is the leader among the processes
// calling Lead on path, and campaigns again whenever leadership is lost.
//
// It campaigns with a blocking Acquire (opts apply), then calls
// fn(leading), where leading is the lease's held context: it is cancelled
// when leadership is lost (context.Cause(leading) wraps ErrLost) or ctx is
// done, and fn must return promptly then. When fn returns, Lead releases
// the lease; a waiting process takes over within about one poll interval
// (WithPollInterval), not a lifetime. Then:
//   - if ctx is done, Lead returns an error wrapping ctx.Err();
//   - if leadership had been lost, Lead campaigns again and calls fn
//     again;
//   - otherwise it returns fn's error (nil if fn succeeded).
//
// Lead also returns, with an error naming the path, if a campaign fails
// with a non-retryable error (see Acquire). WithLeaderCallbacks sets
// observers of the terms of leadership; WithEventHook sees the leases.
func Lead(ctx context.Context, path string, fn func(leading context.Context) error, opts ...Option) error {
	abs := absPath(path)
	cfg, err := newConfig(opts)
	if err != nil {
		return wrapPath(path, abs, err)
	}
	cb := cfg.leader
	opts = append(slices.Clip(opts), optionFunc(func(c *config) { c.leading, c.onHolder = true, cb.OnNewLeader }))
	for {
		leading, release, err := acquire(ctx, path, opts, false)
		if err != nil {
			return err // names the path, and wraps ctx.Err() if ctx is done
		}
		ferr, rerr := lead(leading, release, fn, cb)
		if cb.OnStoppedLeading != nil {
			cb.OnStoppedLeading()
		}
		switch {
		case ctx.Err() != nil:
			if ferr != nil && !errors.Is(ferr, ctx.Err()) {
				return &pathError{path: path, text: fmt.Sprintf("stopped leading: %v (fn returned: %v)", ctx.Err(), ferr), err: errors.Join(ctx.Err(), ferr)}
			}
			return &pathError{path: path, text: "stopped leading: " + ctx.Err().Error(), err: ctx.Err()}
		case errors.Is(rerr, ErrLost), errors.Is(context.Cause(leading), ErrLost):
			cfg.logger.Warn("leadership lost, campaigning again", "lock", path, "err", context.Cause(leading))
			continue
		case ferr != nil:
			return ferr
		case rerr != nil:
			return rerr
		}
		return nil
	}
}

// lead runs one term: OnStartedLeading, fn, and the release, which also
// runs if OnStartedLeading or fn panics (the panic then goes on).
func lead(leading context.Context, release func() error, fn func(context.Context) error, cb LeaderCallbacks) (ferr, rerr error) {
	defer release() // idempotent: the call below has the result
	if cb.OnStartedLeading != nil {
		cb.OnStartedLeading()
	}
	ferr = fn(leading)
	return ferr, release()
}

// set reports whether any callback is set.
func (cb LeaderCallbacks) set() bool {
	return cb.OnStartedLeading != nil || cb.OnStoppedLeading != nil || cb.OnNewLeader != nil
}
