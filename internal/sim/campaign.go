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
	"github.com/nfslease/nfslease/internal/shell"
)

// Mutation is a deliberate bug of the shell (internal/shell, the code
// package lease runs) for mutant runs; the zero value is none.
type Mutation struct {
	// Shell, if not nil, adds the shell's deliberate bugs to the lease
	// parameters (shell.Mutate, in builds with the nfslease_mutants tag).
	Shell func(*shell.Params)
}

// Tally sums the results of many runs of one protocol under one profile.
type Tally struct {
	Protocol, Profile string
	Seeds             int
	Acquisitions      int
	Faults            int
	Breaks            int
	Tokens            int // fencing tokens granted (checked by I6)
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

// Excused returns the number of violations that a mechanism excuses (see
// Excuses); the rest are failures.
func (t *Tally) Excused() int { return t.excused }

// Failures returns the number of violations outside documented limits.
func (t *Tally) Failures() int { return t.Count() - t.excused }

func (t *Tally) add(r Result) {
	t.Seeds++
	t.Acquisitions += r.Acquisitions
	t.Faults += r.Faults
	t.Breaks += r.Breaks
	t.Tokens += r.Tokens
	t.Events += r.Events
	t.Ex.Add(r.Ex)
	for _, v := range r.Violations {
		t.Violations[v.Invariant]++
		excused := !t.fails(v)
		if excused {
			t.excused++
		}
		// First is the first failure, or the first excused violation
		// if there is no failure.
		if t.First == nil || (t.firstIsExcused && !excused) || (t.firstIsExcused == excused && r.Seed < t.FirstSeed) {
			v := v
			t.First, t.FirstSeed, t.firstIsExcused = &v, r.Seed, excused
		}
	}
}

// fails reports whether no mechanism excuses v.
func (t *Tally) fails(v Violation) bool { return v.Excuse == "" }

// Line is the tally on one line.
func (t *Tally) Line() string {
	var inv []string
	for k, v := range t.Violations {
		inv = append(inv, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(inv)
	s := fmt.Sprintf("sim: protocol=%s profile=%s seeds=%d acquisitions=%d faults=%d tokens=%d I6=%d violations=%d failures=%d",
		t.Protocol, t.Profile, t.Seeds, t.Acquisitions, t.Faults, t.Tokens, t.Violations["I6"], t.Count(), t.Failures())
	if len(inv) > 0 {
		s += " (" + strings.Join(inv, " ") + ")"
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
				r := Run(Config{Protocol: p, Mutation: mut, Profile: prof, Seed: seed, Acquisitions: acquisitions})
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
