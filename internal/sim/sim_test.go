package sim_test

import (
	"bytes"
	"testing"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/sim"
)

func TestSmoke(t *testing.T) {
	for _, p := range sim.Profiles {
		t.Run(p.Name, func(t *testing.T) {
			total := sim.Result{}
			for seed := range uint64(5) {
				r := sim.Run(sim.Config{Protocol: algorithm.Flufl, Profile: p, Seed: seed, Acquisitions: 100})
				total.Acquisitions += r.Acquisitions
				total.Faults += r.Faults
				total.Overlaps += r.Overlaps
				total.Events += r.Events
				for _, v := range r.Violations {
					t.Logf("seed %d: %v", seed, v)
				}
				total.Violations = append(total.Violations, r.Violations...)
			}
			t.Logf("%s: acquisitions=%d faults=%d overlaps=%d events=%d violations=%d", p.Name, total.Acquisitions, total.Faults, total.Overlaps, total.Events, len(total.Violations))
		})
	}
}

func TestDeterministic(t *testing.T) {
	p, _ := sim.ProfileByName("replay")
	var a, b bytes.Buffer
	sim.Run(sim.Config{Protocol: algorithm.Flufl, Profile: p, Seed: 7, Acquisitions: 50, Trace: &a})
	sim.Run(sim.Config{Protocol: algorithm.Flufl, Profile: p, Seed: 7, Acquisitions: 50, Trace: &b})
	if !bytes.Equal(a.Bytes(), b.Bytes()) || a.Len() == 0 {
		t.Fatalf("two runs of seed 7 differ (%d and %d bytes of trace)", a.Len(), b.Len())
	}
}
