package lease

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/clock"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
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
	return optionFunc(func(c *config) { c.lifetime = d })
}

// WithRenewDeadline sets how long after the start of the last successful
// refresh the holder gives up and cancels held (default 2/3 of the
// lifetime). It must be shorter than the lifetime minus the refresh
// interval, so that the holder always stops before anyone else may judge
// the lock stale; the difference is the margin for clock-rate differences
// and pauses (see docs/protocol.md).
func WithRenewDeadline(d time.Duration) Option {
	return optionFunc(func(c *config) { c.renewDeadline = d })
}

// WithRefreshInterval sets how often the holder refreshes the lock
// (default 1/5 of the lifetime). After a failed refresh it retries four
// times as often until the renew deadline. A refresh that takes longer
// than this interval does not count. It must be at most half the renew
// deadline, so that there are at least two tries before giving up.
func WithRefreshInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.refresh = d })
}

// WithPollInterval sets the longest wait between two attempts of Acquire
// while the lock is held by someone else (default min(1 s, lifetime/10)).
// Attempts start 10 ms apart and back off exponentially with jitter up to
// this bound; see Acquire.
func WithPollInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.pollMax = d })
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

// withIdentity sets the host name and pid recorded in claims and owner
// records (default: the host's and this process's). Tests reach it as
// WithIdentity (export_test.go).
func withIdentity(host string, pid int) Option {
	return optionFunc(func(c *config) { c.hostname, c.pid = host, pid })
}

type config struct {
	lifetime      time.Duration
	renewDeadline time.Duration
	refresh       time.Duration
	pollMax       time.Duration
	skew          time.Duration
	skewSet       bool
	perm          fs.FileMode
	fs            fsops.FS
	clock         clock.Clock
	protocol      algorithm.Protocol
	logger        *slog.Logger
	hook          func(Event)
	leader        LeaderCallbacks
	onHolder      func(Holder) // called by Acquire for each new holder it sees (Lead)
	hostname      string
	pid           int
}

// minRateTolerance is the smallest ratio of clock rates (and pause slack)
// a configuration must tolerate: 5%.
const minRateTolerance = 1.05

// pollMin is the first wait of Acquire's backoff.
const pollMin = 10 * time.Millisecond

var hostname = sync.OnceValue(func() string {
	h, _ := os.Hostname()
	return h
})

// newConfig applies opts over the defaults and validates the result.
func newConfig(opts []Option) (*config, error) {
	c := &config{lifetime: DefaultLifetime}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.lifetime < MinLifetime || c.lifetime > MaxLifetime {
		return nil, fmt.Errorf("%w: lifetime %v is outside [%v, %v]", ErrInvalidOption, c.lifetime, MinLifetime, MaxLifetime)
	}
	if c.renewDeadline == 0 {
		c.renewDeadline = c.lifetime * 2 / 3
	}
	if c.renewDeadline < 0 {
		// Checked before the refresh interval is derived from it, so that
		// the error names the option that is wrong.
		return nil, fmt.Errorf("%w: renew deadline %v must be positive", ErrInvalidOption, c.renewDeadline)
	}
	if c.refresh == 0 {
		c.refresh = min(c.lifetime/5, c.renewDeadline/2)
	}
	if c.pollMax == 0 {
		c.pollMax = min(time.Second, c.lifetime/10)
	}
	switch {
	case c.refresh < time.Millisecond:
		return nil, fmt.Errorf("%w: refresh interval %v is under 1ms", ErrInvalidOption, c.refresh)
	case c.renewDeadline <= 0:
		return nil, fmt.Errorf("%w: renew deadline %v must be positive", ErrInvalidOption, c.renewDeadline)
	case c.refresh > c.renewDeadline/2:
		return nil, fmt.Errorf("%w: refresh interval %v must be at most half the renew deadline %v", ErrInvalidOption, c.refresh, c.renewDeadline)
	case c.renewDeadline+c.refresh >= c.lifetime:
		return nil, fmt.Errorf("%w: renew deadline %v plus refresh interval %v must be shorter than the lifetime %v", ErrInvalidOption, c.renewDeadline, c.refresh, c.lifetime)
	case float64(c.renewDeadline+c.refresh+proto.StaleMargin)*minRateTolerance > float64(c.lifetime+proto.StaleMargin):
		return nil, fmt.Errorf("%w: renew deadline %v plus refresh interval %v leave too small a margin under the lifetime %v: (deadline + interval + 1s) × %.2f must not exceed lifetime + 1s (docs/protocol.md §3)",
			ErrInvalidOption, c.renewDeadline, c.refresh, c.lifetime, minRateTolerance)
	case c.pollMax < time.Millisecond || c.pollMax > c.lifetime:
		return nil, fmt.Errorf("%w: poll interval %v must be between 1ms and the lifetime %v", ErrInvalidOption, c.pollMax, c.lifetime)
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
	return c, nil
}

func (c *config) algorithm() proto.Config {
	return proto.Config{
		Lifetime:      c.lifetime,
		SkewAllowance: c.skew,
		Hostname:      c.hostname,
		Pid:           c.pid,
		Perm:          c.perm,
		PidAlive:      pidAlive,
		Hints:         &hints,
	}
}
