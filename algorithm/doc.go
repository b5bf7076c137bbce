// Package algorithm implements the lock protocols of nfslease as
// deterministic step machines.
//
// A Protocol makes a Lock for one path. Each method of a Lock performs one
// bounded protocol step against an fsops.FS and returns: no goroutines, no
// sleeps, no timers, no globals, and no clock: the caller passes the
// current time. Package lease drives a Lock from its concurrent shell
// (retries, backoff, the refresher, the deadline); the simulator drives the
// same code under injected faults.
//
// Protocol is sealed: Flufl and Strict are its only implementations (its
// methods name types of an internal package), because a lease is only as
// safe as its protocol's semantics, and the simulator checks those of
// these two.
//
// # Protocols
//
// Flufl is on-disk compatible with Python's flufl.lock (5.x to 9.x): a claim
// file named "<lock>|<host>|<pid>|<field4>" holding its own path, made the
// lock by link(2); the lock's mtime is its expiry.
//
// Strict, the default of package lease, publishes a generation directory
// holding one owner record by rename(2), and removes a generation only
// through a handle bound to the one judged stale (openat/unlinkat), then
// rmdir, so no removal, replayed or late, can reach a newer lock. It
// needs a filesystem whose rename, rmdir and handles behave as POSIX says;
// SelfTester checks that once per directory. docs/protocol.md gives both
// formats and every step.
//
// # Fencing tokens
//
// Lock.Mint, after an acquisition, moves a counter file next to the lock,
// ".<base>.token.<N>", to N+1 with rename(2), then checks that the lock is
// still ours: tokens of one path are unique and each is above every token
// handed out before its mint began, even where the lock itself failed
// (docs/fencing.md). Hints, shared by the Locks of one process, lets a
// mint start from the last value it minted instead of a listing, and
// spaces out Flufl's sweeps of leftovers; every hint is checked by the
// filesystem or harmless when wrong.
//
// # Guarantees
//
//   - Ownership is decided by reading the lock back (its content, a claim
//     unique to one acquisition, and its inode where the filesystem has real
//     inode numbers), never by the link count or by the result of link(2)
//     alone: NFS can report failure for a link it applied, and sshfs
//     reports EPERM for EEXIST and a link count of 1.
//   - A refresh touches our claim by its own name, so it can never extend
//     someone else's lock, and it verifies that the lock is still ours.
//   - A lock that records its lifetime (one made by this package) is judged
//     stale only after it has been seen unchanged for that lifetime plus
//     StaleMargin on the waiter's monotonic clock: no clock agreement is
//     needed. Any lock is also stale when its recorded expiry is older than
//     Config.SkewAllowance on the waiter's wall clock (flufl.lock's rule);
//     that rule assumes wall clocks agree within the allowance.
//   - A break moves the lock aside with rename(2) and removes it only if it
//     is the very version that was judged stale; otherwise it puts it back.
//   - Nothing is removed unless it is ours, or the stale lock judged, or the
//     claim file of that stale lock, named by it, in the lock's directory,
//     of this very lock, holding the same claim and untouched since it was
//     judged, or a claim file of this lock that a crashed process of this
//     package on this host left, untouched for long (at most 8 per
//     acquisition; see Config.PidAlive), or a token counter file of this
//     lock below the current one. Lock files are read with a bound of
//     4 KiB, without following symbolic links and without blocking on
//     FIFOs.
//
// # Non-guarantees
//
// The flufl.lock format cannot be made safe against everything:
// docs/protocol.md lists the remaining windows (a replayed NFS REMOVE or
// RENAME of the lock name, or one a hard mount held up during a partition,
// that runs after a new holder has taken it; a
// Python breaker racing a Go holder; the instant between moving a
// wrongly-judged lock aside and putting it back). Timing assumptions (clock
// rates, pauses) are those of any lease and are stated in package lease.
package algorithm
