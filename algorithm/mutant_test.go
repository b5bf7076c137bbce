//go:build nfslease_mutants

package algorithm_test

import (
	"testing"

	"github.com/nfslease/nfslease/algorithm"
)

// TestBreakCatchesNoCompare: TestBreakPutsBackAWrongVictim catches the
// mutant that the simulator reaches only where calls are often held up
// for seconds (the congested profile; docs/simulation.md, Mutants): a
// break that removes what it moved aside without comparing it with the
// version judged. With turns, a breaker moves a live lock only when a
// call reaches the server late or twice. CI runs it with -tags
// nfslease_mutants beside the simulator's mutant lane.
func TestBreakCatchesNoCompare(t *testing.T) {
	p, ok := algorithm.Mutant("flufl-break-no-compare")
	if !ok {
		t.Fatal("no mutant flufl-break-no-compare")
	}
	e := newEnv(t)
	e.flufl = p
	d := breakWrongVictim(e)
	if d == "" {
		t.Fatal("flufl-break-no-compare survived TestBreakPutsBackAWrongVictim")
	}
	t.Logf("caught: %s", d)
}
