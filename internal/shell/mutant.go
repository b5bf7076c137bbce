package shell

// A mutation is a deliberate bug of the shell. Mutated shells exist only in
// builds with the nfslease_mutants tag (see mutant_on.go), where the
// simulator uses them to show that it catches each bug; in every other
// build on reports false and the compiler drops the mutated paths.
type mutation uint32

const (
	mLateGrant           mutation = 1 << iota // hand out a grant whose attempt began more than the renew deadline ago, its deadline counted from the grant
	mLateRefreshRevives                       // a successful refresh after the lease was lost revives it
	mNoDeadline                               // failed refreshes never lose the lease; only proof of loss does
	mDeadlineFromEnd                          // a refresh counts however long it took, and moves the deadline from its end, not its start
	mReleasePastDeadline                      // Release is never told the deadline passed: it acts on a read-back that returned after it
)
