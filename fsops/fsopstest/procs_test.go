package fsopstest_test

import (
	"testing"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
)

func TestMachine(t *testing.T) {
	a, b := fsopstest.NewMachine("a", 4026531836), fsopstest.NewMachine("b", 4026531836)
	if a.BootID() == b.BootID() || !fsops.ValidBootID(a.BootID()) {
		t.Fatalf("boot ids %q, %q: want distinct and valid", a.BootID(), b.BootID())
	}
	holder := a.Start(42)
	waiter := a.Start(43)
	view := a.Procs(waiter, false)
	if !holder.Known() || view.Self() != waiter {
		t.Fatalf("identities %+v, %+v", holder, view.Self())
	}
	if s, start := view.Probe(42); s != fsops.ProcRunning || start != holder.Start {
		t.Errorf("Probe(holder) = %v, %d", s, start)
	}
	a.Kill(42)
	if s, _ := view.Probe(42); s != fsops.ProcGone {
		t.Errorf("Probe(killed) = %v, want gone", s)
	}
	reused := a.Start(42)
	if s, start := view.Probe(42); s != fsops.ProcRunning || start == holder.Start || start != reused.Start {
		t.Errorf("Probe(reused pid) = %v, %d; want running with a new start time %d", s, start, reused.Start)
	}
	a.SetOtherUser(42, true)
	if s, start := view.Probe(42); s != fsops.ProcRunning || start != 0 {
		t.Errorf("Probe(other user's) = %v, %d; want running, start unknown", s, start)
	}
	if id := a.Procs(waiter, true).Self(); id.Known() || id.Pid != waiter.Pid {
		t.Errorf("hidden Self = %+v, want the pid only", id)
	}
	if s, _ := b.Procs(b.Start(1), false).Probe(43); s != fsops.ProcGone {
		t.Errorf("another machine sees pid 43 as %v", s)
	}
}
