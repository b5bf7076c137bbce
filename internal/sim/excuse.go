package sim

import (
	"time"

	"github.com/nfslease/nfslease/internal/proto"
)

// An excuse names the exact mechanism by which a fault, not a bug of the
// client, broke an invariant. No excuse is per profile or per protocol:
// each applies to one call, or one process in one window, wherever it
// happens, to the real code and to mutants alike. The oracle records a
// mechanism when it sees it (the call the server ran, the pause the
// process took) and excuses only the violations against the lock that
// this call removed or moved, or against the process that this pause
// froze, while that holder still holds the lease it held then.
//
// I3, I4, I5 and I6 are never excused.
const (
	// ExcuseReplayedLockCall: a RENAME of the lock name itself (moving
	// whatever is there aside, to be checked and put back if it is not
	// the caller's) that the server ran a second time (a retransmission
	// that missed the duplicate request cache, or a late duplicate), after
	// its caller had finished: the lock it moved is never put back. No
	// client check can prevent it when the lock is a name (Flufl's format,
	// research R4). An unlink of the lock name is never excused: moving
	// aside and checking is how a client avoids removing a lock taken
	// since. Strict never acts on the lock name but through rmdir, which
	// cannot remove a live lock.
	ExcuseReplayedLockCall = "replayed-lock-call"

	// ExcuseLateLockCall: a RENAME of the lock name itself (as above) that
	// the server applied longer after the caller's previous call (the
	// check it follows) than a lock can go unrefreshed before it may be
	// judged stale (lifetime − renew deadline + StaleMargin): a hard mount
	// held the request in a partition, or held the check's reply, so the
	// check was out of date when the call took effect, and it removed or
	// moved a lock taken since. It is the replay above with a delay
	// instead of a duplicate (docs/protocol.md §2.8). A releaser that
	// sends such a call after its own renew deadline could know better:
	// that breaks I3 (submit), whatever the excuse.
	ExcuseLateLockCall = "late-lock-call"

	// ExcusePathHandle: a call through a directory handle that resolves
	// its path at each call (sshfs, Profile.PathHandles) reached a
	// directory other than the one the handle was opened on, and removed
	// a record there that its caller did not create. Strict's self-test
	// refuses such filesystems; the excuse shows what happens if it did
	// not.
	ExcusePathHandle = "path-handle"

	// ExcuseHolderPaused: the holder's renew deadline passed while the
	// process was frozen, in a pause longer than the timing rules tolerate
	// (pauseTolerance): its held context is live only because it cannot
	// run. Only fencing can protect a resource from it.
	ExcuseHolderPaused = "holder-paused"

	// ExcuseCallerPaused: the call came right after its caller was frozen
	// (no call of its in between) for longer than the timing rules
	// tolerate, acting on a check made before the pause, and removed or
	// moved a lock its caller did not create.
	ExcuseCallerPaused = "caller-paused"
)

// Excuses lists every mechanism, for reports and docs.
var Excuses = []string{ExcuseReplayedLockCall, ExcuseLateLockCall, ExcusePathHandle, ExcuseHolderPaused, ExcuseCallerPaused}

// excusable lists the invariants an excuse can apply to: mutual exclusion
// (I1), a live holder's lock removed (I2), and tokens under the lock (I7),
// which follows from the lock's safety. The fencing property (I6), the
// lost-lease rule (I3), liveness (I4) and cleanup (I5) are never excused.
var excusable = map[string]bool{"I1": true, "I2": true, "I7": true, "I8": true}

// robbery is a lock removed or moved by an excused mechanism.
type robbery struct {
	mech string
	at   time.Duration
}

// pauseTolerance is the longest pause the timing rules of
// docs/protocol.md tolerate, measured by clocks whose rates differ by up to
// the profile's drift (ρ). The lease's (§4): a waiter judges a lock stale
// no earlier than lifetime + StaleMargin after the last visible refresh,
// and the holder stops at its renew deadline, a refresh interval (and,
// with whole-second times, a second) after it. The break turn's (§2.4): a
// breaker sends its rename within its turn, and others judge its break
// lock stale no earlier than the turn plus StaleMargin after it took it.
// A pause that delays the holder's stop, or a caller's act on a check, by
// more than the smaller of the two is beyond the assumptions.
func (s *sim) pauseTolerance() time.Duration {
	gran := time.Duration(0)
	if s.prof.SSHFS {
		gran = time.Second
	}
	rho := (1 + s.prof.Drift) / (1 - s.prof.Drift)
	lease := time.Duration(float64(lifetime+proto.StaleMargin)/rho) - s.renew() - s.refresh() - gran
	turn := proto.BreakTurn(lifetime)
	return min(lease, time.Duration(float64(turn+proto.StaleMargin)/rho)-turn)
}

// rob records that lock identity id was removed or moved by mechanism
// mech (if any). The caller may be the holder itself: a replayed call of
// an earlier acquisition can remove the lock of its next one.
func (s *sim) rob(c *client, id, mech string) {
	if mech == "" || id == "" {
		return
	}
	s.robbed[id] = robbery{mech: mech, at: s.now}
	if s.tracing() {
		s.tracef(c, "excusable: %s removed or moved lock %s", mech, id)
	}
}

// robbedOf returns the mechanism that removed or moved c's lock during its
// current grant, or "".
func (s *sim) robbedOf(c *client) string {
	if r, ok := s.robbed[c.claim]; ok && c.claim != "" && r.at >= c.since {
		return r.mech
	}
	return ""
}

// lookRobbed returns the mechanism that removed or moved the lock c's last
// look at the lock name found, after the server answered that look, or "".
func (s *sim) lookRobbed(c *client) string {
	if r, ok := s.robbed[c.looked]; ok && c.looked != "" && r.at > c.lookedAt {
		return r.mech
	}
	return ""
}

// excuseFor returns the mechanism that excuses a violation against holder
// h (its lock removed, or another acquiring while it holds), or "".
func (s *sim) excuseFor(h *client) string {
	if h == nil {
		return ""
	}
	if m := s.robbedOf(h); m != "" {
		return m
	}
	if s.holderPaused(h) {
		return ExcuseHolderPaused
	}
	return ""
}

// holderPaused reports whether h's lease would have ended by now but for a
// pause beyond the tolerance: its deadline passed while it was frozen.
func (s *sim) holderPaused(h *client) bool {
	if h.h == nil || h.pausedUntil-h.pauseFrom <= s.pauseTolerance() {
		return false
	}
	d := h.trueAt(h.h.Deadline())
	return d <= s.now && h.pauseFrom <= d && d <= h.pausedUntil
}

// oops records a violation of inv against holder h, excused if a
// mechanism excuses violations against h (see excuseFor).
func (s *sim) oops(h *client, inv, format string, args ...any) {
	s.violateExcused(inv, s.excuseFor(h), format, args...)
}
