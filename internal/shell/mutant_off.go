//go:build !nfslease_mutants

package shell

// on reports whether a deliberate bug is in p: never, in this build.
// (Params.mut is read only by the nfslease_mutants build's on.)
func (p *Params) on(mutation) bool { return false }
