package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed drivers/lockdrv.c
var lockdrvC []byte

//go:embed drivers/pydrv.py
var pydrvPy []byte

// aptInstall installs the Debian packages of pkgs that are missing, when
// running as root; otherwise it says what is missing.
func aptInstall(pkgs ...string) error {
	var missing []string
	for _, p := range pkgs {
		out, err := exec.Command("dpkg-query", "-W", "-f=${Status}", p).Output()
		if err != nil || !strings.Contains(string(out), "install ok installed") {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages %v (not root, not installing)", missing)
	}
	logf("apt-get install %s", strings.Join(missing, " "))
	install := func() error {
		cmd := exec.Command("apt-get", append([]string{"install", "-y", "-qq", "--no-install-recommends"}, missing...)...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("apt-get install %v: %v: %s", missing, err, out)
		}
		return nil
	}
	if install() == nil {
		return nil
	}
	if out, err := exec.Command("apt-get", "update", "-qq").CombinedOutput(); err != nil {
		return fmt.Errorf("apt-get update: %v: %s", err, out)
	}
	return install()
}

// setupTools installs and builds the external drivers into dir. What is
// unavailable is recorded with the reason, and those systems are skipped.
func setupTools(dir string) *tools {
	t := &tools{why: map[string]string{}}
	aptErr := aptInstall("liblockfile-dev", "python3-flufl.lock", "strace")
	if aptErr != nil {
		logf("%v", aptErr)
	}
	cc := ""
	for _, c := range []string{"cc", "gcc"} {
		if p, err := exec.LookPath(c); err == nil {
			cc = p
			break
		}
	}
	src := filepath.Join(dir, "lockdrv.c")
	bin := filepath.Join(dir, "lockdrv")
	switch {
	case cc == "":
		t.why[sysC.key] = "no C compiler (cc, gcc) on PATH"
	default:
		if err := os.WriteFile(src, lockdrvC, 0o644); err != nil {
			t.why[sysC.key] = err.Error()
			break
		}
		out, err := exec.Command(cc, "-O2", "-Wall", "-o", bin, src, "-llockfile").CombinedOutput()
		if err != nil {
			t.why[sysC.key] = fmt.Sprintf("compiling the liblockfile driver: %v: %s", err, out)
			break
		}
		t.lockdrv = bin
	}
	// Debian's python3-flufl.lock is for the system interpreter, which
	// may not be the first python3 on PATH.
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import flufl.lock").Run() == nil {
			t.python = py
			break
		}
	}
	if t.python == "" {
		t.why[sysPy.key] = "no python3 with flufl.lock (apt-get install python3-flufl.lock)"
	} else {
		p := filepath.Join(dir, "pydrv.py")
		if err := os.WriteFile(p, pydrvPy, 0o644); err != nil {
			t.why[sysPy.key] = err.Error()
		} else {
			t.pydrv = p
		}
	}
	if p, err := exec.LookPath("strace"); err == nil {
		t.strace = p
	} else {
		t.why["strace"] = "strace not installed"
	}
	return t
}

// versions describes the external systems, for the report.
func (t *tools) versions() map[string]string {
	v := map[string]string{}
	for _, p := range []string{"liblockfile1", "python3-flufl.lock", "strace"} {
		if out, err := exec.Command("dpkg-query", "-W", "-f=${Version}", p).Output(); err == nil {
			v[p] = string(out)
		}
	}
	if t.python != "" {
		if out, err := exec.Command(t.python, "-c", "import flufl.lock; print(flufl.lock.__version__)").Output(); err == nil {
			v["flufl.lock"] = strings.TrimSpace(string(out))
		}
	}
	return v
}
