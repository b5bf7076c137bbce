package lease

import (
	"fmt"
	"time"
)

// EventKind says what happened to a lease.
type EventKind int

const (
	// EventAcquired: the lock was acquired. Duration is the time waited.
	EventAcquired EventKind = iota + 1
	// EventRefreshed: a background refresh succeeded. Duration is how
	// long the refresh call took.
	EventRefreshed
	// EventRefreshFailed: a background refresh failed (Err); it is
	// retried until the renew deadline.
	EventRefreshFailed
	// EventLost: the lease was lost (Err, a *LostError).
	EventLost
	// EventReleased: the lease ended and the lock was removed (or, with
	// Err set, its removal failed). Duration is the time held.
	EventReleased
	// EventBrokeStale: a stale lock was broken while acquiring. Holder is
	// the stale holder, when it could be read (Holder.Dead: its process
	// was proven gone).
	EventBrokeStale
	// EventWaiting: an acquisition has been waiting for another holder
	// for Duration; Holder is the holder it waits for. It comes after 5 s
	// of waiting and then every 30 s, with a log line at Info level.
	EventWaiting
)

func (k EventKind) String() string {
	switch k {
	case EventAcquired:
		return "acquired"
	case EventRefreshed:
		return "refreshed"
	case EventRefreshFailed:
		return "refresh failed"
	case EventLost:
		return "lost"
	case EventReleased:
		return "released"
	case EventBrokeStale:
		return "broke stale"
	case EventWaiting:
		return "waiting"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// An Event is something that happened to a lease, passed to the hook set
// with WithEventHook.
type Event struct {
	Kind     EventKind
	Path     string        // the lock path (absolute)
	At       time.Time     // when it happened (on the clock of WithClock)
	Duration time.Duration // see the kinds
	Token    uint64        // the lease's fencing token (see TokenOf); 0 for EventBrokeStale and EventWaiting
	Holder   *Holder       // EventBrokeStale: the stale holder; EventWaiting: the holder waited for
	Err      error         // EventRefreshFailed, EventLost; EventReleased if removal failed
}

// WithEventHook sets a function called for every event of a lease:
// acquisition, refresh, refresh failure, loss, release, and stale locks
// broken while acquiring. It is for metrics and tracing.
//
// fn is called synchronously, from the goroutine that calls Acquire or
// release and from the lease's background goroutines (the refresher and
// the deadline timer, so possibly concurrently), never while the lease's
// internal lock is held. It must be fast: a slow hook delays refreshes,
// and so risks the lease. It must not call the lease's release function:
// called from the refresher, release would wait for itself. Nil means no
// hook.
//
// A panic in fn is not recovered. Called from a background goroutine it
// ends the program, as any unrecovered panic does; the lock is then a dead
// holder's (taken at once by waiters of this machine, after its lifetime
// by others). Called from Acquire, it goes up through Acquire and may leave
// our claim or staging files behind, as a crash does (waiters collect
// them).
func WithEventHook(fn func(Event)) Option {
	return optionFunc(func(c *config) { c.hook = fn })
}

// emit calls the event hook, if any.
func (c *config) emit(e Event) {
	if c.hook != nil {
		if e.At.IsZero() {
			e.At = c.clock.Now()
		}
		c.hook(e)
	}
}
