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
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/lease"
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

// child is one worker process, as the parent knows it.
type child struct {
	id     int
	pid    int
	mount  int
	cmd    *exec.Cmd
	inside bool // between its enter and exit lines
	start  int64
	tok    uint64
	killed bool // we sent SIGKILL
	termed bool // we sent SIGTERM
	dead   bool
}

// msg is a line from a worker, or the news of its death (dead, at).
type msg struct {
	id     int
	line   string
	dead   bool
	at     int64
	status string
}

// interval is one critical section: [start, end] on CLOCK_MONOTONIC.
type interval struct {
	id, pid    int
	tok        uint64
	start, end int64
	why        string // done, lost, term, killed
}

// resume is a SIGCONT due at a time.
type resume struct {
	at   time.Time
	pid  int
	c    *child // nil for an sshfs process
	what string
}

type stats struct {
	acquisitions, breaks, kills, holderKills, pauses, partitions int
	lost, releasedLost, releaseErrs, acqErrs, crashes, stuck     int
	firstErrs                                                    []string
	holderKillAt                                                 []int64
}

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
	tracef := func(format string, args ...any) {
		fmt.Fprintf(trace, "%10.3f ", float64(mono()-t0)/1e9)
		fmt.Fprintf(trace, format+"\n", args...)
	}
	tracef("seed %d mounts %v protocol %s lifetime %v", cfg.seed, cfg.mounts, cfg.protocol, cfg.lifetime)

	rng := rand.New(rand.NewPCG(cfg.seed, 0x6e66736c65617365))
	msgs := make(chan msg, 1024)
	var (
		wg       sync.WaitGroup
		children []*child
		alive    int
		st       stats
		ivs      []interval
		pending  []resume
	)
	// Whatever happens, nothing stays stopped and every child is killed
	// and reaped.
	defer func() {
		for _, r := range pending {
			cont(r)
		}
		for _, c := range children {
			if !c.dead {
				_ = c.cmd.Process.Kill()
			}
		}
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for range msgs { // drain so that the readers can finish
			}
		}()
		wg.Wait()
		close(msgs)
		<-drained
	}()

	start := func(mount int) error {
		c := &child{id: len(children), mount: mount}
		wc := workerConfig{
			Path:     filepath.Join(cfg.mounts[mount], "chaos", runDir, "job.lock"),
			Protocol: cfg.protocol,
			Lifetime: cfg.lifetime,
			HoldMin:  cfg.holdMin,
			HoldMax:  cfg.holdMax,
			IdleMax:  cfg.idleMax,
			LongP:    cfg.longP,
			Seed:     rng.Uint64(),
		}
		js, err := json.Marshal(wc)
		if err != nil {
			return err
		}
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), workerEnv+"="+string(js))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		c.cmd, c.pid = cmd, cmd.Process.Pid
		children = append(children, c)
		alive++
		tracef("w%d pid %d start on %s", c.id, c.pid, cfg.mounts[mount])
		wg.Add(1)
		go func() {
			defer wg.Done()
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				msgs <- msg{id: c.id, line: sc.Text()}
			}
			werr := cmd.Wait() // after the last read, as exec requires
			msgs <- msg{id: c.id, dead: true, at: mono(), status: fmt.Sprint(werr)}
		}()
		return nil
	}

	handle := func(m msg) {
		c := children[m.id]
		if m.dead {
			tracef("w%d pid %d dead: %s", c.id, c.pid, m.status)
			c.dead = true
			alive--
			if c.inside {
				ivs = append(ivs, interval{c.id, c.pid, c.tok, c.start, m.at, "killed"})
				c.inside = false
			}
			if !c.killed && !(c.termed && m.status == "<nil>") {
				st.crashes++
				st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d (pid %d) ended: %s", c.id, c.pid, m.status))
			}
			return
		}
		tracef("w%d pid %d %s", c.id, c.pid, m.line)
		f := strings.Fields(m.line)
		if len(f) == 0 {
			return
		}
		bad := func() {
			st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d: unexpected line %q", c.id, m.line))
			st.crashes++
		}
		switch f[0] {
		case "enter":
			if len(f) != 3 || c.inside {
				bad()
				return
			}
			tok, err1 := strconv.ParseUint(f[1], 10, 64)
			at, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil {
				bad()
				return
			}
			c.inside, c.tok, c.start = true, tok, at
			st.acquisitions++
		case "exit":
			if len(f) != 3 || !c.inside {
				bad()
				return
			}
			at, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				bad()
				return
			}
			ivs = append(ivs, interval{c.id, c.pid, c.tok, c.start, at, f[2]})
			c.inside = false
			if f[2] == "lost" {
				st.lost++
			}
		case "released":
			switch {
			case len(f) == 2 && f[1] == "ok":
			case len(f) == 2 && f[1] == "lost":
				st.releasedLost++
			default:
				st.releaseErrs++
				st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d: %s", c.id, m.line))
			}
		case "broke":
			st.breaks++
		case "acqerr":
			st.acqErrs++
			st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d: %s", c.id, m.line))
		default:
			bad()
		}
	}

	for i := range cfg.workers {
		if err := start(i % len(cfg.mounts)); err != nil {
			return false, err
		}
	}

	next := func(mean time.Duration) <-chan time.Time {
		if mean <= 0 {
			return nil
		}
		return time.After(time.Duration(rng.ExpFloat64() * float64(mean)))
	}
	between := func(lo, hi time.Duration) time.Duration {
		if hi <= lo {
			return lo
		}
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	// pick returns a random live child not killed nor paused; a holder
	// with probability preferHolder if there is one.
	isPaused := func(c *child) bool {
		return slices.ContainsFunc(pending, func(r resume) bool { return r.c == c })
	}
	pick := func(preferHolder float64) *child {
		var cands, holders []*child
		for _, c := range children {
			if c.dead || c.killed || isPaused(c) {
				continue
			}
			cands = append(cands, c)
			if c.inside {
				holders = append(holders, c)
			}
		}
		if len(holders) > 0 && rng.Float64() < preferHolder {
			return holders[rng.IntN(len(holders))]
		}
		if len(cands) == 0 {
			return nil
		}
		return cands[rng.IntN(len(cands))]
	}
	partitioned := func() bool {
		return slices.ContainsFunc(pending, func(r resume) bool { return r.c == nil })
	}

	began := time.Now()
	end := time.After(cfg.duration)
	killC, pauseC := next(cfg.killEvery), next(cfg.pauseEvery)
	var partC <-chan time.Time
	if len(cfg.partPids) > 0 {
		partC = next(cfg.partEvery)
	}
	resumeT := time.NewTimer(time.Hour)
	defer resumeT.Stop()
	schedule := func() {
		sort.Slice(pending, func(i, j int) bool { return pending[i].at.Before(pending[j].at) })
		d := time.Hour
		if len(pending) > 0 {
			d = max(time.Until(pending[0].at), 0)
		}
		resumeT.Reset(d)
	}
loop:
	for {
		select {
		case m := <-msgs:
			handle(m)
		case <-end:
			break loop
		case <-resumeT.C:
			now := time.Now()
			for len(pending) > 0 && !pending[0].at.After(now) {
				cont(pending[0])
				tracef("%s: SIGCONT pid %d", pending[0].what, pending[0].pid)
				pending = pending[1:]
			}
			schedule()
		case <-killC:
			killC = next(cfg.killEvery)
			c := pick(0.5)
			if c == nil {
				continue
			}
			if err := c.cmd.Process.Kill(); err != nil {
				tracef("kill w%d: %v", c.id, err)
				continue
			}
			c.killed = true
			st.kills++
			if c.inside {
				st.holderKills++
				st.holderKillAt = append(st.holderKillAt, mono())
			}
			tracef("kill: SIGKILL w%d pid %d (holder %v)", c.id, c.pid, c.inside)
			if err := start(c.mount); err != nil {
				return false, err
			}
		case <-pauseC:
			pauseC = next(cfg.pauseEvery)
			c := pick(0.5)
			if c == nil {
				continue
			}
			if err := c.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				continue
			}
			d := between(cfg.pauseMax/5, cfg.pauseMax)
			st.pauses++
			tracef("pause: SIGSTOP w%d pid %d for %v (holder %v)", c.id, c.pid, d, c.inside)
			pending = append(pending, resume{time.Now().Add(d), c.pid, c, "pause"})
			schedule()
		case <-partC:
			partC = next(cfg.partEvery)
			if partitioned() {
				continue
			}
			i := rng.IntN(len(cfg.partPids))
			if h := pick(1); h != nil && h.inside && rng.IntN(2) == 0 {
				i = h.mount // cut off the holder
			}
			pid := cfg.partPids[i]
			if !isFUSEDaemon(pid) {
				return false, fmt.Errorf("pid %d (for %s) is not an sshfs or glusterfs process", pid, cfg.mounts[i])
			}
			if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
				return false, err
			}
			d := between(cfg.partMax/5, cfg.partMax)
			st.partitions++
			tracef("partition: SIGSTOP pid %d (%s) for %v", pid, cfg.mounts[i], d)
			pending = append(pending, resume{time.Now().Add(d), pid, nil, "partition"})
			schedule()
		}
	}
	ran := time.Since(began)

	// Stop: resume everything, ask every worker to finish (they report exit
	// and release), and wait; kill what does not end.
	for _, r := range pending {
		cont(r)
	}
	pending = nil
	for _, c := range children {
		if !c.dead && !c.killed {
			c.termed = true
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	grace := time.After(cfg.lifetime + 15*time.Second)
	for alive > 0 {
		select {
		case m := <-msgs:
			handle(m)
		case <-grace:
			for _, c := range children {
				if !c.dead && !c.killed {
					st.stuck++
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
	overlaps, tokViol, details := check(ivs)
	takeAvg, takeMax := takeovers(st.holderKillAt, ivs)

	fmt.Printf("chaos: fs=%s protocol=%s workers=%d mounts=%d duration=%v lifetime=%v acquisitions=%d (%.1f/s) breaks=%d kills=%d (holders %d, takeover avg %v max %v) pauses=%d partitions=%d lost=%d released-lost=%d acquire-errors=%d release-errors=%d crashes=%d stuck=%d overlaps=%d token-violations=%d leftover-files=%s\n",
		cfg.fsName, cfg.protocol, cfg.workers, len(cfg.mounts), ran.Round(time.Second), cfg.lifetime,
		st.acquisitions, float64(st.acquisitions)/ran.Seconds(), st.breaks, st.kills, st.holderKills,
		takeAvg, takeMax, st.pauses, st.partitions, st.lost, st.releasedLost, st.acqErrs, st.releaseErrs,
		st.crashes, st.stuck, overlaps, tokViol, left)
	for _, e := range st.firstErrs {
		fmt.Println("  " + e)
	}
	for _, d := range details {
		fmt.Println("  violation: " + d)
	}
	ok = overlaps == 0 && (tokViol == 0 || cfg.tokensReportOnly) && st.acquisitions > 0
	if !ok {
		fmt.Printf("chaos: FAIL fs=%s protocol=%s seed=%d\n", cfg.fsName, cfg.protocol, cfg.seed)
	}
	return ok, nil
}

// cont resumes a paused worker or FUSE daemon.
func cont(r resume) {
	if r.c != nil {
		_ = r.c.cmd.Process.Signal(syscall.SIGCONT) // pidfd: never another process
		return
	}
	if isFUSEDaemon(r.pid) {
		_ = syscall.Kill(r.pid, syscall.SIGCONT)
	}
}

// isFUSEDaemon reports whether pid is an sshfs or glusterfs process: a
// check against signalling a reused pid.
func isFUSEDaemon(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	comm := strings.TrimSpace(string(b))
	return err == nil && (comm == "sshfs" || comm == "glusterfs")
}

func appendErr(errs []string, e string) []string {
	if len(errs) < 10 {
		errs = append(errs, e)
	}
	return errs
}

// check returns the number of overlapping pairs of intervals and of token
// violations (a token seen twice, or an interval whose token is not above
// that of an interval that ended before it started), with details.
func check(ivs []interval) (overlaps, tokViol int, details []string) {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].start < ivs[j].start })
	seen := make(map[uint64]int)
	desc := func(v interval) string {
		return fmt.Sprintf("w%d(pid %d tok %d [%d,%d] %s)", v.id, v.pid, v.tok, v.start, v.end, v.why)
	}
	note := func(s string) {
		if len(details) < 20 {
			details = append(details, s)
		}
	}
	for i, v := range ivs {
		if j, dup := seen[v.tok]; dup {
			tokViol++
			note("token reused: " + desc(ivs[j]) + " and " + desc(v))
		}
		seen[v.tok] = i
		var maxEnded uint64 // the largest token of an interval that ended before v started
		ended := false
		for _, u := range ivs[:i] {
			if u.end > v.start {
				overlaps++
				note(fmt.Sprintf("overlap %.3f ms: %s and %s", float64(min(u.end, v.end)-v.start)/1e6, desc(u), desc(v)))
				continue
			}
			ended = true
			maxEnded = max(maxEnded, u.tok)
		}
		if ended && v.tok <= maxEnded {
			tokViol++
			note(fmt.Sprintf("token %d not above %d of an earlier holder: %s", v.tok, maxEnded, desc(v)))
		}
	}
	return overlaps, tokViol, details
}

// takeovers returns the mean and longest time from the SIGKILL of a holder
// to the next holder's entry.
func takeovers(kills []int64, ivs []interval) (avg, longest time.Duration) {
	var sum time.Duration
	n := 0
	for _, k := range kills {
		next := int64(-1)
		for _, v := range ivs {
			if v.start > k && (next < 0 || v.start < next) {
				next = v.start
			}
		}
		if next < 0 {
			continue
		}
		d := time.Duration(next - k)
		sum += d
		longest = max(longest, d)
		n++
	}
	if n > 0 {
		avg = sum / time.Duration(n)
	}
	return avg.Round(time.Millisecond), longest.Round(time.Millisecond)
}

// leftovers describes what is left in the lock directory, by kind.
func leftovers(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	counts := map[string]int{}
	for _, e := range ents {
		n := e.Name()
		var kind string
		switch {
		case n == "job.lock":
			kind = "lock"
		case strings.HasPrefix(n, ".job.lock.token."):
			kind = "token"
		case strings.HasPrefix(n, ".job.lock.stage."):
			kind = "stage"
		case strings.HasPrefix(n, ".job.lock.gc."):
			kind = "gc"
		case strings.HasPrefix(n, "job.lock|") && strings.HasSuffix(n, ".break"):
			kind = "tomb"
		case strings.HasPrefix(n, "job.lock|"):
			kind = "claim"
		case strings.HasPrefix(n, ".nfslease-selftest."):
			kind = "selftest"
		case strings.HasPrefix(n, ".fuse_hidden"):
			kind = "fuse_hidden"
		default:
			kind = "other"
		}
		counts[kind]++
	}
	if len(counts) == 0 {
		return "none", nil
	}
	var parts []string
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf("%s:%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ","), nil
}

// checkUnsupported checks that the protocol refuses the filesystem of the
// first mount: TryAcquire must fail with algorithm.ErrUnsupportedFS,
// naming the directory, and leave nothing behind.
func checkUnsupported(cfg *config) error {
	dir := filepath.Join(cfg.mounts[0], "chaos", fmt.Sprintf("unsupported-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	proto := algorithm.Flufl
	if cfg.protocol == "strict" {
		proto = algorithm.Strict
	}
	_, release, err := lease.TryAcquire(context.Background(), filepath.Join(dir, "job.lock"), lease.WithProtocol(proto), lease.WithLifetime(cfg.lifetime))
	if err == nil {
		_ = release()
		return fmt.Errorf("%s on %s: acquired, want algorithm.ErrUnsupportedFS", cfg.protocol, cfg.fsName)
	}
	if !errors.Is(err, algorithm.ErrUnsupportedFS) || !strings.Contains(err.Error(), dir) {
		return fmt.Errorf("%s on %s: %v, want algorithm.ErrUnsupportedFS naming %s", cfg.protocol, cfg.fsName, err, dir)
	}
	names, rerr := os.ReadDir(dir)
	if rerr != nil {
		return rerr
	}
	if len(names) != 0 {
		return fmt.Errorf("%s on %s: refused, but left %d files in %s", cfg.protocol, cfg.fsName, len(names), dir)
	}
	fmt.Printf("chaos: fs=%s protocol=%s refused as it should be: %v\n", cfg.fsName, cfg.protocol, err)
	return nil
}
