//go:build nfslease_mutants

package algorithm

import "sort"

func (l *fluflLock) mut(m mutation) bool { return l.mutations&m != 0 }

// FluflMutants lists the deliberate bugs FluflMutant can build in.
func FluflMutants() []string {
	var names []string
	for n := range mutationNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FluflMutant returns the Flufl protocol with the named deliberate bug. It
// exists only in builds with the nfslease_mutants tag.
func FluflMutant(name string) (Protocol, bool) {
	m, ok := mutationNames[name]
	return fluflProtocol{mutations: m}, ok
}

var mutationNames = map[string]mutation{
	"flufl-break-unlink-by-name": mBreakUnlinkByName,
	"flufl-no-touch-before-link": mNoTouchBeforeLink,
	"flufl-no-skew-allowance":    mNoSkewAllowance,
	"flufl-release-unchecked":    mReleaseUnchecked,
	"flufl-claim-no-random":      mClaimNoRandom,
	"flufl-trust-nlink":          mTrustNlink,
	"flufl-trust-link-return":    mTrustLinkReturn,
}
