package algorithm

// A mutation is a deliberate bug. Mutated protocols exist only in builds
// with the nfslease_mutants tag, where the simulator uses them to show that
// it catches each bug; in every other build mut reports false and the
// compiler drops the mutated paths.
type mutation uint32

const (
	mBreakUnlinkByName mutation = 1 << iota // break with flufl.lock's check-then-unlink by name
	mNoTouchBeforeLink                      // touch the claim once, not before each link
	mNoSkewAllowance                        // wall-clock staleness with no allowance for skew
	mReleaseUnchecked                       // release and close unlink the lock without checking it is ours
	mClaimNoRandom                          // claim names without the random part
	mTrustNlink                             // decide ownership by the claim's link count
	mTrustLinkReturn                        // decide ownership by link()'s return value

	mStrictBreakByPath         // break by removing the record by path, not through the judged generation's handle
	mStrictReleaseByPath       // release by removing the record by path, not through our generation's handle
	mStrictTrustRename         // take a failed rename (lost reply, EIO) as success without reading the lock back
	mStrictWatchFromFirstSight // start the staleness watch when a version is first seen, not at the next step

	mMintUnverified     // mint a fencing token without checking afterwards that the lock is still ours
	mMintAdoptAmbiguous // take a counter rename that failed transiently (lost reply, timeout) as minted

	mLivenessHostOnly     // judge a holder dead by its host name and pid alone (no boot id, namespace or start time)
	mLivenessUnknownStart // judge a running holder whose start time cannot be read (another user's) dead

	// The break races of research/nfs-correctness.md §2.2 and the timing
	// rules of docs/protocol.md §3–4, one mutant each.
	mRefreshNoTouch           // §3: Refresh checks the lock but never touches it (the lock is never kept fresh)
	mNoStaleMargin            // §4, R6: judge stale after the recorded lifetime, without StaleMargin
	mBreakNoTurns             // R1: breakers do not take turns through the break lock
	mBreakNoReread            // R2: break on the judgement, without the fresh look immediately before acting
	mBreakNoTurnDeadline      // R1: move the lock aside even when the breaker's turn ran out while it looked
	mBreakNoCompare           // R2, R4: remove what the break moved aside without comparing it with the version judged
	mFluflWatchFromFirstSight // §2.3: start the staleness watch when a version is first seen, not at the next step
)
