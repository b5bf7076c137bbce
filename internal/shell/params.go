package shell

import (
	"fmt"
	"time"

	"github.com/nfslease/nfslease/internal/proto"
)

// Params are the timing parameters of a lease.
type Params struct {
	Lifetime      time.Duration // how long the lock stays valid unrefreshed
	RenewDeadline time.Duration // the holder gives up this long after the start of its last counted refresh
	Refresh       time.Duration // interval between refreshes; failed ones are retried 4× as often
	PollMin       time.Duration // the first wait between attempts while contended
	PollMax       time.Duration // the longest wait between attempts

	//lint:ignore U1000 read only in builds with the nfslease_mutants tag (mutant_on.go)
	mut mutation // deliberate bugs; see mutant.go
}

// PollMin is the first wait of an acquisition's backoff.
const PollMin = 10 * time.Millisecond

// FreshFor is how recently a lease's last counted refresh (or the attempt
// that took the lock) must have begun for its release to skip the last
// refresh (Hold.Finish): a hundredth of the lifetime, 150 ms at the
// default 15 s. A refresh then would move the earliest moment anyone may
// judge the lock stale by less than that.
func (p Params) FreshFor() time.Duration { return p.Lifetime / 100 }

// MinRateTolerance is the smallest ratio of clock rates (and pause slack)
// a configuration must tolerate: 5%.
const MinRateTolerance = 1.05

// Defaults fills in the zero fields of p from its Lifetime (renew deadline
// ⅔ of it, refresh interval ⅕ of it but at most half the renew deadline,
// poll interval min(1 s, lifetime/10)) and checks the result against the
// rules of docs/protocol.md §3. An error names the parameter that is wrong.
func (p Params) Defaults() (Params, error) {
	if p.RenewDeadline == 0 {
		p.RenewDeadline = p.Lifetime * 2 / 3
	}
	if p.RenewDeadline < 0 {
		// Checked before the refresh interval is derived from it, so that
		// the error names the parameter that is wrong.
		return p, fmt.Errorf("renew deadline %v must be positive", p.RenewDeadline)
	}
	if p.Refresh == 0 {
		p.Refresh = min(p.Lifetime/5, p.RenewDeadline/2)
	}
	if p.PollMax == 0 {
		p.PollMax = min(time.Second, p.Lifetime/10)
	}
	if p.PollMin == 0 {
		p.PollMin = min(PollMin, p.PollMax)
	}
	switch {
	case p.Lifetime <= 0:
		return p, fmt.Errorf("lifetime %v must be positive", p.Lifetime)
	case p.Refresh < time.Millisecond:
		return p, fmt.Errorf("refresh interval %v is under 1ms", p.Refresh)
	case p.RenewDeadline <= 0:
		return p, fmt.Errorf("renew deadline %v must be positive", p.RenewDeadline)
	case p.Refresh > p.RenewDeadline/2:
		return p, fmt.Errorf("refresh interval %v must be at most half the renew deadline %v", p.Refresh, p.RenewDeadline)
	case p.RenewDeadline+p.Refresh >= p.Lifetime:
		return p, fmt.Errorf("renew deadline %v plus refresh interval %v must be shorter than the lifetime %v", p.RenewDeadline, p.Refresh, p.Lifetime)
	case float64(p.RenewDeadline+p.Refresh+proto.StaleMargin)*MinRateTolerance > float64(p.Lifetime+proto.StaleMargin):
		return p, fmt.Errorf("renew deadline %v plus refresh interval %v leave too small a margin under the lifetime %v: (deadline + interval + 1s) × %.2f must not exceed lifetime + 1s (docs/protocol.md §3)",
			p.RenewDeadline, p.Refresh, p.Lifetime, MinRateTolerance)
	case p.PollMax < time.Millisecond || p.PollMax > p.Lifetime:
		return p, fmt.Errorf("poll interval %v must be between 1ms and the lifetime %v", p.PollMax, p.Lifetime)
	case p.PollMin <= 0 || p.PollMin > p.PollMax:
		return p, fmt.Errorf("first poll wait %v must be between 0 and the poll interval %v", p.PollMin, p.PollMax)
	}
	return p, nil
}
