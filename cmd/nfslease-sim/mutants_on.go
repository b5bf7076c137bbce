//go:build nfslease_mutants

package main

import "github.com/nfslease/nfslease/algorithm"

func protocolMutants() []mutant {
	var ms []mutant
	for _, n := range algorithm.FluflMutants() {
		p, _ := algorithm.FluflMutant(n)
		ms = append(ms, mutant{name: n, protocol: p})
	}
	return ms
}
