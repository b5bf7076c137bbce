// Package algorithm implements the lock protocols of nfslease, Strict and
// Flufl, as deterministic step machines: each step is one bounded sequence
// of filesystem calls, with no goroutines, sleeps, timers, globals or clock
// of its own (the caller passes the time). Package lease drives them; the
// simulator in internal/sim drives the very same steps under injected
// faults. Users choose one with lease.WithProtocol and match the errors
// below; docs/protocol.md gives both formats and every step.
//
// Protocol is sealed: Flufl and Strict are its only implementations (its
// methods name types of an internal package), because a lease is only as
// safe as its protocol's semantics, and the simulator checks those of
// these two.
//
// Strict (the default of package lease) publishes a generation directory
// holding one owner record by rename(2). It refreshes, and removes an owner
// record to break or release, only through a directory handle bound to one
// generation (the rmdir that follows removes only an empty directory), so
// that no call, replayed or late, can reach a newer holder's lock; it has
// no claim file. It judges a
// holder stale only by watching its record unchanged for the recorded
// lifetime plus a one-second margin on the waiter's monotonic clock, and
// never compares wall clocks. It needs rename, rmdir and handles that
// behave as POSIX says, which it self-tests once per directory
// (ErrUnsupportedFS).
//
// Flufl is on-disk compatible with Python's flufl.lock (5.x to 9.x): a
// claim file made the lock by link(2) and refreshed by touching the claim
// by its own name. It releases and breaks without unlinking the lock by
// name: it moves whatever is there aside with rename(2), removes it only if
// it is ours (release) or the very version judged stale (break), and puts
// it back otherwise. It also judges by
// flufl.lock's wall-clock rule, so wall clocks must agree within the skew
// allowance.
//
// Both decide ownership by reading the lock back, never by the link count
// or by link(2)'s result; remove nothing that is not theirs; and mint
// fencing tokens that are unique and increasing per lock path
// (docs/fencing.md). Not guaranteed: the flufl.lock format leaves windows
// open under NFS replays and Python breakers (docs/protocol.md §2.8).
package algorithm
