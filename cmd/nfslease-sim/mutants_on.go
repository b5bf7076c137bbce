//go:build nfslease_mutants

package main

import "github.com/nfslease/nfslease/algorithm"

func protocolMutants() []mutant {
	var ms []mutant
	for _, n := range algorithm.Mutants() {
		p, _ := algorithm.Mutant(n)
		ms = append(ms, mutant{name: n, protocol: p})
	}
	return ms
}
