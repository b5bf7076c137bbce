// Package lease provides leases on shared storage: locks that work across
// processes and hosts that share only a filesystem (NFS, GlusterFS, sshfs,
// SMB), kept alive by a background refresher, and lost in a way the holder
// is told about.
//
//	held, release, err := lease.Acquire(ctx, "/shared/jobs/nightly.lock")
//	if err != nil {
//		return err
//	}
//	defer release()
//	// held is cancelled, with context.Cause(held) wrapping ErrLost, if the
//	// lease is lost; check it before every action the lease protects.
//
// The default protocol is algorithm.Strict, the generation-directory
// protocol, whose breaks and releases cannot remove a newer holder's lock
// even when the NFS server replays a call; before the first acquisition in
// a directory it self-tests the filesystem. WithProtocol(algorithm.Flufl)
// selects the format of Python's flufl.lock, for locks that Go and Python
// processes share.
//
// # Leader election
//
// Lead campaigns for the lock, runs a function while it holds it (its
// context is cancelled when leadership is lost), releases it when the
// function returns, and campaigns again after a loss:
//
//	err := lease.Lead(ctx, "/shared/jobs/scheduler.lock", func(leading context.Context) error {
//		return schedule(leading) // return when leading is done
//	})
//
// A leader that returns or is cancelled releases the lock, and a waiting
// candidate takes over within a poll interval; a crashed leader is
// replaced once its lock has gone unrefreshed for its lifetime plus
// algorithm.StaleMargin. WithLeaderCallbacks observes the terms, and
// WithEventHook the leases (for metrics).
//
// # Inspecting a lock
//
// Inspect reports who holds a lock, made by either protocol or by Python
// flufl.lock, without changing anything on disk. Break removes a lock
// proven stale (watched unchanged for its lifetime + 1 s), or with force
// whoever holds it, through the protocol's identity-checked break; the
// holder finds out at its next refresh.
//
// # Guarantees
//
// Within the timing assumptions below:
//   - At most one holder's held context is live at any time. The holder
//     gives up (cancels held) at its renew deadline, counted from the start
//     of its last successful refresh; others may judge its lock stale only
//     after watching it unchanged for its lifetime plus
//     algorithm.StaleMargin, and the options are validated so that the
//     deadline comes first with a margin of lifetime − renew deadline −
//     refresh interval (defaults: 15 s − 10 s − 3 s = 2 s, plus the 1 s
//     stale margin).
//   - A lost lease is reported: held is cancelled, with a *LostError cause,
//     as soon as a refresh proves the lock is no longer ours, and at the
//     renew deadline at the latest. A later successful refresh never
//     revives it. Transient refresh errors (EIO, ESTALE, timeouts) are
//     retried until the deadline.
//   - release cancels held before it removes the lock, removes the lock
//     only if it is still ours and the deadline has not passed, and always
//     removes our claim file. Nothing that is not ours is removed.
//   - Two leases on one path in one process exclude each other exactly as
//     two processes do.
//
// # Timing assumptions
//
//   - Clock rates: the holder's and the waiters' monotonic clocks run at
//     rates whose ratio is below (lifetime + 1 s) / (renew deadline +
//     refresh interval + 1 s): 1.14 at the defaults (docs/protocol.md
//     derives it). Clock offsets do not matter with algorithm.Strict,
//     which never compares wall clocks. With algorithm.Flufl they matter
//     through its wall-clock rule: wall clocks must agree within the skew
//     allowance (WithSkewAllowance, default 10 s, which is also what
//     Python flufl.lock assumes) plus lifetime − renew deadline.
//   - Pauses: a process paused (GC, VM stall, SIGSTOP) past its deadline
//     cannot cancel held while paused. Code that may be paused between
//     checking held and acting needs a fencing token checked by the
//     resource: TokenOf(held) (docs/fencing.md).
//   - System suspend: Go's monotonic clock on Linux stops while the system
//     is suspended, so a holder resumes believing less time has passed; its
//     next refresh, within one refresh interval, detects a lock that was
//     broken meanwhile.
//
// # Non-guarantees
//
// A lease is not a fence: a holder whose held context is cancelled may
// still have a write in flight. The flufl.lock format (algorithm.Flufl)
// leaves some windows open under NFS replays and Python breakers;
// docs/protocol.md lists them. TryAcquire cannot judge a Strict lock stale
// in a single look, so it reports ErrHeld for a stale one; Acquire breaks
// it.
package lease
