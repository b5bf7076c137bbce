//go:build !nfslease_mutants

package algorithm

func (*fluflLock) mut(mutation) bool { return false }
