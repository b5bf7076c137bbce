package algorithm

import (
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// Protocol is a lock protocol: an on-disk format and the steps that act on
// it. Its only implementations are Flufl and Strict (see the package
// documentation for why it is sealed). A Protocol value is stateless and
// safe for concurrent use.
type Protocol interface {
	// Name identifies the protocol in logs, errors and holder details.
	Name() string

	// New prepares a lock on path without touching the filesystem beyond
	// what is needed to check path. It fails with a clear error if path or
	// cfg cannot be used (an empty or directory-like path, a lock name that
	// cannot carry the protocol's claim suffix within NAME_MAX, a separator
	// character in the path).
	New(fsys fsops.FS, path string, cfg proto.Config) (proto.Lock, error)
}

// The errors that callers match with errors.Is. They are the values the
// protocols wrap.
var (
	// ErrNotHeld is wrapped when a lock is provably no longer ours:
	// removed, replaced or broken.
	ErrNotHeld = proto.ErrNotHeld

	// ErrNotLock is wrapped when something that is not a lock of this
	// protocol sits at the lock path (a directory, FIFO, device, symbolic
	// link, or a file whose content is not a lock record). It is never
	// removed.
	ErrNotLock = proto.ErrNotLock

	// ErrExpired is wrapped by Release when the caller's hold passed its
	// deadline before the lock could be removed: the lock is left to go
	// stale.
	ErrExpired = proto.ErrExpired

	// ErrBadPath is wrapped when a path cannot be used for a lock.
	ErrBadPath = proto.ErrBadPath

	// ErrUnsupportedFS is wrapped when the filesystem lacks a semantic the
	// protocol relies on (Strict's self-test).
	ErrUnsupportedFS = proto.ErrUnsupportedFS
)
