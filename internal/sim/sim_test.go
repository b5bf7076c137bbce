package sim_test

import (
	"bytes"
	"testing"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/sim"
)

var protocols = []algorithm.Protocol{algorithm.Flufl, algorithm.Strict}

// TestSmoke runs a few seeds of every protocol under every profile and
// fails on a violation outside the protocol's documented limits. The full
// campaign is cmd/nfslease-sim.
func TestSmoke(t *testing.T) {
	for _, proto := range protocols {
		for _, p := range sim.Profiles {
			t.Run(proto.Name()+"/"+p.Name, func(t *testing.T) {
				t.Parallel()
				total := sim.Result{}
				for seed := range uint64(5) {
					r := sim.Run(sim.Config{Protocol: proto, Profile: p, Seed: seed, Acquisitions: 100})
					total.Acquisitions += r.Acquisitions
					total.Faults += r.Faults
					total.Ex.Add(r.Ex)
					for _, v := range r.Violations {
						if v.Excuse != "" {
							t.Logf("seed %d: %v", seed, v)
						} else {
							t.Errorf("seed %d: %v", seed, v)
						}
					}
				}
				if total.Acquisitions < 5*100 {
					t.Errorf("%d acquisitions, want at least %d", total.Acquisitions, 5*100)
				}
				t.Logf("acquisitions=%d faults=%d %v", total.Acquisitions, total.Faults, total.Ex)
			})
		}
	}
}

func TestDeterministic(t *testing.T) {
	p, _ := sim.ProfileByName("replay")
	for _, proto := range protocols {
		var a, b bytes.Buffer
		sim.Run(sim.Config{Protocol: proto, Profile: p, Seed: 7, Acquisitions: 50, Trace: &a})
		sim.Run(sim.Config{Protocol: proto, Profile: p, Seed: 7, Acquisitions: 50, Trace: &b})
		if !bytes.Equal(a.Bytes(), b.Bytes()) || a.Len() == 0 {
			t.Fatalf("%s: two runs of seed 7 differ (%d and %d bytes of trace)", proto.Name(), a.Len(), b.Len())
		}
	}
}
