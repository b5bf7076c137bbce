package lease

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/clock"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/internal/shell"
)

// An Option configures Acquire, TryAcquire, Lead and Inspect.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// Defaults. Durations not set explicitly are derived from the lifetime, so
// that WithLifetime alone gives a consistent configuration.
const (
	DefaultLifetime = 15 * time.Second // flufl.lock's default

	// MinLifetime and MaxLifetime bound WithLifetime. Below a second the
	// whole-second timestamps of some filesystems (sshfs) make a refresh
	// invisible for longer than the lease; above a day a crashed holder
	// blocks everyone for longer than anyone would wait.
	MinLifetime = time.Second
	MaxLifetime = 24 * time.Hour
)

// WithLifetime sets how long the lock stays valid without a refresh
// (default 15 s). Other processes may break the lock once it has gone
// unrefreshed this long (plus a stale margin of one second). Between MinLifetime
// and MaxLifetime.
func WithLifetime(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timing.Lifetime = d })
}

// WithRenewDeadline sets how long after the start of the last successful
// refresh the holder gives up and cancels held (default 2/3 of the
// lifetime). It must be shorter than the lifetime minus the refresh
// interval, so that the holder always stops before anyone else may judge
// the lock stale; the difference is the margin for clock-rate differences
// and pauses (see docs/protocol.md).
func WithRenewDeadline(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timing.RenewDeadline = d })
}

// WithRefreshInterval sets how often the holder refreshes the lock
// (default 1/5 of the lifetime). After a failed refresh it retries four
// times as often until the renew deadline. A refresh that takes longer
// than this interval does not count. It must be at most half the renew
// deadline, so that there are at least two tries before giving up.
// Refreshes come up to 1/16 of the interval (at most 50 ms) early, so that
// the refreshes of a process's many leases fall due together and cost it
// one wake-up instead of one each.
func WithRefreshInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timing.Refresh = d })
}

// WithPollInterval sets the longest wait between two attempts of Acquire
// while the lock is held by someone else (default min(1 s, lifetime/10)).
// Attempts start 10 ms apart and back off exponentially with jitter up to
// this bound; see Acquire.
func WithPollInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.timing.PollMax = d })
}

// WithSkewAllowance sets how far apart the wall clocks of the hosts sharing
// a lock may be (default 10 s, flufl.lock's CLOCK_SLOP). A lock whose
// recorded expiry is older than this is stale. A negative value turns the
// wall-clock rule off: locks of this package are then judged stale only by
// watching them unchanged for their lifetime, and locks made by Python
// flufl.lock (which record no lifetime) are never broken.
func WithSkewAllowance(d time.Duration) Option {
	return optionFunc(func(c *config) { c.skew, c.skewSet = d, true })
}

// WithFileMode sets the permission bits of the files created (default
// 0644, before the umask). Groups sharing a lock directory may want 0664.
// Strict's lock directories get the same bits plus search permission
// wherever they grant read, and write and search permission for their
// owner.
func WithFileMode(perm fs.FileMode) Option {
	return optionFunc(func(c *config) { c.perm = perm })
}

// WithFS sets the filesystem (default fsops.OS()).
func WithFS(f fsops.FS) Option {
	return optionFunc(func(c *config) { c.fs = f })
}

// WithClock sets the clock (default clock.Real()).
func WithClock(cl clock.Clock) Option {
	return optionFunc(func(c *config) { c.clock = cl })
}

// WithProtocol sets the lock protocol. The default is algorithm.Strict,
// the generation-directory protocol, which the simulator found safe under
// every fault profile (docs/simulation.md). Use algorithm.Flufl where Go
// and Python flufl.lock processes share locks; its limits are in
// docs/protocol.md. Processes using different protocols on one path
// exclude each other but report ErrNotLock-wrapped errors instead of
// waiting.
func WithProtocol(p algorithm.Protocol) Option {
	return optionFunc(func(c *config) { c.protocol = p })
}

// WithLogger sets a logger for acquisition, refresh failures, breaks and
// loss (default: none).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithLocalTakeover forces the rule that breaks at once the lock of a
// provably dead holder of this machine (same boot, pid namespace and host
// name, its pid gone or reused; see docs/tuning.md) on (true) or off
// (false). Without this option the rule applies only where the lock's
// directory is on a filesystem that no other machine can reach: a local
// kind, as the filesystem tells it (fsops.Typer: ext2, ext3, ext4, xfs,
// btrfs, tmpfs, f2fs, zfs, bcachefs, ramfs, overlay). Anywhere else (NFS, FUSE,
// SMB, Ceph, GlusterFS, a filesystem that cannot tell its kind) the lock
// goes stale by its lifetime only, because machines restored from one
// snapshot (cloned VMs, microVMs) share the boot id, host name and pid
// namespace that the rule compares: a holder on one clone would be judged
// dead by another, where its pid is absent. Force it on for a network
// filesystem only if no two clones of one machine ever share the lock.
// Off, no process identity is recorded and none is judged; a holder
// records its identity only where the rule is on, so a waiter that forces
// it on judges only holders that did too.
func WithLocalTakeover(on bool) Option {
	return optionFunc(func(c *config) { c.takeover, c.takeoverSet = on, true })
}

// withIdentity sets the host name and pid recorded in claims and owner
// records (default: the host's and this process's). Tests reach it as
// WithIdentity (export_test.go).
// A pid other than ours records no process identity, so that no waiter
// judges the holder dead by it.
func withIdentity(host string, pid int) Option {
	return optionFunc(func(c *config) { c.hostname, c.pid = host, pid })
}

// withProcs is for tests: the process table of this machine.
func withProcs(p fsops.Procs) Option {
	return optionFunc(func(c *config) { c.procs = p })
}

type config struct {
	timing   shell.Params // lifetime, renew deadline, refresh and poll intervals
	skew     time.Duration
	skewSet  bool
	perm     fs.FileMode
	fs       fsops.FS
	clock    clock.Clock
	protocol algorithm.Protocol
	logger   *slog.Logger
	hook     func(Event)
	leader   LeaderCallbacks
	leading  bool         // the acquisition is Lead's: leader callbacks are allowed
	onHolder func(Holder) // called by Acquire for each new holder it sees (Lead)
	hostname string
	pid      int
	procs    fsops.Procs // this machine's processes: fsops.OSProcs() but in tests

	takeover    bool // WithLocalTakeover's value, if takeoverSet
	takeoverSet bool
}

var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

// newConfig applies opts over the defaults and validates the result.
func newConfig(opts []Option) (*config, error) {
	c := &config{timing: shell.Params{Lifetime: DefaultLifetime}}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if l := c.timing.Lifetime; l < MinLifetime || l > MaxLifetime {
		return nil, fmt.Errorf("%w: lifetime %v is outside [%v, %v]", ErrInvalidOption, l, MinLifetime, MaxLifetime)
	}
	timing, err := c.timing.Defaults()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOption, err)
	}
	c.timing = timing
	switch {
	case c.skewSet && c.skew > MaxLifetime:
		return nil, fmt.Errorf("%w: skew allowance %v is over %v", ErrInvalidOption, c.skew, MaxLifetime)
	case c.perm&^fs.ModePerm != 0:
		return nil, fmt.Errorf("%w: file mode %v has bits other than permissions", ErrInvalidOption, c.perm)
	}
	if !c.skewSet {
		c.skew = proto.DefaultSkewAllowance
	} else if c.skew == 0 {
		// proto.Config reads 0 as "default"; the smallest positive
		// value means "no allowance".
		c.skew = 1
	}
	if c.fs == nil {
		c.fs = fsops.OS()
	}
	if c.clock == nil {
		c.clock = clock.Real()
	}
	if c.protocol == nil {
		c.protocol = algorithm.Strict
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.hostname == "" {
		c.hostname = hostname()
	}
	if c.pid == 0 {
		c.pid = os.Getpid()
	}
	if c.procs == nil {
		c.procs = fsops.OSProcs()
	}
	return c, nil
}

// algorithm is the protocols' configuration for locks in dir. Its process
// table is nil where the local-takeover rule is off (localTakeover).
func (c *config) algorithm(dir string) proto.Config {
	var procs fsops.Procs
	if c.localTakeover(dir) {
		procs = c.procs
	}
	return proto.Config{
		Lifetime:      c.timing.Lifetime,
		SkewAllowance: c.skew,
		Hostname:      c.hostname,
		Pid:           c.pid,
		Perm:          c.perm,
		Procs:         procs,
		Now:           func() proto.Instant { return instant(c.clock) },
		Hints:         &hints,
	}
}

// localKinds are the filesystem types (as fsops.Typer names them) that
// only the machine mounting them reaches.
var localKinds = map[string]bool{
	"ext2": true, "ext3": true, "ext4": true, "xfs": true, "btrfs": true,
	"tmpfs": true, "f2fs": true, "zfs": true, "bcachefs": true, "ramfs": true,
	"overlay": true, // a container's root: writes land in its local upper layer
}

// dirKinds holds, per (filesystem, directory), whether the directory's
// filesystem is of a local kind, learned once per process. Only answers
// are remembered: an error may be transient.
var dirKinds sync.Map

type dirKindKey struct {
	fs  fsops.FS
	dir string
}

// localTakeover reports whether the local-takeover rule applies to locks
// in dir: as WithLocalTakeover forced it, or else whether dir's
// filesystem is of a local kind. An FS that cannot tell (no fsops.Typer,
// an error) is not local.
func (c *config) localTakeover(dir string) bool {
	if c.takeoverSet {
		return c.takeover
	}
	t, ok := c.fs.(fsops.Typer)
	if !ok {
		return false
	}
	key := dirKindKey{c.fs, dir}
	cacheable := reflect.TypeOf(c.fs).Comparable()
	if cacheable {
		if v, ok := dirKinds.Load(key); ok {
			return v.(bool)
		}
	}
	kind, err := t.FSType(dir)
	if err != nil {
		return false
	}
	local := localKinds[kind]
	if cacheable {
		dirKinds.Store(key, local)
	}
	return local
}
