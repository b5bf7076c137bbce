//go:build nfslease_mutants

package shell

import "testing"

// TestRefreshCatchesDeadlineFromEnd: the refresh table catches the shell
// mutant that the simulator reaches only with two faults at once (the
// congested profile; docs/simulation.md, Mutants): a deadline moved from
// a refresh's end, or by a slow refresh. CI runs it with -tags
// nfslease_mutants beside the simulator's mutant lane.
func TestRefreshCatchesDeadlineFromEnd(t *testing.T) {
	p := testParams(t)
	if !Mutate(&p, "shell-deadline-from-end") {
		t.Fatal("no mutant shell-deadline-from-end")
	}
	caught := 0
	for _, tc := range refreshCases() {
		if d := runRefresh(p, tc); d != "" {
			t.Logf("%s: %s", tc.name, d)
			caught++
		}
	}
	if caught == 0 {
		t.Error("shell-deadline-from-end survived every refresh case")
	}
}
