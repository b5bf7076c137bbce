//go:build !unix

package fsops

// killProbe cannot tell without kill(2).
func killProbe(int) (state ProcState, other bool) { return ProcUnknown, false }
