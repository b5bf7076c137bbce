// Package sim is a deterministic simulator of many processes sharing one
// lock over a simulated NFS server. It runs the project's real protocol
// steps (package algorithm) and lease decisions (internal/shell) as
// coroutines against a simulated filesystem that delays, loses, replays and
// fails calls, and checks safety invariants with an oracle that knows the
// truth. The same seed gives the same run, event for event.
//
// See docs/simulation.md for the fault model, the invariants and how to
// replay a seed.
package sim

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"math/rand/v2"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/internal/shell"
)

// The workload of every simulated client. The lease's timing rules and
// defaults are the shell's (internal/shell), the code package lease runs:
// only the lifetime is chosen here, as a user chooses it.
const (
	lifetime = 3 * time.Second
	holdMax  = 1500 * time.Millisecond // a short hold
	longHold = 4 * lifetime            // a long hold: many refreshes, past lifetime + margin
	longFrac = 0.2                     // the share of long holds

	// The workload's own faults, in every profile.
	shortPauses = 0.05 // per cycle: a pause within the tolerance (pauseTolerance/2 at most)
	diesHolding = 0.02 // per cycle: the process dies while it holds the lease (its lock must be broken)
	idleMax     = 500 * time.Millisecond
	lockDir     = "/share/locks"
	lockPath    = lockDir + "/job.lock"
)

// params returns the lease parameters of a profile: the shell's defaults
// for the lifetime, with the profile's renew deadline and refresh interval
// if it sets them.
func params(p Profile) shell.Params {
	sp, err := shell.Params{Lifetime: lifetime, RenewDeadline: p.RenewDeadline, Refresh: p.RefreshInterval}.Defaults()
	if err != nil {
		panic(fmt.Sprintf("sim: profile %s: %v", p.Name, err))
	}
	return sp
}

// renew and refresh are the lease parameters of this run's profile.
func (s *sim) renew() time.Duration   { return s.params.RenewDeadline }
func (s *sim) refresh() time.Duration { return s.params.Refresh }

// holdFor is how long a process holds a lease it acquired: mostly up to
// holdMax, but a fifth of the holds last up to four lifetimes, spanning
// many refresh intervals and far longer than a waiter must watch a lock
// unchanged (lifetime + margin) before it may break it. A lease whose
// refreshes do not keep the lock fresh is then broken while held, in every
// profile.
func (s *sim) holdFor() time.Duration {
	if s.rng.Float64() < longFrac {
		return s.uniform(longHold)
	}
	return s.uniform(holdMax)
}

var epoch = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// Config is one simulation run.
type Config struct {
	Protocol     algorithm.Protocol
	Mutation     Mutation // deliberate bugs of the shell, for mutant runs
	Profile      Profile
	Seed         uint64
	Acquisitions int       // stop after this many acquisitions in all
	Clients      int       // simultaneous processes; 0: random in [2, 16]
	Trace        io.Writer // readable trace of every step, or nil
}

// Violation is a broken invariant.
type Violation struct {
	Invariant string // I1 … I8
	At        time.Duration
	Detail    string
	Excuse    string // the mechanism that excuses it (see Excuses); "" if none does
}

func (v Violation) String() string {
	if v.Excuse != "" {
		return fmt.Sprintf("%s at %v: %s [excused: %s]", v.Invariant, v.At, v.Detail, v.Excuse)
	}
	return fmt.Sprintf("%s at %v: %s", v.Invariant, v.At, v.Detail)
}

// Result is what one run did and found.
type Result struct {
	Seed            uint64
	Acquisitions    int
	Faults          int // faults injected
	Breaks          int // stale locks broken
	CleanupErrors   int // failed cleanups the code reported (not trusted by I5: see LitterAllowed)
	ReplayedCreates int // creates, links and renames that ran a second time on the server (each may leave a file)
	FaultedCleanups int // removals that an injected fault stopped, and creates applied but reported failed (each may leave a file)
	Tokens          int // fencing tokens granted (I6 checks them)
	Ex              Exercised
	Violations      []Violation
	Events          int
	SimTime         time.Duration
}

// Run runs one simulation.
func Run(cfg Config) Result {
	s := newSim(cfg)
	s.run()
	return s.res
}

type sim struct {
	cfg    Config
	prof   Profile
	params shell.Params // the lease parameters every client runs with
	rng    *rand.Rand
	now    time.Duration // true time since the start
	seq    uint64
	events eventHeap
	server *fsopstest.Mem
	res    Result

	clients  []*client
	nextPid  int
	machines []*fsopstest.Machine    // with Profile.Machines: one per pair of clients
	pidsUsed map[string]map[int]bool // with Profile.Machines: host name → pids of its live processes
	stopping bool                    // the acquisition budget is spent: no new cycles
	calm     bool                    // faults have stopped (final phase)
	prober   *client
	probeAt  time.Duration
	probeOK  bool

	attrs       map[string]map[string]attrEntry // host → name → what its NFS client cached
	claims      map[string]*client              // identity of a lock's file (see identity) → the live holder it belongs to
	robbed      map[string]robbery              // locks removed or moved by an excused mechanism (see excuse.go)
	creators    map[string]creator              // identity of every file a client created → that client (the server's record)
	placed      map[*client]string              // the last lock each process created and put at the lock name (the server's record)
	strayHandle bool                            // the call being applied went through a path handle to another directory
	handles     map[string][]*clientDir         // host → its directory handles, when they resolve by path
	pending     *pendingMove                    // a live holder's lock moved away from the lock name
	minted      map[*client]mint                // each client's last token minted (I6, I7)
	tokens      map[uint64]*client              // fencing tokens granted, and to whom (I6, I7)
	lastToken   uint64                          // the largest token granted

	lockWatch, breakWatch watch            // how the lock and the break lock look, and since when (I8)
	lockMemo, breakMemo   lookMemo         // the last looks at the lock and the break lock, kept while the server changes nothing
	stopsChecked          watch            // the lock's last look reported for I8
	turns                 map[*client]turn // each breaker's last break turn (I8)
	flufl                 bool             // the protocol is Flufl (a break lock, the wall-clock rule)
}

// mint is a token minted (its counter rename applied on the server), and
// the identity of the lock at the lock path at that instant.
type mint struct {
	token uint64
	lock  string // the lock's identity when the counter moved
	floor uint64 // the largest token granted when the counter moved
}

type pendingMove struct {
	holder   *client
	content  string
	by       *client
	replayed bool // the move was the server's second run of the call
}

type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

// eventHeap is a min-heap of events by time, then by order of scheduling.
// It holds events by value, so that scheduling one allocates nothing but
// its closure.
type eventHeap []event

func (h eventHeap) less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}

func (h *eventHeap) push(e event) {
	*h = append(*h, e)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
}

func (h *eventHeap) pop() event {
	q := *h
	e := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = event{} // drop the closure
	q = q[:n]
	for i := 0; ; {
		least, l, r := i, 2*i+1, 2*i+2
		if l < n && q.less(l, least) {
			least = l
		}
		if r < n && q.less(r, least) {
			least = r
		}
		if least == i {
			break
		}
		q[i], q[least] = q[least], q[i]
		i = least
	}
	*h = q
	return e
}

// at schedules fn at true time t (never in the past).
func (s *sim) at(t time.Duration, fn func()) {
	s.seq++
	s.events.push(event{at: max(t, s.now), seq: s.seq, fn: fn})
}

// serverClock is the server's clock: true time, for Mem's ctimes and
// creation times.
type serverClock struct{ s *sim }

func (c serverClock) Now() time.Time { return epoch.Add(c.s.now) }

func newSim(cfg Config) *sim {
	s := &sim{cfg: cfg, prof: cfg.Profile, rng: rand.New(rand.NewPCG(cfg.Seed, 0x6e66736c65617365)), claims: map[string]*client{}, tokens: map[uint64]*client{}, minted: map[*client]mint{}, robbed: map[string]robbery{}, creators: map[string]creator{}, placed: map[*client]string{}, turns: map[*client]turn{}, attrs: map[string]map[string]attrEntry{}}
	s.res.Seed = cfg.Seed
	s.params = params(cfg.Profile)
	s.flufl = cfg.Protocol.Name() == "flufl"
	if cfg.Mutation.Shell != nil {
		cfg.Mutation.Shell(&s.params)
	}
	var opts []fsopstest.MemOption
	if s.prof.SSHFS {
		opts = append(opts, fsopstest.WithPathInodes(), fsopstest.WithEPERMForEEXIST(), fsopstest.WithMtimeGranularity(time.Second))
	}
	s.server = fsopstest.NewMem(serverClock{s}, opts...)
	if err := s.server.MkdirAll(lockDir, 0o777); err != nil {
		panic(err)
	}
	n := cfg.Clients
	if n == 0 {
		n = 2 + s.rng.IntN(15)
	}
	for i := range n {
		host := fmt.Sprintf("h%d", i/2) // two processes per host
		if s.prof.Machines {
			// Two processes per machine, two machines per host name.
			host = fmt.Sprintf("h%d", i/4)
			if i%2 == 0 {
				s.machines = append(s.machines, fsopstest.NewMachine(fmt.Sprintf("seed %d machine %d", cfg.Seed, i/2), 4026531836))
			}
		}
		c := s.newClient(host)
		if s.prof.Machines {
			c.machine = s.machines[i/2]
		}
		s.at(time.Duration(s.rng.Int64N(int64(idleMax))), c.start)
	}
	return s
}

func (s *sim) run() {
	// A stuck run is a bug: too much simulated time, or too many events
	// (a livelock spinning at one instant).
	const limit = 24 * time.Hour
	maxEvents := 10_000 + 2_000*s.cfg.Acquisitions
	for len(s.events) > 0 {
		e := s.events.pop()
		s.now = e.at
		s.res.Events++
		if s.now > limit {
			s.violate("I4", "simulation still running after %v of simulated time", limit)
			break
		}
		if s.res.Events > maxEvents {
			s.violate("I4", "simulation still running after %d events (livelock?)", maxEvents)
			break
		}
		e.fn()
		if !s.stopping && s.res.Acquisitions >= s.cfg.Acquisitions {
			s.beginFinal()
		}
	}
	for _, c := range s.clients {
		c.kill() // coroutines of processes that never finished
	}
	s.res.SimTime = s.now
	s.finalChecks()
	s.res.Ex.Breaks = s.res.Breaks
}

func (s *sim) tracef(c *client, format string, args ...any) {
	if s.cfg.Trace == nil {
		return
	}
	who := "sim"
	if c != nil {
		who = c.name()
	}
	fmt.Fprintf(s.cfg.Trace, "%12.6fs %-8s %s\n", s.now.Seconds(), who, fmt.Sprintf(format, args...))
}

// violate records a violation no mechanism excuses.
func (s *sim) violate(inv, format string, args ...any) {
	s.violateExcused(inv, "", format, args...)
}

// violateExcused records a violation, excused by mechanism (if any, and if
// inv is excusable).
func (s *sim) violateExcused(inv, mechanism, format string, args ...any) {
	if !excusable[inv] {
		mechanism = ""
	}
	v := Violation{Invariant: inv, At: s.now, Detail: fmt.Sprintf(format, args...), Excuse: mechanism}
	if mechanism != "" {
		s.res.Ex.excuse(mechanism)
	}
	s.res.Violations = append(s.res.Violations, v)
	if s.tracing() {
		s.tracef(nil, "VIOLATION %s", v)
	}
}

// injected records a fault of the given kind (counted in Exercised.Faults)
// and reports whether the run is traced, for the caller to say what it did.
// Call sites format their trace only when it is: formatting every fault
// and step of an untraced run cost the campaign a third of its CPU.
func (s *sim) injected(c *client, kind string) bool {
	s.res.Faults++
	s.res.Ex.fault(kind)
	return s.tracing()
}

// tracing reports whether the run is traced (see tracef).
func (s *sim) tracing() bool { return s.cfg.Trace != nil }

func (s *sim) chance(p float64) bool { return !s.calm && p > 0 && s.rng.Float64() < p }

func (s *sim) uniform(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(d)))
}

func (s *sim) latency() time.Duration {
	l := s.prof.Latency
	return l/10 + s.uniform(l-l/10)
}

// beginFinal stops the workload and the faults, lets every process finish
// or give up, then starts a prober that must get the lock promptly (I4).
func (s *sim) beginFinal() {
	s.stopping = true
	if s.tracing() {
		s.tracef(nil, "acquisition budget spent: stopping the workload")
	}
	// Let processes finish their cycles under the faults already in
	// flight, then stop all faults and probe.
	s.at(s.now+2*lifetime, func() {
		s.calm = true
		s.pending = nil
		for _, c := range s.clients {
			c.partUntil = min(c.partUntil, s.now)
			if c.pausedUntil > s.now {
				c.pausedUntil = s.now
			}
		}
		if s.tracing() {
			s.tracef(nil, "faults stopped")
		}
		s.waitIdle()
	})
}

// waitIdle starts the prober once no process is running.
func (s *sim) waitIdle() {
	for _, c := range s.clients {
		if c.alive && c != s.prober {
			s.at(s.now+100*time.Millisecond, s.waitIdle)
			return
		}
	}
	if s.prober != nil {
		return
	}
	s.prober = s.newClient("prober")
	s.probeAt = s.now
	s.prober.start()
}

func (s *sim) finalChecks() {
	if s.prober == nil {
		s.violate("I4", "the workload never finished")
		return
	}
	if !s.probeOK {
		s.violate("I4", "the prober never acquired the lock after faults stopped")
	}
	names, err := s.server.ReadDir(lockDir)
	if err != nil {
		s.violate("I5", "listing the lock directory: %v", err)
		return
	}
	crashes := 0
	for _, c := range s.clients {
		crashes += c.crashes
	}
	// The fencing-token counter stays: exactly one file, unless a
	// replayed create of its first name left a second one.
	var counters []string
	names = slices.DeleteFunc(names, func(n string) bool {
		_, ok := proto.ParseTokenName(n, path.Base(lockPath))
		if ok {
			counters = append(counters, n)
		}
		return ok
	})
	if len(counters) > 1+s.res.ReplayedCreates || (len(counters) == 0 && s.res.Tokens > 0) {
		s.violate("I5", "%d token counter files after everyone released (%d replayed creates), want one: %q", len(counters), s.res.ReplayedCreates, counters)
	}
	// The allowance counts what the simulator did, never what the code
	// reports: a crash may leave a claim (or stage) and a tomb (or break
	// lock); a create the server ran twice, or applied while the caller
	// heard of a failure, and a removal a fault stopped may each leave one
	// file.
	if allowed := 2*crashes + s.res.FaultedCleanups + s.res.ReplayedCreates; len(names) > allowed {
		s.violate("I5", "%d files left after everyone released (%d crashes, %d faulted cleanups and %d replayed creates allow %d): %q",
			len(names), crashes, s.res.FaultedCleanups, s.res.ReplayedCreates, allowed, names)
	}
	for _, n := range names {
		if n == path.Base(lockPath) {
			s.violate("I5", "the lock itself is left after everyone released")
		}
	}
}

// A client is one process (it restarts as a new process after a crash).
type client struct {
	s     *sim
	host  string
	pid   int
	gen   int // incarnation; events of older incarnations are ignored
	alive bool

	drift  float64       // clock rate - 1
	offset time.Duration // wall clock offset
	step   time.Duration // accumulated wall-clock steps

	next  func() (*req, bool)
	stop  func()
	yield func(*req) bool

	pauseFrom   time.Duration
	pausedUntil time.Duration
	partUntil   time.Duration
	lastCallAt  time.Duration // when the process last made a call
	lastApplied time.Duration // when the server last applied a call of the process (not a replay)
	looked      string        // the lock its last read of the lock name found (its identity), and when
	lookedAt    time.Duration //
	crashes     int
	since       time.Duration // true time at which the attempt of the current grant began

	holding  bool // the held context is live
	lostSeen bool
	h        *shell.Hold // the lease held, as the shell keeps it
	ending   *shell.Hold // the lease being ended (shell.Hold.Finish), while it runs
	claim    string      // lock content while holding

	hints *proto.Hints // the process's hints, as package lease keeps them

	// With Profile.Machines: the client's machine, the identity of its
	// current process there, and whether that process keeps it to itself.
	machine *fsopstest.Machine
	proc    fsops.ProcID
	hide    bool
}

var errCrashed = errors.New("sim: process crashed")

func (s *sim) newClient(host string) *client {
	c := &client{s: s, host: host}
	if s.prof.Drift > 0 {
		c.drift = (s.rng.Float64()*2 - 1) * s.prof.Drift
	}
	if s.prof.Offset > 0 {
		c.offset = time.Duration((s.rng.Float64()*2 - 1) * float64(s.prof.Offset))
	}
	s.clients = append(s.clients, c)
	return c
}

func (c *client) name() string { return fmt.Sprintf("%s/%d", c.host, c.pid) }

// mono is the client's monotonic clock at true time t.
func (c *client) monoAt(t time.Duration) time.Duration {
	return time.Duration(float64(t) * (1 + c.drift))
}

// trueAt is the true time at which the client's monotonic clock reads m.
func (c *client) trueAt(m time.Duration) time.Duration {
	return time.Duration(float64(m)/(1+c.drift)) + 1
}

// now is what the client's clocks read: a monotonic clock running at its
// own rate, and a wall clock kept within a bounded error of true time (as
// NTP does), which steps.
func (c *client) now() proto.Instant {
	return proto.Instant{Wall: epoch.Add(c.s.now + c.offset + c.step), Mono: c.monoAt(c.s.now)}
}

// start starts a new incarnation of the process.
func (c *client) start() {
	s := c.s
	c.gen++
	s.nextPid++
	c.pid = 1000 + s.nextPid
	if c.machine != nil {
		c.startProcess()
	}
	c.hints = new(proto.Hints) // a new process remembers nothing
	c.alive = true
	c.holding = false
	c.ending = nil
	gen := c.gen
	c.next, c.stop = iter.Pull(func(yield func(*req) bool) {
		defer func() {
			if r := recover(); r != nil && r != errCrashed {
				panic(r)
			}
		}()
		c.yield = yield
		c.body()
	})
	if s.tracing() {
		s.tracef(c, "process starts")
	}
	c.resume(gen, nil)
}

// kill ends the coroutine of the current incarnation, if any.
func (c *client) kill() {
	if c.alive {
		c.alive = false
		c.stop()
		if c.machine != nil {
			c.machine.Kill(c.pid)
			delete(c.s.pidsUsed[c.host], c.pid)
		}
	}
}

// startProcess starts the process of a new incarnation on the client's
// machine, with the lowest pid its host name has free (a dead process's
// pid is reused, with another start time), and decides whether it keeps
// its identity to itself and whether it is another user's.
func (c *client) startProcess() {
	s := c.s
	if s.pidsUsed == nil {
		s.pidsUsed = map[string]map[int]bool{}
	}
	used := s.pidsUsed[c.host]
	if used == nil {
		used = map[int]bool{}
		s.pidsUsed[c.host] = used
	}
	c.pid = 1000
	for used[c.pid] {
		c.pid++
	}
	used[c.pid] = true
	c.proc = c.machine.Start(c.pid)
	c.hide = s.chance(0.25)
	c.machine.SetOtherUser(c.pid, s.chance(0.25))
}

// resume runs the client until its next request, and submits it.
func (c *client) resume(gen int, r *req) {
	s := c.s
	if gen != c.gen || !c.alive {
		return
	}
	if s.now < c.pausedUntil {
		s.at(c.pausedUntil, func() { c.resume(gen, r) })
		return
	}
	next, ok := c.next()
	if !ok {
		c.alive = false
		if s.tracing() {
			s.tracef(c, "process exits")
		}
		if c == s.prober {
			return
		}
		if !s.stopping {
			s.at(s.now+s.uniform(idleMax), c.start)
		}
		return
	}
	s.submit(c, next)
}

// A req is one thing a client waits for: a filesystem call or a sleep.
type req struct {
	sleepUntil time.Duration // client monotonic time, for a sleep
	op         fsopstest.Op
	apply      func() result // runs the call on the server
	res        result
	namespace  bool          // changes the namespace (may be replayed)
	late       bool          // a rename or removal of the lock name held up by a partition (ExcuseLateLockCall)
	afterPause bool          // made right after its caller was paused beyond the tolerance (ExcuseCallerPaused)
	peek       func() string // for a removal through a handle: the identity of what it would remove
}

type result struct {
	err   error
	data  []byte
	fi    fsops.FileInfo
	names []string // ReadDir
}

// call makes a request and waits for its result.
func (c *client) call(r *req) result {
	if !c.yield(r) {
		panic(errCrashed)
	}
	return r.res
}

func (c *client) sleep(d time.Duration) {
	c.call(&req{sleepUntil: c.monoAt(c.s.now) + max(d, 0)})
}

// identity names a file on the server by its true inode number, which no
// quirk and no equal content can fake; "" if there is no file.
func identity(ino uint64, ok bool) string {
	if !ok {
		return ""
	}
	return "ino:" + strconv.FormatUint(ino, 10)
}

// lockIdentity is the identity of the lock at the lock path now: the lock
// file, or the owner record of a lock directory (see lockLook).
func (s *sim) lockIdentity() string { return s.lockLook().id }

// owns reports whether the name p is private to c: a Flufl claim name of
// c's, or a name derived from one.
func (c *client) owns(p string) bool {
	return strings.Contains(path.Base(p), fmt.Sprintf("|%s|%d|", c.host, c.pid))
}

// attrEntry is a cached Lstat answer.
type attrEntry struct {
	res   result
	until time.Duration
}

// cached returns host c's cached Lstat answer for name, if the profile
// caches attributes and the entry is still valid.
func (s *sim) cached(c *client, name string) (result, bool) {
	if s.prof.AttrCache == 0 {
		return result{}, false
	}
	s.res.Ex.CacheLookups++
	e, ok := s.attrs[c.host][name]
	if !ok || s.now >= e.until {
		return result{}, false
	}
	s.res.Ex.CacheHits++
	if s.tracing() {
		s.tracef(c, "%s answered from the client's cache: %v", name, e.res.err)
	}
	return e.res, true
}

// negCached reports whether host c's lookup cache holds a valid negative
// entry for name: open(2) revalidates a name it finds (close-to-open),
// but with lookupcache=all (the default) a cached "no such file" stands
// until the directory's cached attributes expire, so an open of a name
// another host has created since can still fail with ENOENT.
func (s *sim) negCached(c *client, name string) bool {
	if s.prof.AttrCache == 0 {
		return false
	}
	s.res.Ex.CacheLookups++
	e, ok := s.attrs[c.host][name]
	if !ok || s.now >= e.until || !errors.Is(e.res.err, fs.ErrNotExist) {
		return false
	}
	s.res.Ex.CacheHits++
	if s.tracing() {
		s.tracef(c, "open %s answered from the client's negative lookup cache", name)
	}
	return true
}

// cachedList returns host c's cached listing of dir, if the profile
// caches attributes and the listing is still valid. An NFS client keeps a
// directory's listing until its cached attributes of the directory
// expire (acdirmin…acdirmax), unless its own changes in the directory
// tell it the directory changed.
func (s *sim) cachedList(c *client, dir string) ([]string, bool) {
	r, ok := s.cached(c, listKey(dir))
	if !ok {
		return nil, false
	}
	return slices.Clone(r.names), true
}

// listKey is the attribute cache key of dir's listing.
func listKey(dir string) string { return "readdir:" + path.Clean(dir) }

// cacheAfter updates host's cache after a call: an Lstat or an open
// caches what it saw (a missing name too), a listing the names it saw;
// the host's own calls that change names (or fail to: the reply still
// carries the directory's new attributes) drop their entries and their
// directory's listing.
func (s *sim) cacheAfter(host string, op fsopstest.Op, r result) {
	if s.prof.AttrCache == 0 {
		return
	}
	m := s.attrs[host]
	if m == nil {
		m = map[string]attrEntry{}
		s.attrs[host] = m
	}
	switch op.Name {
	case "Lstat", "ReadFile":
		if r.err == nil || errors.Is(r.err, fs.ErrNotExist) {
			res := result{fi: r.fi, err: r.err}
			m[op.Path] = attrEntry{res: res, until: s.now + s.prof.AttrCache + s.uniform(s.prof.AttrCacheMax-s.prof.AttrCache)}
		}
	case "OpenDir":
		delete(m, op.Path)
		if errors.Is(r.err, fs.ErrNotExist) {
			m[op.Path] = attrEntry{res: result{err: r.err}, until: s.now + s.prof.AttrCache + s.uniform(s.prof.AttrCacheMax-s.prof.AttrCache)}
		}
	case "ReadDir":
		if r.err == nil {
			res := result{names: slices.Clone(r.names)}
			m[listKey(op.Path)] = attrEntry{res: res, until: s.now + s.prof.AttrCache + s.uniform(s.prof.AttrCacheMax-s.prof.AttrCache)}
		}
	default:
		delete(m, op.Path)
		delete(m, listKey(path.Dir(op.Path)))
		if op.Path2 != "" {
			delete(m, op.Path2)
			delete(m, listKey(path.Dir(op.Path2)))
		}
	}
}

// liveOther returns the live holder, other than c, whose lock content is
// content.
func (s *sim) liveOther(content string, c *client) *client {
	h := s.claims[content]
	if h == nil || h == c || !h.holding {
		return nil
	}
	return h
}
