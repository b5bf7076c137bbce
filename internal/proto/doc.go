// Package proto is the vocabulary shared by the lock protocols of package
// algorithm and the code that drives them (package lease, the shell, the
// simulator): the step-machine interface Lock, its inputs (Config,
// Instant, Hints) and outputs (Attempt, Holder, Look), and the on-disk
// names every protocol shares (the fencing-token counter, recorded host
// names). It is internal so that algorithm.Protocol stays sealed: only
// this module can implement or drive a protocol.
package proto
