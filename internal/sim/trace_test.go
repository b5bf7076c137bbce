package sim_test

import (
	"flag"
	"os"
	"testing"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/sim"
)

var (
	traceProfile = flag.String("trace.profile", "", "profile of a seed to trace")
	traceSeed    = flag.Uint64("trace.seed", 0, "seed to trace")
	traceProto   = flag.String("trace.protocol", "strict", "protocol to trace: flufl or strict")
)

// TestTrace prints the trace of one seed: go test ./internal/sim -run TestTrace -trace.profile eio -trace.seed 0
func TestTrace(t *testing.T) {
	if *traceProfile == "" {
		t.Skip("no -trace.profile given")
	}
	p, ok := sim.ProfileByName(*traceProfile)
	if !ok {
		t.Fatalf("no profile %q", *traceProfile)
	}
	proto := algorithm.Strict
	if *traceProto == "flufl" {
		proto = algorithm.Flufl
	}
	r := sim.Run(sim.Config{Protocol: proto, Profile: p, Seed: *traceSeed, Acquisitions: 100, Trace: os.Stdout})
	t.Logf("%+v", r)
}
