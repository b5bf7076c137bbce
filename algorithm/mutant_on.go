//go:build nfslease_mutants

package algorithm

import (
	"maps"
	"slices"
	"strings"
)

func (l *fluflLock) mut(m mutation) bool  { return l.mutations&m != 0 }
func (l *strictLock) mut(m mutation) bool { return l.mutations&m != 0 }

// Mutants lists the deliberate bugs Mutant can build in, named after the
// protocol they break ("flufl-…", "strict-…").
func Mutants() []string {
	return slices.Sorted(maps.Keys(mutationNames))
}

// Mutant returns the protocol with the named deliberate bug. It exists
// only in builds with the nfslease_mutants tag.
func Mutant(name string) (Protocol, bool) {
	m, ok := mutationNames[name]
	if !ok {
		return nil, false
	}
	if strings.HasPrefix(name, "strict-") {
		return strictProtocol{mutations: m}, true
	}
	return fluflProtocol{mutations: m}, true
}

var mutationNames = map[string]mutation{
	"flufl-break-unlink-by-name":   mBreakUnlinkByName,
	"flufl-no-touch-before-link":   mNoTouchBeforeLink,
	"flufl-no-skew-allowance":      mNoSkewAllowance,
	"flufl-release-unchecked":      mReleaseUnchecked,
	"flufl-claim-no-random":        mClaimNoRandom,
	"flufl-trust-nlink":            mTrustNlink,
	"flufl-trust-link-return":      mTrustLinkReturn,
	"flufl-mint-unverified":        mMintUnverified,
	"flufl-mint-adopt-ambiguous":   mMintAdoptAmbiguous,
	"flufl-liveness-host-only":     mLivenessHostOnly,
	"flufl-liveness-unknown-start": mLivenessUnknownStart,

	"strict-break-by-path":          mStrictBreakByPath,
	"strict-release-by-path":        mStrictReleaseByPath,
	"strict-trust-rename":           mStrictTrustRename,
	"strict-watch-from-first-sight": mStrictWatchFromFirstSight,
	"strict-mint-unverified":        mMintUnverified,
	"strict-mint-adopt-ambiguous":   mMintAdoptAmbiguous,
	"strict-liveness-host-only":     mLivenessHostOnly,
	"strict-liveness-unknown-start": mLivenessUnknownStart,

	"flufl-refresh-no-touch":       mRefreshNoTouch,
	"strict-refresh-no-touch":      mRefreshNoTouch,
	"flufl-no-margin":              mNoStaleMargin,
	"strict-no-margin":             mNoStaleMargin,
	"flufl-break-no-turns":         mBreakNoTurns,
	"flufl-break-no-reread":        mBreakNoReread,
	"flufl-break-no-turn-deadline": mBreakNoTurnDeadline,
	"flufl-break-no-compare":       mBreakNoCompare,
	"flufl-watch-from-first-sight": mFluflWatchFromFirstSight,
}
