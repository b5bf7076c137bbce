//go:build !nfslease_mutants

package main

// allMutants lists no mutant: they exist only in builds with the
// nfslease_mutants tag.
func allMutants() []mutant { return nil }
