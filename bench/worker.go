package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/lease"
)

// mono reads CLOCK_MONOTONIC in nanoseconds, the clock every worker (Go,
// C, Python) stamps its events with.
func mono() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return ts.Nano()
}

func sleepUntil(ns int64) {
	if d := time.Duration(ns - mono()); d > 0 {
		time.Sleep(d)
	}
}

// self is the path of this binary, which re-executes itself as workers.
func self() string {
	p, err := os.Executable()
	if err != nil {
		panic(err)
	}
	return p
}

// locker is acquire/release of one Go system (nfslease or flock) on one
// path, blocking.
type locker func(ctx context.Context) (release func() error, err error)

func newLocker(s system, path string, opts ...lease.Option) (locker, error) {
	switch s.key {
	case sysStrict.key, sysFlufl.key:
		opts = append([]lease.Option{lease.WithProtocol(protocol(s))}, opts...)
		return func(ctx context.Context) (func() error, error) {
			_, release, err := lease.Acquire(ctx, path, opts...)
			return release, err
		}, nil
	case sysFlock.key:
		f := flock.New(path)
		return func(context.Context) (func() error, error) {
			// Blocks in the kernel (flock(2) LOCK_EX); not cancellable.
			if err := f.Lock(); err != nil {
				return nil, err
			}
			return f.Unlock, nil
		}, nil
	}
	return nil, fmt.Errorf("system %s has no Go worker", s.key)
}

// workerMain runs one worker subcommand: bench worker NAME flags...
func workerMain(args []string) error {
	if len(args) == 0 {
		return errors.New("worker: which one?")
	}
	fl := flag.NewFlagSet("worker "+args[0], flag.ContinueOnError)
	sysKey := fl.String("system", "", "system key")
	path := fl.String("path", "", "lock path")
	dir := fl.String("dir", "", "directory (many)")
	n := fl.Int("n", 0, "cycles, leases or waiters")
	hold := fl.Duration("hold", 20*time.Millisecond, "hold time (handoff)")
	idle := fl.Duration("idle", 10*time.Millisecond, "idle time between holds (handoff)")
	start := fl.Int64("start", 0, "CLOCK_MONOTONIC ns to start at (handoff)")
	end := fl.Int64("end", 0, "CLOCK_MONOTONIC ns to stop at (handoff)")
	lifetime := fl.Duration("lifetime", lease.DefaultLifetime, "lease lifetime")
	dur := fl.Duration("dur", 10*time.Second, "how long to hold (many) or wait (waiters)")
	perDir := fl.Int("per-dir", 100, "leases per directory (many)")
	warm := fl.Duration("warm", 0, "not counted at the start (waiters)")
	cpuprofile := fl.String("cpuprofile", "", "write a CPU profile of the hold to this file (many)")
	memprofile := fl.String("memprofile", "", "write a heap profile at the end of the hold to this file (many)")
	refresh := fl.Duration("refresh", 0, "refresh interval (many; 0: the default, lifetime/5)")
	if err := fl.Parse(args[1:]); err != nil {
		return err
	}
	s, err := systemByKey(*sysKey)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	switch args[0] {
	case "cycle":
		c, err := newCycler(s, *path, nil, nil)
		if err != nil {
			return err
		}
		el, err := c.run(*n)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, el.Nanoseconds())
		return c.close()
	case "handoff":
		lk, err := newLocker(s, *path)
		if err != nil {
			return err
		}
		return handoffWorker(out, lk, *hold, *idle, *start, *end)
	case "hold":
		lk, err := newLocker(s, *path, lease.WithLifetime(*lifetime))
		if err != nil {
			return err
		}
		if _, err := lk(context.Background()); err != nil {
			return err
		}
		fmt.Fprintln(out, "held", mono())
		out.Flush()
		for { // until killed; select{} would end a process without goroutines
			time.Sleep(time.Hour)
		}
	case "wait":
		lk, err := newLocker(s, *path, lease.WithLifetime(*lifetime))
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "start", mono())
		out.Flush()
		release, err := lk(context.Background())
		if err != nil {
			return err
		}
		fmt.Fprintln(out, "acq", mono())
		return release()
	case "many":
		var r *manyResult
		var err error
		if s.key == floorRefresh {
			r, err = manyFloorWorker(*dir, *n, max(1, *perDir), *lifetime, *refresh, *dur)
		} else {
			r, err = manyWorker(s, *dir, *n, max(1, *perDir), *lifetime, *refresh, *dur, *cpuprofile, *memprofile)
		}
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(r)
	case "waiters":
		r, err := waitersWorker(s, *path, *n, *dur, *warm)
		if err != nil {
			return err
		}
		return json.NewEncoder(out).Encode(r)
	}
	return fmt.Errorf("unknown worker %q", args[0])
}

// handoffWorker acquires, holds, releases and idles from start to end and
// prints "wait acq rel" (CLOCK_MONOTONIC ns) per acquisition made before
// end, and "wait 0 0" for a wait still going on at the end.
func handoffWorker(out *bufio.Writer, lk locker, hold, idle time.Duration, start, end int64) error {
	type rec struct{ ws, acq, rel int64 }
	var recs []rec
	sleepUntil(start)
	for {
		ws := mono()
		if ws >= end {
			break
		}
		// The deadline bounds the wait only: a lease's held context derives
		// from ctx, and ends with it.
		ctx, stopWait := context.WithCancel(context.Background())
		timer := time.AfterFunc(time.Duration(end-ws), stopWait)
		release, err := lk(ctx)
		if err != nil {
			stopWait()
			if errors.Is(err, context.Canceled) {
				recs = append(recs, rec{ws, 0, 0}) // still waiting at the end
				break
			}
			return err
		}
		acq := mono()
		timer.Stop()
		sleepUntil(acq + hold.Nanoseconds())
		rel := mono()
		err = release()
		stopWait()
		if err != nil {
			return err
		}
		if acq < end {
			recs = append(recs, rec{ws, acq, rel})
		}
		if idle > 0 {
			sleepUntil(mono() + idle.Nanoseconds())
		}
	}
	for _, r := range recs {
		fmt.Fprintln(out, r.ws, r.acq, r.rel)
	}
	return nil
}

type manyResult struct {
	System      string  `json:"system"`
	Leases      int     `json:"leases"`
	PerDir      int     `json:"leases_per_directory"`
	Lifetime    string  `json:"lifetime"`
	Held        string  `json:"held_for"`
	Refresh     string  `json:"refresh_interval"`
	AcquireSecs float64 `json:"acquire_all_s"`
	Lost        int     `json:"lost"`
	CPUPercent  float64 `json:"cpu_percent_of_one_core"`
	RSSMiB      float64 `json:"rss_mib"`
	HWMMiB      float64 `json:"rss_peak_mib"`
	HeapMiB     float64 `json:"heap_live_mib"` // live heap after a GC at the end of the hold
	FDs         int     `json:"open_fds_held"`
	FDsPer1000  float64 `json:"fds_per_1000_leases"`
	Goroutines  int     `json:"goroutines"`
	ReleaseErrs int     `json:"release_errors"`
}

// manyWorker holds n leases on different paths, perDir in each
// subdirectory of dir, for dur, and measures what holding them costs.
func manyWorker(s system, dir string, n, perDir int, lifetime, refresh, dur time.Duration, cpuprofile, memprofile string) (*manyResult, error) {
	if memprofile != "" {
		runtime.MemProfileRate = 1 // every allocation, for exact figures
	}
	fd0, err := countFDs()
	if err != nil {
		return nil, err
	}
	opts := []lease.Option{lease.WithProtocol(protocol(s)), lease.WithLifetime(lifetime)}
	if refresh > 0 {
		opts = append(opts, lease.WithRefreshInterval(refresh))
	}
	helds := make([]context.Context, 0, n)
	releases := make([]func() error, 0, n)
	t0 := time.Now()
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%04d", i/perDir))
		if i%perDir == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return nil, err
			}
		}
		held, release, err := lease.Acquire(context.Background(), filepath.Join(sub, fmt.Sprintf("l%05d.lock", i)), opts...)
		if err != nil {
			for _, r := range releases {
				_ = r()
			}
			return nil, err
		}
		helds = append(helds, held)
		releases = append(releases, release)
	}
	r := &manyResult{System: s.key, Leases: n, PerDir: perDir, Lifetime: lifetime.String(), Held: dur.String(), Refresh: refreshLabel(lifetime, refresh), AcquireSecs: time.Since(t0).Seconds()}
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
	}
	cpu0, wall0 := cpuTime(), time.Now()
	time.Sleep(dur)
	cpu1, wall1 := cpuTime(), time.Now()
	if cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if memprofile != "" {
		if err := writeHeapProfile(memprofile); err != nil {
			return nil, err
		}
	}
	r.CPUPercent = 100 * (cpu1 - cpu0).Seconds() / wall1.Sub(wall0).Seconds()
	for _, h := range helds {
		if h.Err() != nil {
			r.Lost++
		}
	}
	if err := r.measureMemory(); err != nil {
		return nil, err
	}
	fd1, err := countFDs()
	if err != nil {
		return nil, err
	}
	r.FDs = fd1 - fd0
	r.FDsPer1000 = float64(r.FDs) * 1000 / float64(n)
	r.Goroutines = runtime.NumGoroutine()
	for _, rel := range releases {
		if rel() != nil {
			r.ReleaseErrs++
		}
	}
	return r, nil
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// measureMemory records the process's RSS, its peak, and the live heap
// after a GC.
func (r *manyResult) measureMemory() error {
	st, err := procStatus()
	if err != nil {
		return err
	}
	r.RSSMiB, r.HWMMiB = st["VmRSS"]/1024, st["VmHWM"]/1024
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.HeapMiB = float64(ms.HeapAlloc) / (1 << 20)
	return nil
}

// floorRefresh is the key of the many-leases run's raw floor.
const floorRefresh = "floor-refresh"

// refreshLabel names the refresh interval of a many-leases run.
func refreshLabel(lifetime, refresh time.Duration) string {
	if refresh <= 0 {
		return (lifetime / 5).String() + " (default)"
	}
	return refresh.String()
}

// manyFloorWorker is the many-leases run's floor: n files, perDir in each
// subdirectory of dir, each refreshed once per interval by the two calls
// a refresh cannot do without (touch its file, read it back: utimensat,
// then openat, fstat, read, close), spread evenly over the interval by a
// 100 ms ticker (few enough wake-ups not to count), with no lease logic
// at all. What it costs is what the
// syscalls of refreshing n leases cost on this filesystem.
func manyFloorWorker(dir string, n, perDir int, lifetime, refresh, dur time.Duration) (*manyResult, error) {
	every := refresh
	if every <= 0 {
		every = lifetime / 5
	}
	paths := make([]string, n)
	content := []byte("/a/lock/path|host.example|12345|0123456789abcdef")
	for i := range n {
		sub := filepath.Join(dir, fmt.Sprintf("d%04d", i/perDir))
		if i%perDir == 0 {
			if err := os.MkdirAll(sub, 0o755); err != nil {
				return nil, err
			}
		}
		paths[i] = filepath.Join(sub, fmt.Sprintf("l%05d.lock", i))
		if err := os.WriteFile(paths[i], content, 0o644); err != nil {
			return nil, err
		}
	}
	r := &manyResult{System: floorRefresh, Leases: n, PerDir: perDir, Lifetime: lifetime.String(), Held: dur.String(), Refresh: refreshLabel(lifetime, refresh)}
	const tick = 100 * time.Millisecond
	buf := make([]byte, 4096)
	refreshOne := func(path string) error {
		ts := []unix.Timespec{unix.NsecToTimespec(time.Now().UnixNano()), unix.NsecToTimespec(time.Now().UnixNano())}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, 0); err != nil {
			return err
		}
		fd, err := unix.Openat(unix.AT_FDCWD, path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		if err == nil {
			_, err = unix.Read(fd, buf[:st.Size])
		}
		if cerr := unix.Close(fd); err == nil {
			err = cerr
		}
		return err
	}
	cpu0, wall0 := cpuTime(), time.Now()
	t := time.NewTicker(tick)
	defer t.Stop()
	next, owed := 0, 0.0
	perTick := float64(n) * float64(tick) / float64(every)
	for time.Since(wall0) < dur {
		<-t.C
		for owed += perTick; owed >= 1; owed-- {
			if err := refreshOne(paths[next]); err != nil {
				return nil, err
			}
			next = (next + 1) % n
		}
	}
	cpu1, wall1 := cpuTime(), time.Now()
	r.CPUPercent = 100 * (cpu1 - cpu0).Seconds() / wall1.Sub(wall0).Seconds()
	if err := r.measureMemory(); err != nil {
		return nil, err
	}
	r.Goroutines = runtime.NumGoroutine()
	return r, nil
}

// cpuTime is the user + system CPU time of this process.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func countFDs() (int, error) {
	ents, err := os.ReadDir("/proc/self/fd")
	return len(ents), err
}

// procStatus returns the kB fields of /proc/self/status.
func procStatus() (map[string]float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasSuffix(v, " kB") {
			continue
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(v, " kB")), 64)
		if err == nil {
			m[k] = x
		}
	}
	return m, nil
}

type waitersResult struct {
	System     string           `json:"system"`
	Waiters    int              `json:"waiters"`
	Window     float64          `json:"window_s"` // counted window, after warm-up
	PerWaiterS float64          `json:"calls_per_s_per_waiter"`
	WholeRun   float64          `json:"calls_per_s_per_waiter_whole_run"` // including warm-up
	By         map[string]int64 `json:"calls_by_op"`                      // in the window, all waiters
	Acquired   int              `json:"acquired"`                         // must be 0: the lock is held throughout
}

// waitersWorker runs n waiters on the lock at path (held by another
// process) for dur, through one counting fsops.FS, and reports the calls
// per second per waiter after warm.
func waitersWorker(s system, path string, n int, dur, warm time.Duration) (*waitersResult, error) {
	c := newCounts()
	fsys := newCountFS(fsops.OS(), c)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		acquired int
		errs     []error
	)
	start := time.Now()
	for range n {
		wg.Go(func() {
			_, release, err := lease.Acquire(ctx, path, lease.WithProtocol(protocol(s)), lease.WithFS(fsys))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				acquired++
				_ = release()
			case !errors.Is(err, context.DeadlineExceeded):
				errs = append(errs, err)
			}
		})
	}
	time.Sleep(warm)
	before, tw := c.snapshot(), time.Now()
	// The window ends just before the deadline, so that the waiters'
	// clean-up when they give up is not counted.
	time.Sleep(time.Until(start.Add(dur - 50*time.Millisecond)))
	after, te := c.snapshot(), time.Now()
	wg.Wait() // all return at dur
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	d := diff(before, after)
	w := te.Sub(tw).Seconds()
	return &waitersResult{
		System: s.key, Waiters: n, Window: w,
		PerWaiterS: float64(total(d)) / w / float64(n),
		WholeRun:   float64(total(after)) / te.Sub(start).Seconds() / float64(n),
		By:         d, Acquired: acquired,
	}, nil
}
