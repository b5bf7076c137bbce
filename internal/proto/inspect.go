package proto

import "github.com/nfslease/nfslease/fsops"

// Look is what one read-only look at a lock path shows.
type Look struct {
	// Holder describes the holder; nil if nothing holds the lock.
	Holder *Holder

	// Stale reports that the lock is provably stale from this one look:
	// a lock whose holder is provably dead (Holder.Dead, either
	// protocol), or a Flufl lock whose recorded expiry is older than the
	// skew allowance on our wall clock. Otherwise one look cannot prove a
	// Strict lock stale (that takes watching it unchanged).
	Stale bool
}

// Inspector is implemented by protocols that can read a lock without
// changing anything: no create, touch, rename or removal, and no
// collection of other processes' leftovers. Both Strict and Flufl
// implement it.
type Inspector interface {
	// Inspect reads the lock at path as of now. A missing path, or a
	// Strict lock directory without an owner record (a release or break
	// half done), is unlocked. Something at path that is not a lock of
	// this protocol gives an error wrapping ErrNotLock.
	Inspect(fsys fsops.FS, path string, cfg Config, now Instant) (Look, error)
}
