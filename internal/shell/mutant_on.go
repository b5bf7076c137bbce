//go:build nfslease_mutants

package shell

import (
	"maps"
	"slices"
)

func (p *Params) on(m mutation) bool { return p.mut&m != 0 }

// mutationNames are the shell mutants the simulator must catch.
var mutationNames = map[string]mutation{
	"shell-late-grant":            mLateGrant,
	"shell-late-refresh-revives":  mLateRefreshRevives,
	"shell-no-deadline":           mNoDeadline,
	"shell-deadline-from-end":     mDeadlineFromEnd,
	"shell-release-past-deadline": mReleasePastDeadline,
}

// Mutants lists the names of the shell's deliberate bugs.
func Mutants() []string { return slices.Sorted(maps.Keys(mutationNames)) }

// Mutate adds the deliberate bug name to p; it reports false for an
// unknown name.
func Mutate(p *Params, name string) bool {
	m, ok := mutationNames[name]
	p.mut |= m
	return ok
}
