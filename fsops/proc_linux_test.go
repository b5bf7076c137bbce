package fsops_test

import (
	"bufio"
	"bytes"
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

// A process in a time namespace with another boot-time offset sees its
// own start time (field 22 of /proc/PID/stat) shifted by that offset; we
// read another number for the same live process. Probe must not offer
// ours as comparable with the one it recorded: start 0 (unknown) or the
// very number it sees for itself.
func TestOSProcsProbeOtherTimeNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("NFSLEASE_REQUIRE_ROOT") != "" {
			t.Fatal("NFSLEASE_REQUIRE_ROOT is set but the test does not run as root: cannot make a time namespace")
		}
		t.Skip("not root: cannot make a time namespace")
	}
	if _, err := os.Readlink("/proc/self/ns/time"); err != nil {
		t.Skipf("no time namespaces on this kernel: %v", err)
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skipf("no unshare(1): %v", err)
	}
	cmd := exec.Command("unshare", "--fork", "--time", "--boottime", "1000",
		"sh", "-c", `read -r l < /proc/$$/stat; echo "$l"; exec sleep 10`)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading the child's stat line: %v", err)
	}
	pid, seen, err := fsops.ParseStat(bytes.TrimSuffix(line, []byte("\n")))
	if err != nil {
		t.Fatalf("ParseStat(%q): %v", line, err)
	}
	state, start := fsops.OSProcs().Probe(pid)
	if state != fsops.ProcRunning || (start != 0 && start != seen) {
		t.Fatalf("Probe(%d) = %v, %d; the process sees its start as %d: want running with start 0 or %d", pid, state, start, seen, seen)
	}
	t.Logf("child %d sees start %d; Probe = %v, %d", pid, seen, state, start)
}
