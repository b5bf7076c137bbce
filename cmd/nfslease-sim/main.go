// Command nfslease-sim runs the deterministic lock simulator
// (internal/sim): every protocol under every fault profile for a number of
// seeds, and, built with -tags nfslease_mutants, the deliberately broken
// protocol variants that the simulator must catch.
//
//	go run ./cmd/nfslease-sim -seeds 500                       # all protocols and profiles
//	go run ./cmd/nfslease-sim -replay crash:17 -protocol flufl # the trace of one seed
//	go run -tags nfslease_mutants ./cmd/nfslease-sim -mutants  # mutants: caught=K of K
//
// It exits with status 1 if a protocol breaks an invariant outside its
// documented limits, or (with -mutants) if a mutant survives.
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/sim"
)

var protocols = map[string]algorithm.Protocol{
	"flufl":  algorithm.Flufl,
	"strict": algorithm.Strict,
}

// A mutant is a deliberately broken variant of a protocol or of the shell
// (or both), run with each of its protocols: it is caught if the simulator
// finds it with any of them.
type mutant struct {
	name      string
	protocols []algorithm.Protocol
	shell     sim.Mutation
}

func main() {
	var (
		seeds      = flag.Int("seeds", 200, "seeds per protocol and profile")
		acqs       = flag.Int("acquisitions", 200, "acquisitions per seed")
		first      = flag.Uint64("first-seed", 0, "first seed")
		profiles   = flag.String("profiles", "", "comma-separated profiles (default: all)")
		protoName  = flag.String("protocol", "", "protocol to run (default: all; with -replay: strict)")
		replay     = flag.String("replay", "", "PROFILE:SEED: print the trace of one run and its violations")
		mutantMode = flag.Bool("mutants", false, "run the mutants instead (needs -tags nfslease_mutants)")
		mutSeeds   = flag.Int("mutant-seeds", 100, "seed budget per mutant and profile")
		mutDeep    = flag.Int("mutant-deep-seeds", 0, "with -mutants: for a mutant that survived -mutant-seeds in every profile, go on to this many seeds per profile")
		mutName    = flag.String("mutant", "", "with -replay: the mutant to trace; with -mutants: run only the mutants whose names start with one of these (comma-separated)")
		mutAll     = flag.Bool("mutant-all-profiles", false, "with -mutants: run every profile for each mutant (the table of which profile catches which), not only until the first catches it")
		cpuProfile = flag.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	)
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fatalf("%v", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fatalf("%v", err)
		}
	}
	profs := sim.Profiles
	if *profiles != "" {
		profs = nil
		for _, n := range strings.Split(*profiles, ",") {
			p, ok := sim.ProfileByName(n)
			if !ok {
				fatalf("no profile %q", n)
			}
			profs = append(profs, p)
		}
	}
	var code int
	switch {
	case *replay != "":
		code = runReplay(*replay, *protoName, *mutName, *acqs)
	case *mutantMode:
		code = runMutants(profs, *mutSeeds, *mutDeep, *acqs, *mutName, *mutAll)
	default:
		code = runAll(profs, *protoName, *first, *seeds, *acqs)
	}
	pprof.StopCPUProfile() // a no-op without -cpuprofile
	os.Exit(code)
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "nfslease-sim: "+format+"\n", args...)
	os.Exit(2)
}

func runAll(profs []sim.Profile, only string, first uint64, seeds, acqs int) int {
	status := 0
	for _, name := range slices.Sorted(maps.Keys(protocols)) {
		if only != "" && name != only {
			continue
		}
		start := time.Now()
		var total sim.Tally
		excused, v, tokens := 0, 0, 0
		var ex sim.Exercised
		for _, prof := range profs {
			t := sim.Campaign(name, protocols[name], sim.Mutation{}, prof, first, seeds, acqs, false)
			fmt.Println(t.Line())
			total.Seeds += t.Seeds
			total.Acquisitions += t.Acquisitions
			total.Faults += t.Faults
			excused += t.Excused()
			ex.Add(t.Ex)
			v += t.Failures()
			tokens += t.Violations["I6"]
		}
		el := time.Since(start)
		fmt.Printf("sim: protocol=%s seeds=%d acquisitions=%d faults=%d failures=%d excused=%d token-violations=%d elapsed=%v rate=%.0f/min %v\n",
			name, total.Seeds, total.Acquisitions, total.Faults, v, excused, tokens, el.Round(time.Second), float64(total.Acquisitions)/el.Minutes(), ex)
		if v > 0 {
			status = 1
		}
	}
	return status
}

func runReplay(spec, protoName, mutName string, acqs int) int {
	profName, seedStr, ok := strings.Cut(spec, ":")
	prof, found := sim.ProfileByName(profName)
	seed, err := strconv.ParseUint(seedStr, 10, 64)
	if !ok || !found || err != nil {
		fatalf("-replay wants PROFILE:SEED, got %q", spec)
	}
	cfg := sim.Config{Protocol: algorithm.Strict, Profile: prof, Seed: seed, Acquisitions: acqs, Trace: os.Stdout}
	if protoName != "" {
		p, ok := protocols[protoName]
		if !ok {
			fatalf("no protocol %q", protoName)
		}
		cfg.Protocol = p
	}
	if mutName != "" {
		m, ok := findMutant(mutName)
		if !ok {
			fatalf("no mutant %q (build with -tags nfslease_mutants)", mutName)
		}
		cfg.Protocol, cfg.Mutation = m.protocols[0], m.shell
		if protoName != "" {
			cfg.Protocol = m.protocolNamed(protoName)
		}
	}
	r := sim.Run(cfg)
	fmt.Printf("seed %d: acquisitions=%d faults=%d violations=%d\n", r.Seed, r.Acquisitions, r.Faults, len(r.Violations))
	for _, v := range r.Violations {
		fmt.Println("  ", v)
	}
	if len(r.Violations) > 0 {
		return 1
	}
	return 0
}

// protocolNamed returns the mutant's protocol called name.
func (m mutant) protocolNamed(name string) algorithm.Protocol {
	for _, p := range m.protocols {
		if p.Name() == name {
			return p
		}
	}
	fatalf("mutant %s has no protocol %q", m.name, name)
	return nil
}

func findMutant(name string) (mutant, bool) {
	for _, m := range allMutants() {
		if m.name == name {
			return m, true
		}
	}
	return mutant{}, false
}

// runMutants runs every mutant under the profiles in turn, each up to a
// seed budget, until one catches it (with all, under every profile), and
// reports which profiles caught which mutants. Excuses apply
// to mutants exactly as to the real code: a mutant is caught by a
// violation no mechanism excuses.
func runMutants(profs []sim.Profile, budget, deep, acqs int, only string, all bool) int {
	ms := allMutants()
	if only != "" {
		ms = slices.DeleteFunc(ms, func(m mutant) bool {
			return !slices.ContainsFunc(strings.Split(only, ","), func(p string) bool { return strings.HasPrefix(m.name, p) })
		})
	}
	if len(ms) == 0 {
		fatalf("no mutants %q in this build: build with -tags nfslease_mutants", only)
	}
	if !all {
		// Profiles that catch most mutants first: a caught mutant stops
		// at its first catching profile, so this order costs least.
		first := []string{"clean", "congested", "lossy", "eio", "sshfs", "partition", "replay"}
		profs = slices.Clone(profs)
		rank := func(p sim.Profile) int {
			if i := slices.Index(first, p.Name); i >= 0 {
				return i
			}
			return len(first)
		}
		slices.SortStableFunc(profs, func(a, b sim.Profile) int { return rank(a) - rank(b) })
	}
	// Seeds [0, budget) of every profile in turn, then, for a mutant no
	// profile caught, seeds [budget, deep) of every profile in turn: most
	// mutants are caught within the first pass, and the second spends
	// seeds only on the few that need many.
	passes := [][2]int{{0, budget}}
	if deep > budget {
		passes = append(passes, [2]int{budget, deep})
	}
	caught := 0
	for _, m := range ms {
		var by []string
		for _, pass := range passes {
			for _, p := range m.protocols {
				for _, prof := range profs {
					if len(by) > 0 && !all {
						break
					}
					if strings.Contains(m.name, "-liveness-") && !prof.Machines {
						// Without process tables (Profile.Machines) no
						// holder is ever judged by its identity: the
						// mutant runs exactly the real code there.
						continue
					}
					t := sim.Campaign(m.name, p, m.shell, prof, uint64(pass[0]), pass[1]-pass[0], acqs, true)
					if t.Failures() > 0 {
						by = append(by, fmt.Sprintf("%s/%s(seed %d, %s)", p.Name(), prof.Name, t.FirstSeed, t.First.Invariant))
					}
				}
			}
			if len(by) > 0 {
				break
			}
		}
		if len(by) > 0 {
			caught++
			fmt.Printf("mutant %s: caught by %s\n", m.name, strings.Join(by, " "))
		} else {
			fmt.Printf("mutant %s: SURVIVED %d seeds in every profile\n", m.name, max(budget, deep))
		}
	}
	fmt.Printf("mutants: caught=%d of %d by the simulator\n", caught, len(ms))
	if caught != len(ms) {
		return 1
	}
	return 0
}
