package proto

import (
	"sync"
	"time"
)

// Hints is what a process remembers between Locks to save filesystem
// calls: the last value it minted from each token counter, and when it
// last swept each lock's directory for leftovers (Flufl). Every hint is
// either checked by the filesystem before it is relied on (a counter
// renamed from a value that is no longer current fails, and the mint
// lists the directory as it would without a hint) or harmless when wrong
// (a sweep skipped is done by a later acquisition; a rename without
// replacing thought unsupported is done the portable way). Share one per
// process through Config.Hints. The zero value is ready to use; a nil
// *Hints remembers nothing. It is safe for concurrent use.
type Hints struct {
	mu sync.Mutex
	// Each map forgets everything when it reaches maxHints entries, so
	// that a process locking ever new paths does not grow without bound:
	// a hint forgotten costs a listing or a sweep, nothing more.
	tokens map[string]uint64        // by counter: directory + lock base name
	swept  map[string]time.Duration // by lock path: Instant.Mono of the last sweep
	plain  map[string]bool          // by directory: RenameNoReplace answered unsupported
}

// maxHints bounds each map of Hints.
const maxHints = 4096

func (h *Hints) Token(key string) (uint64, bool) {
	if h == nil {
		return 0, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.tokens[key]
	return n, ok
}

func (h *Hints) SetToken(key string, n uint64) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tokens == nil || len(h.tokens) >= maxHints {
		h.tokens = make(map[string]uint64)
	}
	h.tokens[key] = n
}

// SweepDue reports whether the lock at path is due a sweep at now: no
// sweep that found everything it could remove (see SetSwept) ran in the
// last interval every. A leftover can be removed only once it has been
// untouched for more than a lifetime (see sweep), so one such sweep per
// lifetime per process finds what more frequent sweeps would, at most a
// lifetime later. A reading before the last sweep (another clock) makes
// it due.
func (h *Hints) SweepDue(path string, now Instant, every time.Duration) bool {
	if h == nil {
		return true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	last, ok := h.swept[path]
	return !ok || now.Mono < last || now.Mono-last >= every
}

// SetSwept records a sweep of the lock at path at now that removed all it
// could. A sweep that stopped at its bound is not recorded, so the next
// acquisition sweeps again.
func (h *Hints) SetSwept(path string, now Instant) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.swept == nil || len(h.swept) >= maxHints {
		h.swept = make(map[string]time.Duration)
	}
	h.swept[path] = now.Mono
}

// NoReplaceUnsupported reports whether a rename without replacing
// (fsops.NoReplaceRenamer) answered unsupported in dir before, so that it
// need not be tried again there.
func (h *Hints) NoReplaceUnsupported(dir string) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.plain[dir]
}

// SetNoReplaceUnsupported records that a rename without replacing answered
// unsupported in dir.
func (h *Hints) SetNoReplaceUnsupported(dir string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.plain == nil || len(h.plain) >= maxHints {
		h.plain = make(map[string]bool)
	}
	h.plain[dir] = true
}
