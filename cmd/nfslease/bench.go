//go:build unix

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// workerEnv carries a bench worker's configuration (JSON): nfslease
// re-executes itself as the handoff workers.
const workerEnv = "NFSLEASE_BENCH_WORKER"

type workerConfig struct {
	Path     string        `json:"path"`
	Protocol string        `json:"protocol"`
	Until    int64         `json:"until"` // CLOCK_MONOTONIC ns
	Hold     time.Duration `json:"hold"`  // how long each holding lasts
	Idle     time.Duration `json:"idle"`  // how long a worker waits after a release before it competes again
}

func isWorker() bool { return os.Getenv(workerEnv) != "" }

func benchCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("bench", "nfslease bench [--dir DIR] [--procs N] [--duration D]")
	dir := fs.String("dir", ".", "directory on the storage to measure (a scratch directory is made in it and removed)")
	procs := fs.Int("procs", 4, "processes competing for the lock in the handoff measurement")
	dur := time.Duration(2 * time.Second)
	fs.Var(durationFlag{&dur}, "duration", "how long each measurement runs (3 per protocol)")
	if st, done := parse(fs, "bench", args, stdout, stderr); done {
		return st
	}
	switch {
	case fs.NArg() > 0:
		return usageError(stderr, "bench", "bench takes no arguments")
	case *procs < 2 || *procs > 64:
		return usageError(stderr, "bench", fmt.Sprintf("--procs %d is outside 2..64", *procs))
	case dur < 100*time.Millisecond || dur > time.Hour:
		return usageError(stderr, "bench", fmt.Sprintf("--duration %v is outside [100ms, 1h]", dur))
	}
	scratch, err := os.MkdirTemp(*dir, ".nfslease-bench-")
	if err != nil {
		return failure(stderr, exitError, fmt.Errorf("bench: %w", err))
	}
	defer os.RemoveAll(scratch)
	// A signal ends the measurements early; the scratch directory and the
	// workers go all the same.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var got atomic.Value
	go func() {
		select {
		case s := <-sigs:
			got.Store(s)
			cancel()
		case <-ctx.Done():
		}
	}()
	b := &bench{ctx: ctx, dir: *dir, scratch: scratch, procs: *procs, dur: dur, out: stdout, tty: isTerminal(os.Stdout)}
	st := b.run(stderr)
	if s, ok := got.Load().(os.Signal); ok {
		fmt.Fprintf(stderr, "nfslease: bench: %v: stopped, %s removed\n", s, scratch)
		return 128 + int(s.(syscall.Signal))
	}
	return st
}

type bench struct {
	ctx          context.Context // done on a signal
	dir, scratch string
	procs        int
	dur          time.Duration
	out          io.Writer
	tty          bool

	mu   sync.Mutex // guards last, and the progress line
	last time.Time  // when the progress line was last written
}

// result is one protocol's figures.
type result struct {
	proto    algorithm.Protocol
	selfErr  error
	cycle    []time.Duration
	refresh  []time.Duration
	handoff  []time.Duration
	overlaps int
	err      error
}

func (b *bench) run(stderr io.Writer) int {
	typ := "unknown"
	if t, ok := fsops.OS().(fsops.Typer); ok {
		if s, err := t.FSType(b.scratch); err == nil {
			typ = s
		}
	}
	abs, _ := filepath.Abs(b.dir)
	fmt.Fprintf(b.out, "nfslease bench: %s (%s), %d processes, %v per measurement\n", abs, typ, b.procs, b.dur)
	var results []*result
	for _, p := range []algorithm.Protocol{algorithm.Strict, algorithm.Flufl} {
		if b.ctx.Err() != nil {
			break
		}
		r := &result{proto: p}
		results = append(results, r)
		b.measure(r)
	}
	if b.ctx.Err() != nil {
		return exitError // interrupted: the caller says so
	}
	failed := false
	for _, r := range results {
		if r.err != nil {
			failed = true
			fmt.Fprintf(stderr, "nfslease: bench %s: %s\n", r.proto.Name(), message(r.err))
		}
		if r.overlaps > 0 {
			failed = true
			fmt.Fprintf(stderr, "nfslease: bench %s: %d overlapping holdings seen: mutual exclusion failed on this filesystem\n", r.proto.Name(), r.overlaps)
		}
	}
	b.recommend(results, typ)
	if failed {
		return exitError
	}
	return exitOK
}

// measure runs the self-test and, if it passes, the three measurements.
func (b *bench) measure(r *result) {
	name := r.proto.Name()
	dir := filepath.Join(b.scratch, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		r.err = err
		return
	}
	origin := time.Now()
	now := func() proto.Instant { t := time.Now(); return proto.Instant{Wall: t, Mono: t.Sub(origin)} }
	cfg := proto.Config{Lifetime: lease.DefaultLifetime, Hostname: "bench", Pid: os.Getpid(), Now: now}
	if st, ok := r.proto.(proto.SelfTester); ok {
		r.selfErr = st.SelfTest(fsops.OS(), dir, cfg)
	}
	if r.selfErr != nil {
		b.line("%-6s self-test: refused: %s", name, message(r.selfErr))
		return
	}
	if _, ok := r.proto.(proto.SelfTester); ok {
		b.line("%-6s self-test: passed", name)
	} else {
		b.line("%-6s self-test: none (needs link(2), checked by the measurements)", name)
	}
	opts := []lease.Option{lease.WithProtocol(r.proto)}
	path := filepath.Join(dir, "cycle.lock")

	// Uncontended cycles: Acquire + release.
	end := time.Now().Add(b.dur)
	for time.Now().Before(end) && b.ctx.Err() == nil {
		t0 := time.Now()
		_, release, err := lease.Acquire(context.Background(), path, opts...)
		if err == nil {
			err = release()
		}
		if err != nil {
			r.err = err
			return
		}
		r.cycle = append(r.cycle, time.Since(t0))
		b.progress("%-6s cycle: %d acquire+release cycles", name, len(r.cycle))
	}
	b.line("%-6s cycle (acquire+release, uncontended): %s", name, summary(r.cycle))

	// Refreshes of a held lock, as the refresher makes them.
	lk, err := r.proto.New(fsops.OS(), filepath.Join(dir, "refresh.lock"), cfg)
	if err != nil {
		r.err = err
		return
	}
	if att, err := lk.Acquire(now()); err != nil || !att.Acquired {
		r.err = fmt.Errorf("acquiring %s for the refresh measurement: %+v, %v", lk.Path(), att, err)
		_ = lk.Close(now())
		return
	}
	end = time.Now().Add(b.dur)
	for time.Now().Before(end) && b.ctx.Err() == nil {
		t0 := time.Now()
		if err := lk.Refresh(now()); err != nil {
			r.err = err
			break
		}
		r.refresh = append(r.refresh, time.Since(t0))
		b.progress("%-6s refresh: %d refreshes", name, len(r.refresh))
	}
	// Held by this benchmark alone and refreshed until just now: no
	// deadline to keep.
	if err := lk.Release(func() bool { return true }); err != nil && r.err == nil {
		r.err = err
	}
	if r.err != nil {
		return
	}
	b.line("%-6s refresh: %s", name, summary(r.refresh))

	if b.ctx.Err() != nil {
		return
	}
	// Handoffs between processes.
	r.handoff, r.overlaps, r.err = b.handoffs(name, filepath.Join(dir, "handoff.lock"))
	if r.err != nil {
		return
	}
	b.line("%-6s handoff (%d processes; from a release to another process's acquisition, waiters polling with backoff up to 1s): %s", name, b.procs, summary(r.handoff))
}

// handoffs runs b.procs workers competing for path and returns the gaps
// between one holder starting its release and the next holder's Acquire
// returning, and the number of holdings that overlapped (always 0 on a
// filesystem the protocol supports).
func (b *bench) handoffs(name, path string) ([]time.Duration, int, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, 0, err
	}
	cfg, _ := json.Marshal(workerConfig{Path: path, Protocol: name, Until: monoNow() + b.dur.Nanoseconds(), Hold: time.Millisecond, Idle: 5 * time.Millisecond})
	type event struct {
		acquire bool
		at      int64
		worker  int
	}
	var (
		mu     sync.Mutex
		events []event
		wg     sync.WaitGroup
	)
	var cmds []*exec.Cmd
	var stderrs []*strings.Builder
	for i := range b.procs {
		cmd := exec.CommandContext(b.ctx, self) // killed on a signal
		cmd.Env = append(os.Environ(), workerEnv+"="+string(cfg))
		stderr := new(strings.Builder)
		cmd.Stderr = stderr
		stderrs = append(stderrs, stderr)
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, 0, err
		}
		if err := cmd.Start(); err != nil {
			return nil, 0, err
		}
		cmds = append(cmds, cmd)
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				kind, v, ok := strings.Cut(sc.Text(), " ")
				at, err := strconv.ParseInt(v, 10, 64)
				if !ok || err != nil || (kind != "A" && kind != "E") {
					continue
				}
				mu.Lock()
				events = append(events, event{acquire: kind == "A", at: at, worker: i})
				n := len(events)
				mu.Unlock()
				if kind == "A" {
					b.progress("%-6s handoff: %d acquisitions", name, n/2+1)
				}
			}
		}()
	}
	wg.Wait() // the workers closed their output: they are exiting
	var errs []error
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w: %s", i, err, strings.TrimSpace(stderrs[i].String())))
		}
	}
	if len(errs) > 0 {
		return nil, 0, errors.Join(errs...)
	}
	slices.SortFunc(events, func(a, b event) int { return int(a.at - b.at) })
	var gaps []time.Duration
	overlaps := 0
	holder, last, lastExit := -1, -1, int64(0)
	for _, e := range events {
		switch {
		case e.acquire && holder >= 0:
			overlaps++
		case e.acquire:
			if lastExit > 0 && e.worker != last {
				// A handoff to another process (a worker taking the
				// lock back itself is not one).
				gaps = append(gaps, time.Duration(e.at-lastExit))
			}
			holder = e.worker
		case e.worker == holder:
			holder, last, lastExit = -1, e.worker, e.at
		}
	}
	return gaps, overlaps, nil
}

// benchWorker is a handoff worker: it acquires, reports "A <ns>", holds
// for a moment, reports "E <ns>", releases and idles for a moment, until
// its deadline.
func benchWorker(stdout, stderr io.Writer) int {
	var cfg workerConfig
	if err := json.Unmarshal([]byte(os.Getenv(workerEnv)), &cfg); err != nil {
		return failure(stderr, exitUsage, fmt.Errorf("bench worker: %w", err))
	}
	proto := algorithm.Strict
	if cfg.Protocol == "flufl" {
		proto = algorithm.Flufl
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	// Held leases derive from ctx: it ends at the deadline, not before.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Until-monoNow()))
	defer cancel()
	for ctx.Err() == nil {
		held, release, err := lease.Acquire(ctx, cfg.Path, lease.WithProtocol(proto))
		if ctx.Err() != nil {
			if err == nil {
				_ = release()
			}
			break
		}
		if err != nil {
			return failure(stderr, exitError, err)
		}
		fmt.Fprintf(w, "A %d\n", monoNow())
		w.Flush()
		time.Sleep(cfg.Hold)
		if held.Err() != nil && ctx.Err() == nil {
			return failure(stderr, exitError, context.Cause(held))
		}
		fmt.Fprintf(w, "E %d\n", monoNow())
		w.Flush()
		if err := release(); err != nil && ctx.Err() == nil {
			return failure(stderr, exitError, err)
		}
		time.Sleep(cfg.Idle) // let the others compete
	}
	return exitOK
}

// monoNow is CLOCK_MONOTONIC in nanoseconds: one clock for every process
// of this host.
func monoNow() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err) // cannot happen on a supported system
	}
	return ts.Nano()
}

// recommend prints the protocol and lifetime this storage suggests.
func (b *bench) recommend(results []*result, typ string) {
	var pick *result
	for _, r := range results {
		if r.selfErr == nil && r.err == nil && r.overlaps == 0 {
			pick = r
			break
		}
	}
	if pick == nil {
		fmt.Fprintln(b.out, "recommendation: none: no protocol worked on this filesystem")
		return
	}
	// A refresh must finish within the refresh interval (lifetime/5) to
	// count; ask for 20x headroom over the 99th percentile of refreshes
	// and cycles. The maximum of a short run is mostly scheduling noise
	// (it is reported, not used). A short bench sees none of a network
	// filesystem's stalls (server failover, reconnects): keep the default
	// there.
	p99 := max(pct(pick.refresh, 99), pct(pick.cycle, 99))
	floor := 5 * time.Second
	network := strings.HasPrefix(typ, "nfs") || strings.HasPrefix(typ, "fuse") || typ == "cifs" || typ == "smb3" || typ == "9p" || typ == "ceph" || typ == "unknown"
	if network {
		floor = lease.DefaultLifetime
	}
	lifetime := max(floor, (p99 * 100).Round(time.Second))
	why := "its self-test passed; replayed NFS calls cannot make it remove a newer holder's lock"
	if pick.proto == algorithm.Flufl {
		why = "strict refused this filesystem"
	}
	fmt.Fprintf(b.out, "recommendation: --protocol %s (%s; use flufl to share locks with Python flufl.lock)\n", pick.proto.Name(), why)
	fmt.Fprintf(b.out, "recommendation: --lifetime %v (99%% of refreshes and cycles took under %v; a refresh must finish within lifetime/5; a crashed holder is taken over after lifetime + 1s", lifetime, p99.Round(time.Microsecond))
	if network {
		fmt.Fprint(b.out, "; network filesystems stall for longer than a bench sees: do not go below the default 15s")
	} else {
		fmt.Fprint(b.out, "; the default 15s is also fine")
	}
	fmt.Fprintln(b.out, ")")
	if slowest := pct(pick.refresh, 100); slowest > lifetime/10 {
		fmt.Fprintf(b.out, "note: the slowest refresh took %v, over lifetime/10: this machine or its storage pauses; a refresh slower than lifetime/5 does not count, and the lease is given up at 2/3 of the lifetime without one\n", slowest.Round(time.Millisecond))
	}
}

// line prints a finished measurement, replacing the progress line.
func (b *bench) line(format string, a ...any) {
	if b.tty {
		fmt.Fprint(b.out, "\r\033[K")
	}
	fmt.Fprintf(b.out, format+"\n", a...)
}

// progress updates the progress line on a terminal, at most every 100ms.
func (b *bench) progress(format string, a ...any) {
	if !b.tty {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.last) < 100*time.Millisecond {
		return
	}
	b.last = time.Now()
	fmt.Fprintf(b.out, "\r\033[K"+format, a...)
}

// summary describes latencies: count, median, 99th percentile, maximum.
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no samples"
	}
	return fmt.Sprintf("n=%d median %v p99 %v max %v", len(ds), round(pct(ds, 50)), round(pct(ds, 99)), round(pct(ds, 100)))
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// pct is the p-th percentile of ds (nearest rank); 0 for none.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}
