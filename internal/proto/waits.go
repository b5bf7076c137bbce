package proto

import "time"

// LocalPoll bounds how long a waiter waits before it looks again at a lock
// whose holder is a live process of this machine (same boot and pid
// namespace): such a holder can be proven dead the moment it exits, so a
// waiter takes its lock over within about LocalPoll of its death, not a
// lifetime. Holders of other machines are looked at as the caller's
// backoff decides.
const LocalPoll = 50 * time.Millisecond

// EmptyFileWait is how long a Flufl waiter watches an empty file at the
// lock path, unchanged, before it reports that it is not a lock: Python
// flufl.lock empties its lock only while it rewrites it, for an instant.
const EmptyFileWait = 2 * time.Second
