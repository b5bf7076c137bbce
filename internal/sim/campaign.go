package sim

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nfslease/nfslease/algorithm"
)

// KnownLimits lists, per protocol name, the profiles whose faults the
// protocol is documented not to survive (docs/simulation.md). Violations
// there are reported, but separately from violations within the
// protocol's guarantees.
var KnownLimits = map[string][]string{
	// A REMOVE or RENAME of the shared lock name that runs twice on the
	// server (a duplicate request cache miss) can remove a lock taken
	// since: no check on the client can prevent it in flufl.lock's format.
	"flufl": {"replay", "nfsv3-soft"},
	// sshfs resolves a directory handle's path again at each call
	// (Profile.PathHandles), so a handle can reach a newer generation at
	// the lock's name. Strict's self-test refuses sshfs for that reason
	// (path-numbered inodes give it away); the profile shows what would
	// happen if it did not.
	"strict": {"sshfs"},
}

// Unconditional lists the invariants that no known limit excuses: the
// fencing tokens (I6) stay unique and increasing even under the faults a
// protocol's lock does not survive, since fencing is what protects a
// resource on the day the lock fails.
var Unconditional = map[string]bool{"I6": true}

// KnownLimitViolation reports whether a violation of invariant inv by
// protocol under profile is within the protocol's documented limits.
func KnownLimitViolation(protocol, profile, inv string) bool {
	return IsKnownLimit(protocol, profile) && !Unconditional[inv]
}

// LateCallLimit lists the protocols that are documented not to survive a
// rename or removal of the lock name that the server applies late: held up
// by a hard mount's partition for longer than a lock can go unrefreshed
// before it may be judged stale (lifetime − renew deadline + StaleMargin),
// after the check it follows, and moving or removing a lock that is not
// its caller's. It is the same limit as a replay (KnownLimits), met in any
// profile with hard partitions, so it is judged per violation: an I1, I2
// or I7 violation within a lifetime plus the stale margin and a second of
// such a call is within the limit (Violation.Limit).
var LateCallLimit = map[string]bool{"flufl": true}

// IsKnownLimit reports whether profile is a documented limit of protocol.
func IsKnownLimit(protocol, profile string) bool {
	for _, p := range KnownLimits[protocol] {
		if p == profile {
			return true
		}
	}
	return false
}

// Mutation is a deliberate bug of the concurrent shell (package lease's
// rules, which the simulator plays) for mutant runs; the zero value is
// none.
type Mutation struct {
	Keeper string // a keeper.Mutations entry
	// UncheckedGrant hands out a lease even when its attempt and mint
	// outlasted the renew deadline. With a protocol that mints without
	// reading the lock back, it makes the mutant "mint without checking
	// the lease afterwards".
	UncheckedGrant bool
}

// Tally sums the results of many runs of one protocol under one profile.
type Tally struct {
	Protocol, Profile string
	Seeds             int
	Acquisitions      int
	Faults            int
	Breaks            int
	Tokens            int // fencing tokens granted (checked by I6)
	Overlaps          int
	Events            int
	Ex                Exercised
	Violations        map[string]int // per invariant
	excused           int            // violations within documented limits
	firstIsExcused    bool
	First             *Violation // the first violation seen, with its seed
	FirstSeed         uint64
	Elapsed           time.Duration
}

// Count returns the number of violations.
func (t *Tally) Count() int {
	n := 0
	for _, c := range t.Violations {
		n += c
	}
	return n
}

// KnownLimit reports whether the profile is a documented limit of the
// protocol.
func (t *Tally) KnownLimit() bool { return IsKnownLimit(t.Protocol, t.Profile) }

// Excused returns the number of violations within the protocol's
// documented limits (see KnownLimitViolation and LateCallLimit); the rest
// are failures.
func (t *Tally) Excused() int { return t.excused }

// Failures returns the number of violations outside documented limits.
func (t *Tally) Failures() int { return t.Count() - t.excused }

func (t *Tally) add(r Result) {
	t.Seeds++
	t.Acquisitions += r.Acquisitions
	t.Faults += r.Faults
	t.Breaks += r.Breaks
	t.Tokens += r.Tokens
	t.Overlaps += r.Overlaps
	t.Events += r.Events
	t.Ex.add(r.Ex)
	for _, v := range r.Violations {
		t.Violations[v.Invariant]++
		excused := !t.fails(v)
		if excused {
			t.excused++
			if v.Limit != "" {
				t.Ex.excuse("late-call")
			} else {
				t.Ex.excuse("known-limit-profile")
			}
		}
		// First is the first failure, or the first excused violation
		// if there is no failure.
		if t.First == nil || (t.firstIsExcused && !excused) || (t.firstIsExcused == excused && r.Seed < t.FirstSeed) {
			v := v
			t.First, t.FirstSeed, t.firstIsExcused = &v, r.Seed, excused
		}
	}
}

// fails reports whether v is outside the protocol's documented limits.
func (t *Tally) fails(v Violation) bool {
	return v.Limit == "" && !KnownLimitViolation(t.Protocol, t.Profile, v.Invariant)
}

// Line is the tally on one line.
func (t *Tally) Line() string {
	var inv []string
	for k, v := range t.Violations {
		inv = append(inv, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(inv)
	s := fmt.Sprintf("sim: protocol=%s profile=%s seeds=%d acquisitions=%d faults=%d breaks=%d tokens=%d I6=%d violations=%d overlaps-beyond-assumptions=%d",
		t.Protocol, t.Profile, t.Seeds, t.Acquisitions, t.Faults, t.Breaks, t.Tokens, t.Violations["I6"], t.Count(), t.Overlaps)
	if len(inv) > 0 {
		s += " (" + strings.Join(inv, " ") + ")"
	}
	switch ex := t.Excused(); {
	case ex > 0 && ex == t.Count():
		s += " [known limit]"
	case ex > 0:
		s += fmt.Sprintf(" [%d within a known limit]", ex)
	}
	s += " " + t.Ex.String()
	if t.First != nil {
		s += fmt.Sprintf(" first: seed %d %s", t.FirstSeed, t.First)
	}
	return s
}

// Campaign runs seeds [first, first+seeds) of one protocol under one
// profile on all CPUs. stopAtFirst stops at the first violation (for
// mutants).
func Campaign(name string, p algorithm.Protocol, mut Mutation, prof Profile, first uint64, seeds, acquisitions int, stopAtFirst bool) *Tally {
	t := &Tally{Protocol: name, Profile: prof.Name, Violations: map[string]int{}}
	start := time.Now()
	var (
		mu   sync.Mutex
		next = first
		wg   sync.WaitGroup
		stop bool
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if stop || next >= first+uint64(seeds) {
					mu.Unlock()
					return
				}
				seed := next
				next++
				mu.Unlock()
				r := Run(Config{Protocol: p, KeeperMutation: mut.Keeper, UncheckedGrant: mut.UncheckedGrant, Profile: prof, Seed: seed, Acquisitions: acquisitions})
				mu.Lock()
				t.add(r)
				if stopAtFirst && slices.ContainsFunc(r.Violations, t.fails) {
					stop = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	t.Elapsed = time.Since(start)
	return t
}
