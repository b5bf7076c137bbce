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
// The default protocol is algorithm.Strict, whose breaks and releases
// cannot remove a newer holder's lock even when the NFS server replays a
// call; it self-tests each directory before the first acquisition there.
// WithProtocol(algorithm.Flufl) selects the format of Python's flufl.lock,
// for locks that Go and Python processes share. Lead runs a function while
// it holds a lock (leader election); Inspect reports who holds a lock
// without changing anything; Break removes a lock proven stale (or, with
// force, whoever holds it) through the protocol's identity-checked break.
// Waiting polls with backoff; a release in this process, or (Linux, by
// inotify) on this host, wakes a waiter early, and this process's waiters
// on one lock take turns first come, first served (docs/lease.md).
//
// A crashed holder is taken over once its lock has gone unrefreshed for
// its lifetime plus 1 s; one of this machine at once, by TryAcquire too:
// each lock records its holder's boot id, pid namespace, pid and start
// time, and a waiter of the same boot and pid namespace that finds that
// process gone breaks the lock at its first look (never by host name,
// never without those fields, never for another user's live process).
// That takeover is for locks on local filesystems (ext4, xfs, tmpfs, ...)
// by default: machines cloned from one snapshot share boot ids, so on
// filesystems other machines reach it is off unless WithLocalTakeover.
//
// Guarantees, within the timing assumptions of docs/lease.md (monotonic
// clock rates within a ratio of 1.14 at the defaults; for Flufl, wall
// clocks within the skew allowance):
//   - At most one holder's held context is live at a time: a holder cancels
//     held at its renew deadline, before anyone may judge its lock stale.
//     Wall-clock steps move neither.
//   - A lost lease is reported (held is cancelled with a *LostError cause)
//     and never revived.
//   - Nothing that is not ours is removed. release removes the lock if it
//     is still ours and its deadline has not passed, and Flufl's claim
//     file; a lock left to go stale (lost, or granted too late to return)
//     stays until a waiter breaks it.
//
// Not guaranteed: a lease is not a fence (a paused holder may still act
// after its deadline; use TokenOf and check the token at the resource,
// docs/fencing.md); Flufl has open windows under NFS replays and Python
// breakers (docs/protocol.md); TryAcquire cannot break a stale Strict lock
// whose holder ran on another machine.
package lease
