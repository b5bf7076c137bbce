//go:build linux

// Command nfslease-chaos runs many worker processes, each on its own mount
// of one shared filesystem, that compete for one lock with lease.Acquire
// while faults are injected, and checks mutual exclusion and fencing
// tokens from outside the shared filesystem.
//
// The parent re-executes itself as the workers; worker i uses mount i mod
// len(mounts), so the lock file is the same on the server but reached
// through different clients. Each worker loops: acquire
// <mount>/chaos/<run>/job.lock, report "enter" with its fencing token and a
// CLOCK_MONOTONIC timestamp, hold for a random time while watching held,
// report "exit" (before release), release, idle. A few holdings last longer
// than the lifetime, so that the lease is refreshed while held. The parent, meanwhile:
//
//   - kills a random worker (a holder half of the time) with SIGKILL and
//     starts a replacement, so waiters must break stale locks;
//   - pauses a random worker with SIGSTOP for a short time (well below the
//     lease's safety margin) and resumes it with SIGCONT;
//   - optionally stops the FUSE daemon (sshfs, glusterfs) serving one
//     mount for a few seconds (-partition-pids), a partition of that client
//     during which its calls hang; half of the time the mount of the
//     current holder.
//
// After the run it checks the holding intervals: no two may overlap, no
// two may share a token, and a later interval must have a larger token.
// An interval ends when its worker reports exit, or when it was seen dead
// (SIGKILL); a lease lost while held ends when the worker saw held
// cancelled, later than the loss itself, so the check errs towards
// reporting an overlap. It prints one line of figures and exits 1 on any
// violation.
//
//	nfslease-chaos -mounts /m/c1,/m/c2,/m/c3 -protocol strict -workers 6 -duration 40s -lifetime 3s -fs-name sshfs
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const workerEnv = "NFSLEASE_CHAOS_WORKER" // the worker's JSON config, in workers only

func main() {
	if os.Getenv(workerEnv) != "" {
		if err := worker(); err != nil {
			fmt.Fprintln(os.Stderr, "nfslease-chaos worker:", err)
			os.Exit(1)
		}
		return
	}
	var (
		cfg      config
		mounts   string
		partPids string
	)
	flag.StringVar(&mounts, "mounts", "", "comma-separated mount directories of one shared filesystem (required)")
	flag.StringVar(&cfg.protocol, "protocol", "strict", "lock protocol: strict or flufl")
	flag.IntVar(&cfg.workers, "workers", 6, "worker processes competing at any time")
	flag.DurationVar(&cfg.duration, "duration", 30*time.Second, "how long to inject faults")
	flag.DurationVar(&cfg.lifetime, "lifetime", 3*time.Second, "lease lifetime")
	flag.StringVar(&cfg.fsName, "fs-name", "fs", "label of the filesystem in the output")
	flag.DurationVar(&cfg.holdMin, "hold-min", 2*time.Millisecond, "shortest holding time")
	flag.DurationVar(&cfg.holdMax, "hold-max", 100*time.Millisecond, "longest holding time")
	flag.DurationVar(&cfg.idleMax, "idle-max", 100*time.Millisecond, "longest idle time after a release")
	flag.Float64Var(&cfg.longP, "long-holds", 0.05, "fraction of holdings that last between half and twice the lifetime")
	flag.DurationVar(&cfg.killEvery, "kill-every", 5*time.Second, "mean time between SIGKILLs (0: none)")
	flag.DurationVar(&cfg.pauseEvery, "pause-every", time.Second, "mean time between SIGSTOP pauses (0: none)")
	flag.DurationVar(&cfg.pauseMax, "pause-max", 150*time.Millisecond, "longest SIGSTOP pause of a worker")
	flag.StringVar(&partPids, "partition-pids", "", "comma-separated pids of the FUSE daemons (sshfs, glusterfs) serving the mounts, in -mounts order (enables partitions)")
	flag.DurationVar(&cfg.partEvery, "partition-every", 8*time.Second, "mean time between partitions")
	flag.DurationVar(&cfg.partMax, "partition-max", 5*time.Second, "longest partition (the shortest is a fifth of it)")
	flag.Uint64Var(&cfg.seed, "seed", 0, "random seed (0: from the time)")
	flag.BoolVar(&cfg.tokensReportOnly, "tokens-report-only", false, "report token violations without failing: for mounts whose directory listings are documented not to be coherent (docs/fencing.md: sshfs with caching)")
	flag.StringVar(&cfg.trace, "trace", "", "write every worker line and fault, timestamped, to this file")
	expectUnsupported := flag.Bool("expect-unsupported", false, "instead of a run, check that acquiring with -protocol on the first mount fails with algorithm.ErrUnsupportedFS (Strict on sshfs)")
	flag.Parse()
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "nfslease-chaos:", err)
		os.Exit(1)
	}
	for m := range strings.SplitSeq(mounts, ",") {
		if m != "" {
			cfg.mounts = append(cfg.mounts, m)
		}
	}
	if len(cfg.mounts) == 0 {
		fail(errors.New("-mounts is required"))
	}
	if partPids != "" {
		for s := range strings.SplitSeq(partPids, ",") {
			pid, err := strconv.Atoi(s)
			if err != nil || pid <= 1 {
				fail(fmt.Errorf("bad -partition-pids entry %q", s))
			}
			cfg.partPids = append(cfg.partPids, pid)
		}
		if len(cfg.partPids) != len(cfg.mounts) {
			fail(errors.New("-partition-pids needs one pid per mount"))
		}
	}
	if cfg.protocol != "strict" && cfg.protocol != "flufl" {
		fail(fmt.Errorf("-protocol must be strict or flufl, not %q", cfg.protocol))
	}
	if cfg.workers < 2 {
		fail(errors.New("-workers must be at least 2"))
	}
	if *expectUnsupported {
		if err := checkUnsupported(&cfg); err != nil {
			fail(err)
		}
		return
	}
	if cfg.seed == 0 {
		cfg.seed = uint64(time.Now().UnixNano())
	}
	ok, err := run(&cfg)
	if err != nil {
		fail(err)
	}
	if !ok {
		os.Exit(1)
	}
}

type config struct {
	mounts                    []string
	protocol                  string
	workers                   int
	duration, lifetime        time.Duration
	fsName                    string
	holdMin, holdMax, idleMax time.Duration
	longP                     float64
	killEvery                 time.Duration
	pauseEvery, pauseMax      time.Duration
	partPids                  []int
	partEvery, partMax        time.Duration
	seed                      uint64
	trace                     string
	tokensReportOnly          bool
}

// run is one chaos run: spawn the workers, inject faults for -duration
// while collecting what the workers report, stop them, and check.
func run(cfg *config) (ok bool, err error) {
	exe, err := os.Executable()
	if err != nil {
		return false, err
	}
	runDir := fmt.Sprintf("%s-%d", cfg.protocol, os.Getpid())
	base := filepath.Join(cfg.mounts[0], "chaos", runDir)
	if err := os.MkdirAll(base, 0o755); err != nil {
		return false, err
	}
	defer func() {
		if rerr := os.RemoveAll(base); rerr != nil && err == nil {
			err = rerr
		}
	}()
	var trace *bufio.Writer
	if cfg.trace != "" {
		f, err := os.Create(cfg.trace)
		if err != nil {
			return false, err
		}
		trace = bufio.NewWriter(f)
		defer func() {
			if ferr := trace.Flush(); ferr != nil && err == nil {
				err = ferr
			}
			if cerr := f.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
	} else {
		trace = bufio.NewWriter(io.Discard)
	}
	t0 := mono()
	k := &campaign{
		cfg:    cfg,
		exe:    exe,
		runDir: runDir,
		tracef: func(format string, args ...any) {
			fmt.Fprintf(trace, "%10.3f ", float64(mono()-t0)/1e9)
			fmt.Fprintf(trace, format+"\n", args...)
		},
		rng:     rand.New(rand.NewPCG(cfg.seed, 0x6e66736c65617365)),
		msgs:    make(chan msg, 1024),
		resumeT: time.NewTimer(time.Hour),
	}
	defer k.resumeT.Stop()
	k.tracef("seed %d mounts %v protocol %s lifetime %v", cfg.seed, cfg.mounts, cfg.protocol, cfg.lifetime)
	defer k.reap()

	for i := range cfg.workers {
		if err := k.spawn(i % len(cfg.mounts)); err != nil {
			return false, err
		}
	}

	began := time.Now()
	end := time.After(cfg.duration)
	killC, pauseC := k.next(cfg.killEvery), k.next(cfg.pauseEvery)
	var partC <-chan time.Time
	if len(cfg.partPids) > 0 {
		partC = k.next(cfg.partEvery)
	}
loop:
	for {
		select {
		case m := <-k.msgs:
			k.collect(m)
		case <-end:
			break loop
		case <-k.resumeT.C:
			k.resumeDue()
		case <-killC:
			killC = k.next(cfg.killEvery)
			if err := k.kill(); err != nil {
				return false, err
			}
		case <-pauseC:
			pauseC = k.next(cfg.pauseEvery)
			k.pause()
		case <-partC:
			partC = k.next(cfg.partEvery)
			if err := k.partition(); err != nil {
				return false, err
			}
		}
	}
	ran := time.Since(began)

	// Stop: resume everything, ask every worker to finish (they report exit
	// and release), and wait; kill what does not end.
	k.resumeAll()
	for _, c := range k.children {
		if !c.dead && !c.killed {
			c.termed = true
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	grace := time.After(cfg.lifetime + 15*time.Second)
	for k.alive > 0 {
		select {
		case m := <-k.msgs:
			k.collect(m)
		case <-grace:
			for _, c := range k.children {
				if !c.dead && !c.killed {
					k.st.stuck++
					c.killed = true
					_ = c.cmd.Process.Kill()
				}
			}
			grace = nil
		}
	}

	left, err := leftovers(base)
	if err != nil {
		return false, err
	}
	return k.report(ran, left), nil
}
