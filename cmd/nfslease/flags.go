//go:build unix

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/lease"
)

// seconds is a pflag value for -w: flock(1)'s plain seconds, fractions
// allowed ("2", "0.5"), or a Go duration ("1.5s", "250ms", "2m").
type seconds struct {
	d   time.Duration
	set bool
}

func (s *seconds) String() string {
	if !s.set {
		return ""
	}
	return s.d.String()
}

func (s *seconds) Type() string { return "SECONDS" }

func (s *seconds) Set(v string) error {
	d, err := parseSeconds(v)
	if err != nil {
		return err
	}
	s.d, s.set = d, true
	return nil
}

// parseSeconds parses plain seconds (fractions allowed) or a Go duration.
// Negative, NaN and infinite values are refused.
func parseSeconds(v string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if math.IsNaN(f) || f < 0 || f > float64(math.MaxInt64/int64(time.Second)) {
			return 0, fmt.Errorf("%q is not a number of seconds >= 0", v)
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is neither seconds (2, 0.5) nor a duration (1.5s, 250ms)", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", v)
	}
	return d, nil
}

// durationFlag is a pflag value for durations that also accepts plain
// seconds, as -w does.
type durationFlag struct{ d *time.Duration }

func (f durationFlag) String() string {
	if *f.d == 0 {
		return "" // pflag prints no default for ""
	}
	return f.d.String()
}
func (f durationFlag) Type() string { return "DURATION" }
func (f durationFlag) Set(v string) error {
	d, err := parseSeconds(v)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// protocolFlag selects a protocol by name.
type protocolFlag struct{ p *algorithm.Protocol }

func (f protocolFlag) String() string {
	if *f.p == nil {
		return "strict"
	}
	return (*f.p).Name()
}
func (f protocolFlag) Type() string { return "strict|flufl" }
func (f protocolFlag) Set(v string) error {
	switch strings.ToLower(v) {
	case "strict":
		*f.p = algorithm.Strict
	case "flufl", "flufl.lock":
		*f.p = algorithm.Flufl
	default:
		return fmt.Errorf("unknown protocol %q (want strict or flufl)", v)
	}
	return nil
}

// takeoverFlag is --local-takeover: auto (the library's default: the
// rule applies on local filesystems only), on or off
// (lease.WithLocalTakeover).
type takeoverFlag struct{ v *string }

func (f takeoverFlag) String() string {
	if *f.v == "" {
		return "auto"
	}
	return *f.v
}
func (f takeoverFlag) Type() string { return "auto|on|off" }
func (f takeoverFlag) Set(v string) error {
	switch v = strings.ToLower(v); v {
	case "auto", "on", "off":
		*f.v = v
	default:
		return fmt.Errorf("unknown value %q (want auto, on or off)", v)
	}
	return nil
}

// registerTakeover registers --local-takeover into v.
func registerTakeover(fs *pflag.FlagSet, v *string) {
	*v = "auto"
	fs.Var(takeoverFlag{v}, "local-takeover", "take a crashed holder's lock at once when it was a process of this machine (same boot id, pid namespace, host name) that is gone: auto (on local filesystems only), on (also on network filesystems: only if no cloned VM shares the lock), off")
}

// takeoverOptions are the lease options of --local-takeover's value v.
func takeoverOptions(v string) []lease.Option {
	switch v {
	case "on":
		return []lease.Option{lease.WithLocalTakeover(true)}
	case "off":
		return []lease.Option{lease.WithLocalTakeover(false)}
	}
	return nil
}

// leaseFlags are the flags run and lead share.
type leaseFlags struct {
	nonblock bool
	wait     seconds
	conflict int
	lifetime time.Duration
	protocol algorithm.Protocol
	grace    time.Duration // 0: lifetime / 10
	takeover string        // --local-takeover: auto, on or off
	verbose  bool
}

func (lf *leaseFlags) register(fs *pflag.FlagSet, lead bool) {
	lf.lifetime = lease.DefaultLifetime
	lf.protocol = algorithm.Strict
	if !lead {
		fs.BoolVarP(&lf.nonblock, "nonblock", "n", false, "fail at once (exit 1, or -E) if the lock is held elsewhere; a holder past its expiry is waited out (its lifetime + 1s)")
		fs.BoolVar(&lf.nonblock, "nb", false, "same as --nonblock")
		fs.Lookup("nb").Hidden = true
		fs.VarP(&lf.wait, "wait", "w", "give up (exit 1, or -E) after this many seconds (2, 0.5) or this duration (1.5s); 0 is --nonblock")
		fs.Var(&lf.wait, "timeout", "same as --wait")
		fs.IntVarP(&lf.conflict, "conflict-exit-code", "E", exitConflict, "exit status when the lock is held elsewhere under -n or -w")
	}
	fs.Var(durationFlag{&lf.lifetime}, "lifetime", "lease lifetime: others may take a crashed holder's lock this long (+1s) after its last refresh")
	fs.Var(protocolFlag{&lf.protocol}, "protocol", "lock protocol: strict, or flufl to share locks with Python flufl.lock")
	fs.Var(durationFlag{&lf.grace}, "grace", "after a lost lease, how long the command has between SIGTERM and SIGKILL (default lifetime/10)")
	registerTakeover(fs, &lf.takeover)
	fs.BoolVarP(&lf.verbose, "verbose", "v", false, "report acquisition, refresh failures and release on stderr")
}

// check validates the flags; it returns a usage message or "".
func (lf *leaseFlags) check() string {
	switch {
	case lf.conflict < 0 || lf.conflict > 255:
		return fmt.Sprintf("--conflict-exit-code %d is outside 0..255", lf.conflict)
	case lf.lifetime < lease.MinLifetime || lf.lifetime > lease.MaxLifetime:
		return fmt.Sprintf("--lifetime %v is outside [%v, %v]", lf.lifetime, lease.MinLifetime, lease.MaxLifetime)
	}
	return ""
}

func (lf *leaseFlags) graceOrDefault() time.Duration {
	if lf.grace > 0 {
		return lf.grace
	}
	return lf.lifetime / 10
}

// options are the lease options the flags select.
func (lf *leaseFlags) options(stderr io.Writer) []lease.Option {
	return append([]lease.Option{
		lease.WithLifetime(lf.lifetime),
		lease.WithProtocol(lf.protocol),
		lease.WithLogger(newLogger(stderr, lf.verbose)),
	}, takeoverOptions(lf.takeover)...)
}

// newLogger logs the library's messages on stderr as single lines
// beginning "nfslease: ", with verbose only (warnings such as refresh
// failures, and information): otherwise nfslease says only what ended a
// command, once, so that cron mails stay empty unless something failed.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	if !verbose {
		return slog.New(slog.DiscardHandler)
	}
	level := slog.LevelInfo
	return slog.New(&lineHandler{w: w, level: level, mu: new(sync.Mutex)})
}

// lineHandler is a slog.Handler writing "nfslease: message k=v ..." lines.
type lineHandler struct {
	w     io.Writer
	level slog.Level
	attrs []slog.Attr
	mu    *sync.Mutex
}

func (h *lineHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *lineHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("nfslease: ")
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		v := a.Value.Resolve().String()
		if a.Key == "err" {
			v = message(stringError(v))
		}
		fmt.Fprintf(&b, " %s=%s", a.Key, quoteIfNeeded(v))
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	b.WriteByte('\n')
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *lineHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return &c
}

func (h *lineHandler) WithGroup(string) slog.Handler { return h }

type stringError string

func (e stringError) Error() string { return string(e) }

func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\"=") {
		return strconv.Quote(s)
	}
	return s
}
