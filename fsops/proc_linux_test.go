package fsops_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/nfslease/nfslease/fsops"
)

func TestOSProcsSelf(t *testing.T) {
	p := fsops.OSProcs()
	id := p.Self()
	if !id.Known() || id.Pid != os.Getpid() {
		t.Fatalf("Self() = %+v, want every field known, pid %d", id, os.Getpid())
	}
	if state, start := p.Probe(id.Pid); state != fsops.ProcRunning || start != id.Start {
		t.Errorf("Probe(self) = %v, %d; want running, %d", state, start, id.Start)
	}
	t.Logf("Self() = %+v", id)
}

func TestOSProcsProbe(t *testing.T) {
	p := fsops.OSProcs()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	state, start := p.Probe(pid)
	if state != fsops.ProcRunning || start == 0 || start < p.Self().Start {
		t.Errorf("Probe(child) = %v, %d; want running with a start time after ours (%d)", state, start, p.Self().Start)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if state, start := p.Probe(pid); state != fsops.ProcGone || start != 0 {
		t.Errorf("Probe(reaped child) = %v, %d; want gone", state, start)
	}
	for _, pid := range []int{0, -1, 1 << 40} {
		if state, _ := p.Probe(pid); state != fsops.ProcUnknown {
			t.Errorf("Probe(%d) = %v, want unknown", pid, state)
		}
	}
	// pid 1 always runs; as an ordinary user it is another user's, and
	// nothing but its existence is learned.
	state, start = p.Probe(1)
	if state != fsops.ProcRunning {
		t.Errorf("Probe(1) = %v, want running", state)
	}
	if os.Geteuid() != 0 && start != 0 {
		t.Errorf("Probe(1) as uid %d = start %d, want 0 (another user's process)", os.Geteuid(), start)
	}
}
