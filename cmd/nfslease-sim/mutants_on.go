//go:build nfslease_mutants

package main

import (
	"strings"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/shell"
	"github.com/nfslease/nfslease/internal/sim"
)

// shellMutation returns the sim.Mutation that adds the shell's deliberate
// bug name.
func shellMutation(name string) sim.Mutation {
	return sim.Mutation{Shell: func(p *shell.Params) {
		if !shell.Mutate(p, name) {
			fatalf("no shell mutant %q", name)
		}
	}}
}

// allMutants lists the protocols' and the shell's deliberate bugs.
func allMutants() []mutant {
	var ms []mutant
	for _, n := range algorithm.Mutants() {
		p, _ := algorithm.Mutant(n)
		m := mutant{name: n, protocols: []algorithm.Protocol{p}}
		if strings.HasSuffix(n, "-mint-unverified") {
			// "Mint without checking the lease afterwards": the protocol
			// does not read the lock back, and the shell does not check
			// the renew deadline before handing the lease out (either
			// check alone stops the bug within the assumptions).
			m.shell = shellMutation("shell-late-grant")
		}
		ms = append(ms, m)
	}
	for _, n := range shell.Mutants() {
		ms = append(ms, mutant{name: n, protocols: []algorithm.Protocol{algorithm.Flufl, algorithm.Strict}, shell: shellMutation(n)})
	}
	return ms
}
