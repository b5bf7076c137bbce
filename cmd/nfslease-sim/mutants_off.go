//go:build !nfslease_mutants

package main

func protocolMutants() []mutant { return nil }
