// Command bench is the nfslease benchmark harness (issue 14): nfslease's two
// protocols side by side with the raw syscall floor of each protocol, C
// liblockfile, Python flufl.lock and gofrs/flock, interleaved in one run on
// the same directories of an ext4 and a tmpfs filesystem.
//
//	cd bench && go run . -out results/           # the full run (≈10 min)
//	cd bench && go run . -quick -out /tmp/bq     # the smoke run (< 60 s)
//
// It measures the uncontended acquire+release cycle, the filesystem calls
// per cycle (strace -f -c, and a counting fsops.FS for nfslease), handoff
// latency between processes, failover after SIGKILL of the holder, 10,000
// leases held in one process, and the load waiters put on the filesystem.
// It prints the tables, and writes results.md, results.json and
// handoff.svg into -out. It uses only the public API of package lease, so
// it measures whatever the working tree's library does. See
// docs/benchmarks.md for the figures of the project's machine.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

type config struct {
	quick        bool
	out          string
	ext4, tmpfs  string
	shared       []string
	parts        map[string]bool
	rounds       int
	batch        time.Duration
	handoffDur   time.Duration
	handoffProcs []int
	failoverReps int
	manyN        int
	manyPerDir   int
	manyDur      time.Duration
	manyRefresh  []time.Duration // refresh intervals of the many-leases runs (0: the default)
	waiterDur    time.Duration
	waiterWarm   time.Duration
	waiterNs     []int
	baseline     string          // a bench binary of another tree, for before/after handoffs
	systems      map[string]bool // lock systems of the handoff part (empty: all)
}

var allParts = []string{"cycle", "calls", "handoff", "failover", "many", "waiters"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "worker" {
		if err := workerMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench worker:", err)
			os.Exit(1)
		}
		return
	}
	var c config
	flag.BoolVar(&c.quick, "quick", false, "the smoke run: fewer rounds, shorter runs, under 60 s")
	flag.StringVar(&c.out, "out", "results", "directory for results.md, results.json and handoff.svg")
	flag.StringVar(&c.ext4, "ext4", ".", "a directory on a disk filesystem (ext4 on the project's machines; the default, the current directory, is the repository's; /tmp and /var/tmp are several times slower there)")
	flag.StringVar(&c.tmpfs, "tmpfs", "/dev/shm", "a directory on tmpfs")
	shared := flag.String("sharedfs", "", "two mount points of one shared filesystem, comma-separated (e.g. from .ci/sharedfs.sh up sshfs 2), for failover through a second mount; skipped if empty")
	parts := flag.String("parts", strings.Join(allParts, ","), "which parts to run")
	manyN := flag.Int("many", 0, "leases held at once (default 10000; quick 1000)")
	flag.IntVar(&c.manyPerDir, "many-per-dir", 100, "leases per directory in the many-leases run (today's code lists a lock's directory at its first acquisition, so thousands in one directory take minutes to acquire)")
	manyDur := flag.Duration("many-dur", 0, "how long they are held (default 60s; quick 2s)")
	manyRefresh := flag.String("many-refresh", "0,4.2s", "refresh intervals of the many-leases runs, comma-separated (0: the default, lifetime/5; 4.2s is about the longest the safety margin allows at lifetime 15s and the default renew deadline of 10s)")
	handoffDur := flag.Duration("handoff-dur", 0, "length of each handoff run (default 10s; quick 1.5s)")
	flag.StringVar(&c.baseline, "baseline", "", "a bench binary built from another tree (e.g. main): the handoff part also runs nfslease's workers from it, each run right before the same run of this tree's, labelled <system>-baseline")
	systems := flag.String("systems", "", "lock systems of the handoff part, comma-separated (default all: strict,flufl,py,c,flock)")
	replot := flag.String("replot", "", "redraw results.md and handoff.svg into -out from this results.json, and run nothing")
	flag.Parse()
	if *replot != "" {
		if err := redraw(*replot, c.out); err != nil {
			logf("%v", err)
			os.Exit(1)
		}
		return
	}
	c.parts = map[string]bool{}
	for _, p := range strings.Split(*parts, ",") {
		if p = strings.TrimSpace(p); p != "" {
			if !slices.Contains(allParts, p) {
				logf("unknown part %q (parts: %s)", p, strings.Join(allParts, ","))
				os.Exit(2)
			}
			c.parts[p] = true
		}
	}
	c.systems = map[string]bool{}
	for _, k := range strings.Split(*systems, ",") {
		if k = strings.TrimSpace(k); k != "" {
			c.systems[k] = true
		}
	}
	if *shared != "" {
		c.shared = strings.Split(*shared, ",")
		if len(c.shared) != 2 {
			logf("-sharedfs wants two mount points, comma-separated")
			os.Exit(2)
		}
	}
	if c.quick {
		c.rounds, c.batch = 5, 15*time.Millisecond
		c.handoffDur, c.handoffProcs = 1500*time.Millisecond, []int{4}
		c.failoverReps = 1
		c.manyN, c.manyDur = 1000, 2*time.Second
		c.waiterDur, c.waiterWarm, c.waiterNs = 2*time.Second, 500*time.Millisecond, []int{1, 100}
	} else {
		c.rounds, c.batch = 21, 40*time.Millisecond
		c.handoffDur, c.handoffProcs = 10*time.Second, []int{2, 4, 8}
		c.failoverReps = 3
		c.manyN, c.manyDur = 10000, 60*time.Second
		c.waiterDur, c.waiterWarm, c.waiterNs = 20*time.Second, 5*time.Second, []int{1, 10, 100}
	}
	if *manyN > 0 {
		c.manyN = *manyN
	}
	for _, f := range strings.Split(*manyRefresh, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(f))
		if err != nil {
			logf("-many-refresh: %v", err)
			os.Exit(2)
		}
		c.manyRefresh = append(c.manyRefresh, d)
	}
	if *manyDur > 0 {
		c.manyDur = *manyDur
	}
	if *handoffDur > 0 {
		c.handoffDur = *handoffDur
	}
	if err := run(&c); err != nil {
		logf("%v", err)
		os.Exit(1)
	}
}

// exes are the worker binaries of a handoff run of s: the baseline's
// first, if set and s is nfslease's, then this one's ("").
func (c *config) exes(s system) []string {
	if c.baseline != "" && (s.key == sysStrict.key || s.key == sysFlufl.key) {
		return []string{c.baseline, ""}
	}
	return []string{""}
}

// timePart logs how long a part took, when the function it returns is called.
func timePart(name string) func() {
	t := time.Now()
	return func() { logf("part %s took %s", name, time.Since(t).Round(100*time.Millisecond)) }
}

// fsTypeName names the filesystem of dir by its statfs magic.
func fsTypeName(dir string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "?"
	}
	switch st.Type {
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.XFS_SUPER_MAGIC:
		return "xfs"
	case unix.BTRFS_SUPER_MAGIC:
		return "btrfs"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	case unix.FUSE_SUPER_MAGIC:
		return "fuse"
	case unix.NFS_SUPER_MAGIC:
		return "nfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}

type machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"cpu_model"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	Date   string `json:"date"`
	Load   string `json:"loadavg_at_start"`
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Date: time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := exec.Command("uname", "-r").Output(); err == nil {
		m.Kernel = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.Load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// Results is everything one run measured; results.json holds it.
type Results struct {
	Machine       machine                       `json:"machine"`
	Quick         bool                          `json:"quick"`
	Versions      map[string]string             `json:"versions"`
	Dirs          []fsDir                       `json:"dirs"`
	Cycles        []*cycleResult                `json:"cycles,omitempty"`
	FSOps         map[string]map[string]float64 `json:"fsops_per_cycle,omitempty"` // "system/fs" -> op -> calls
	Strace        []*straceResult               `json:"strace,omitempty"`
	Handoff       []*handoffResult              `json:"handoff,omitempty"`
	Retake        []*handoffResult              `json:"retake,omitempty"`
	SharedHandoff []*handoffResult              `json:"shared_handoff,omitempty"`
	Failover      []*failoverResult             `json:"failover,omitempty"`
	Shared        string                        `json:"shared_failover_skipped,omitempty"`
	SharedMounts  []string                      `json:"shared_mounts,omitempty"`
	Many          []*manyResult                 `json:"many,omitempty"`
	ManyErr       map[string]string             `json:"many_errors,omitempty"`
	Waiters       []*waitersResult              `json:"waiters,omitempty"`
	WaitErr       map[string]string             `json:"waiter_errors,omitempty"`
	Took          string                        `json:"took"`
}

func run(c *config) error {
	t0 := time.Now()
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	res := &Results{Machine: describeMachine(), Quick: c.quick}
	toolDir, err := os.MkdirTemp("", "nfslease-bench-tools-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(toolDir)
	t := setupTools(toolDir)
	res.Versions = t.versions()
	for k, why := range t.why {
		logf("%s unavailable: %s", k, why)
	}
	var dirs []fsDir
	for _, base := range []string{c.ext4, c.tmpfs} {
		if base == "" {
			continue
		}
		d, err := os.MkdirTemp(base, "nfslease-harness-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		// Absolute, as users name locks: a relative path would add a
		// getwd to every cycle of the systems that resolve it.
		if d, err = filepath.Abs(d); err != nil {
			return err
		}
		dirs = append(dirs, fsDir{fsTypeName(d), d})
	}
	res.Dirs = dirs
	logf("machine: %d CPUs, %s, kernel %s, %s; dirs %v", res.Machine.CPUs, res.Machine.Model, res.Machine.Kernel, res.Machine.Go, dirs)
	disk := dirs[0]

	if c.parts["cycle"] {
		done := timePart("cycle")
		logf("uncontended cycle: %d interleaved rounds", c.rounds)
		res.Cycles = runCycles(dirs, t, c.rounds, c.batch)
		done()
	}
	if c.parts["calls"] {
		done := timePart("calls")
		res.FSOps = map[string]map[string]float64{}
		for _, d := range dirs {
			for _, s := range []system{sysStrict, sysFlufl} {
				per, err := countCycle(s, filepath.Join(d.Path, "count-"+s.lock), 200)
				if err != nil {
					return fmt.Errorf("counting %s on %s: %w", s.key, d.Name, err)
				}
				res.FSOps[s.key+"/"+d.Name] = per
			}
		}
		n1, n2 := 50, 550
		sdirs := dirs
		if c.quick {
			n1, n2, sdirs = 20, 220, dirs[:1]
		}
		for _, d := range sdirs {
			for _, s := range cycleSystems {
				r := straceCycle(t, s, d, toolDir, n1, n2)
				if r.Err != "" {
					logf("strace %s on %s: %s", s.key, d.Name, r.Err)
				}
				res.Strace = append(res.Strace, r)
			}
		}
		done()
	}
	if c.parts["handoff"] {
		done := timePart("handoff")
		for _, n := range c.handoffProcs {
			for _, s := range lockSystems {
				if len(c.systems) > 0 && !c.systems[s.key] {
					continue
				}
				if c.quick && s.key == sysC.key {
					res.Handoff = append(res.Handoff, &handoffResult{System: s.key, FS: disk.Name, Procs: n, Err: "skipped in -quick (its waiters sleep 5 s)"})
					continue
				}
				for _, exe := range c.exes(s) {
					r := runHandoff(t, s, exe, []fsDir{disk}, n, 20*time.Millisecond, 10*time.Millisecond, c.handoffDur)
					logf("handoff: %v %s", r, r.Err)
					res.Handoff = append(res.Handoff, r)
				}
			}
		}
		for _, s := range lockSystems {
			if len(c.systems) > 0 && !c.systems[s.key] {
				continue
			}
			if c.quick && s.key != sysStrict.key {
				continue // the smoke run checks one
			}
			for _, exe := range c.exes(s) {
				r := runHandoff(t, s, exe, []fsDir{disk}, 4, 20*time.Millisecond, 0, c.handoffDur)
				logf("re-take (no idle): %v %s", r, r.Err)
				res.Retake = append(res.Retake, r)
			}
		}
		if len(c.shared) == 2 {
			// Through two mounts of a shared filesystem: no notifications,
			// each process sees the others' changes only by polling.
			name := mountType(c.shared[0]) + ", 2 mounts"
			ds := []fsDir{{name, c.shared[0]}, {name, c.shared[1]}}
			for _, s := range []system{sysStrict, sysFlufl, sysPy} {
				r := runHandoff(t, s, "", ds, 4, 20*time.Millisecond, 10*time.Millisecond, c.handoffDur)
				logf("handoff through 2 mounts: %v %s", r, r.Err)
				res.SharedHandoff = append(res.SharedHandoff, r)
			}
		}
		done()
	}
	if c.parts["failover"] {
		done := timePart("failover")
		for _, s := range lockSystems {
			if c.quick && (s.key == sysPy.key || s.key == sysC.key) {
				res.Failover = append(res.Failover, &failoverResult{System: s.key, Where: disk.Name, Err: "skipped in -quick (takes 5-15 s)"})
				continue
			}
			res.Failover = append(res.Failover, runFailover(t, s, disk.Name, disk.Path, disk.Path, 2*time.Second, c.failoverReps))
		}
		if len(c.shared) == 2 {
			where := mountType(c.shared[0]) + ", 2nd mount"
			logf("failover through a second mount: holder on %s, waiter on %s", c.shared[0], c.shared[1])
			res.SharedMounts = c.shared
			for _, s := range []system{sysStrict, sysFlufl, sysPy} {
				res.Failover = append(res.Failover, runFailover(t, s, where, c.shared[0], c.shared[1], 2*time.Second, c.failoverReps))
			}
		} else {
			res.Shared = "no -sharedfs mounts given (set up two with: sudo .ci/sharedfs.sh up sshfs 2, or up gluster 2)"
			logf("failover through a second mount skipped: %s", res.Shared)
		}
		done()
	}
	if c.parts["many"] {
		done := timePart("many")
		res.ManyErr = map[string]string{}
		for _, every := range c.manyRefresh {
			for _, s := range []system{sysRefresh, sysStrict, sysFlufl} {
				r, err := runMany(s, disk.Path, c.manyN, c.manyPerDir, every, c.manyDur)
				if err != nil {
					res.ManyErr[s.key+" "+every.String()] = err.Error()
					logf("many %s, refresh %v: %v", s.key, every, err)
					continue
				}
				logf("many %s: %+v", s.key, *r)
				res.Many = append(res.Many, r)
			}
		}
		done()
	}
	if c.parts["waiters"] {
		done := timePart("waiters")
		res.WaitErr = map[string]string{}
		for _, s := range []system{sysStrict, sysFlufl} {
			for _, n := range c.waiterNs {
				r, err := runWaiters(t, s, disk.Path, n, c.waiterDur, c.waiterWarm)
				if err != nil {
					res.WaitErr[fmt.Sprintf("%s/%d", s.key, n)] = err.Error()
					logf("waiters %s %d: %v", s.key, n, err)
					continue
				}
				logf("waiters %s %d: %.2f calls/s per waiter", s.key, n, r.PerWaiterS)
				res.Waiters = append(res.Waiters, r)
			}
		}
		done()
	}
	res.Took = time.Since(t0).Round(time.Second).String()

	js, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "results.json"), js, 0o644); err != nil {
		return err
	}
	if err := write(res, c.out, true); err != nil {
		return err
	}
	logf("wrote %s/{results.md,results.json,handoff.svg} in %s", c.out, res.Took)
	return nil
}

// write renders results.md (printing it too, if print) and handoff.svg
// into out.
func write(res *Results, out string, print bool) error {
	md := report(res)
	if print {
		fmt.Print(md)
	}
	if err := os.WriteFile(filepath.Join(out, "results.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if len(res.Handoff) > 0 {
		fs := res.Handoff[0].FS
		svg := handoffSVG(res.Handoff, fmt.Sprintf("Handoff latency on %s, hold 20 ms, idle 10 ms (%s, %d CPUs, %s)", fs, res.Machine.Date, res.Machine.CPUs, res.Machine.Go))
		if err := os.WriteFile(filepath.Join(out, "handoff.svg"), []byte(svg), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// redraw re-renders a saved run.
func redraw(jsonPath, out string) error {
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		return err
	}
	var res Results
	if err := json.Unmarshal(b, &res); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	return write(&res, out, false)
}

// runMany runs the many-leases worker in a process of its own, so that its
// CPU time, memory and descriptors are its own.
func runMany(s system, base string, n, perDir int, refresh, dur time.Duration) (*manyResult, error) {
	d, err := os.MkdirTemp(base, "many-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(d)
	cmd := exec.Command(self(), "worker", "many", "-system", s.key, "-dir", d, "-n", fmt.Sprint(n), "-per-dir", fmt.Sprint(perDir), "-dur", dur.String(), "-lifetime", "15s", "-refresh", refresh.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("many worker: %w", err)
	}
	var r manyResult
	return &r, json.Unmarshal(out, &r)
}

// runWaiters holds the lock in one process and runs n waiters on it in
// another, through a counting fsops.FS, at the default options.
func runWaiters(t *tools, s system, base string, n int, dur, warm time.Duration) (*waitersResult, error) {
	d, err := os.MkdirTemp(base, "waiters-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(d)
	path := filepath.Join(d, s.lock)
	holder := failoverCmd(t, s, "hold", path, 15*time.Second)
	hout, err := startPiped(holder)
	if err != nil {
		return nil, err
	}
	defer func() {
		_ = holder.Process.Kill()
		_ = holder.Wait()
	}()
	if _, err := expect(hout, "held", 30*time.Second); err != nil {
		return nil, fmt.Errorf("holder: %w", err)
	}
	cmd := exec.Command(self(), "worker", "waiters", "-system", s.key, "-path", path, "-n", fmt.Sprint(n), "-dur", dur.String(), "-warm", warm.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("waiters worker: %w", err)
	}
	var r waitersResult
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, err
	}
	if r.Acquired != 0 {
		return nil, fmt.Errorf("%d waiters acquired a lock held by a live process", r.Acquired)
	}
	return &r, nil
}
