//go:build !nfslease_mutants

package algorithm

func (*fluflLock) mut(mutation) bool { return false }

func (*strictLock) mut(mutation) bool { return false }
