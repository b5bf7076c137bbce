//go:build linux

// Command nfslease-chaos runs many worker processes, each on its own client
// of one shared filesystem, that compete for one lock with lease.Acquire
// while faults are injected, and checks mutual exclusion and fencing
// tokens from outside the shared filesystem.
//
// The clients are either kernel mounts (-mounts: sshfs, GlusterFS) or
// NFSv3 clients of package fsops/nfs3, one per worker process, each
// reaching the server (-nfs) through a fault proxy (proxy.go) on one of
// -nfs-clients front ports, so that the lock file is the same on the
// server but reached through different clients with their own caches.
// The parent re-executes itself as the workers; worker i uses client i mod
// the number of clients. Each worker loops: acquire
// <client>/chaos/<run>/job.lock, report "enter" with its fencing token and a
// CLOCK_MONOTONIC timestamp, hold for a random time while watching held,
// report "exit" (before release), release, idle. A few holdings last longer
// than the lifetime, so that the lease is refreshed while held. The parent,
// meanwhile (inject.go):
//
//   - kills a random worker (a holder half of the time) with SIGKILL and
//     starts a replacement, so waiters must break stale locks;
//   - pauses a random worker with SIGSTOP for a short time (well below the
//     lease's safety margin) and resumes it with SIGCONT;
//   - optionally partitions one client for a few seconds, half of the time
//     the current holder's: it stops the FUSE daemon serving a mount
//     (-partition-pids), or blackholes an NFS client in the proxy
//     (-nfs-partitions), and its calls hang;
//   - on NFS, the proxy drops requests and replies, sends late duplicates
//     and resets connections mid-call, as its flags say.
//
// After the run it checks the holding intervals (check.go): no two may
// overlap, no two may share a token, and a later interval must have a
// larger token. An interval ends when its worker reports exit, or when it
// was seen dead (SIGKILL); a lease lost while held ends when the worker saw
// held cancelled, later than the loss itself, so the check errs towards
// reporting an overlap. It prints one line of figures (collect.go) and
// exits 1 on any violation that is not report-only.
//
//	nfslease-chaos -mounts /m/c1,/m/c2,/m/c3 -protocol strict -workers 6 -duration 40s -lifetime 3s -fs-name sshfs
//	nfslease-chaos -nfs 10.215.0.2:/export -nfs-clients 3 -protocol flufl -resets 0.01 -fs-name nfs3
//
// Files: main.go (flags), spawn.go (worker processes), inject.go (faults),
// collect.go (their reports and the figures), check.go (the outside
// check), worker.go (the worker side), proxy.go (the NFS fault proxy).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

const workerEnv = "NFSLEASE_CHAOS_WORKER" // the worker's JSON config, in workers only

type config struct {
	mounts                    []string
	nfs                       string // NFSv3 target; then the clients are nfs3.FS through the proxy
	nfsClients                int
	nfsTimeo                  time.Duration
	nfsPartitions             bool
	faults                    proxyFaults
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
	overlapsReportOnly        bool
}

// clients is the number of distinct clients (mounts, or NFS front ports).
func (cfg *config) clients() int {
	if cfg.nfs != "" {
		return cfg.nfsClients
	}
	return len(cfg.mounts)
}

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
	flag.StringVar(&mounts, "mounts", "", "comma-separated mount directories of one shared filesystem (this or -nfs)")
	flag.StringVar(&cfg.nfs, "nfs", "", "NFSv3 target host:/export or host:port:/export: workers use package fsops/nfs3 through a fault proxy (this or -mounts)")
	flag.IntVar(&cfg.nfsClients, "nfs-clients", 3, "NFS: front ports of the proxy, each standing for one host")
	flag.DurationVar(&cfg.nfsTimeo, "nfs-timeo", 300*time.Millisecond, "NFS: timeo of the workers' hard mounts")
	flag.BoolVar(&cfg.nfsPartitions, "nfs-partitions", true, "NFS: blackhole one client now and then (-partition-every, -partition-max)")
	flag.Float64Var(&cfg.faults.DropRequests, "drop-requests", 0.01, "NFS: fraction of requests the proxy drops")
	flag.Float64Var(&cfg.faults.DropReplies, "drop-replies", 0.02, "NFS: fraction of replies the proxy drops")
	flag.Float64Var(&cfg.faults.DupRequests, "dup-requests", 0.01, "NFS: fraction of requests the proxy also sends again later")
	flag.Float64Var(&cfg.faults.DelayP, "delay-requests", 0.01, "NFS: fraction of requests the proxy holds back")
	flag.DurationVar(&cfg.faults.DupDelay, "dup-delay", time.Second, "NFS: longest delay of a held-back request or a late duplicate")
	flag.Float64Var(&cfg.faults.Resets, "resets", 0, "NFS: fraction of requests after which the proxy resets the connection")
	flag.BoolVar(&cfg.faults.NewPorts, "new-ports", false, "NFS: the proxy's upstream connections come from new ports, not their clients' (a reconnection misses ganesha's duplicate request cache)")
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
	flag.BoolVar(&cfg.overlapsReportOnly, "overlaps-report-only", false, "report overlaps and token violations without failing: for runs beyond a protocol's documented limits (Flufl with NFS connection resets: docs/protocol.md §2.8)")
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
	if (len(cfg.mounts) == 0) == (cfg.nfs == "") {
		fail(errors.New("one of -mounts and -nfs is required"))
	}
	if cfg.nfs != "" && cfg.nfsClients < 1 {
		fail(errors.New("-nfs-clients must be at least 1"))
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
		if cfg.nfs != "" {
			fail(errors.New("-expect-unsupported needs -mounts"))
		}
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
