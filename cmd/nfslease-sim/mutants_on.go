//go:build nfslease_mutants

package main

import (
	"strings"

	"github.com/nfslease/nfslease/algorithm"
)

func protocolMutants() []mutant {
	var ms []mutant
	for _, n := range algorithm.Mutants() {
		p, _ := algorithm.Mutant(n)
		// "Mint without checking the lease afterwards": the protocol
		// does not read the lock back, and the shell does not check
		// the renew deadline before handing the lease out (either check
		// alone stops the bug within the assumptions).
		ms = append(ms, mutant{name: n, protocol: p, uncheckedGrant: strings.HasSuffix(n, "-mint-unverified")})
	}
	return ms
}
