package proto

import "time"

// LocalPoll is how often a waiter probes the process of a holder that is
// a live process of this machine (same boot and pid namespace;
// Lock.HolderGone): such a holder can be proven dead the moment it exits,
// so a waiter takes its lock over within about LocalPoll of its death,
// not a lifetime. A probe reads the process table, not the lock, so it
// costs the filesystem nothing; attempts, which do, follow the caller's
// backoff as for any other holder.
const LocalPoll = 50 * time.Millisecond

// EmptyFileWait is how long a Flufl waiter watches an empty file at the
// lock path, unchanged, before it reports that it is not a lock: Python
// flufl.lock empties its lock only while it rewrites it, for an instant.
const EmptyFileWait = 2 * time.Second
