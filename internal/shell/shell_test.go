package shell

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/proto"
)

const s = time.Second

// fakeLock is a scripted proto.Lock: each method returns the next
// scripted result and records the call, and every call advances the fake
// monotonic clock by its cost.
type fakeLock struct {
	clk      *fakeClock
	attempts []attemptResult
	refresh  []error
	mint     []mintResult
	gone     []bool        // HolderGone's results; false when none are left
	cost     time.Duration // how long each call takes
	readBack time.Duration // how long Release's read-back takes, before it moves the lock
	calls    []string
}

type attemptResult struct {
	att proto.Attempt
	err error
}

type mintResult struct {
	tok uint64
	err error
}

type fakeClock struct{ mono time.Duration }

func (c *fakeClock) now() proto.Instant {
	return proto.Instant{Wall: time.Unix(0, 0).Add(c.mono), Mono: c.mono}
}

func (l *fakeLock) call(name string) {
	l.calls = append(l.calls, name)
	l.clk.mono += l.cost
}

func (l *fakeLock) Acquire(proto.Instant) (proto.Attempt, error) {
	l.call("Acquire")
	if len(l.attempts) == 0 {
		return proto.Attempt{}, errors.New("fakeLock: no more attempts scripted")
	}
	r := l.attempts[0]
	l.attempts = l.attempts[1:]
	return r.att, r.err
}

// next pops the next scripted result of q, or returns def when none is
// left.
func next[T any](q *[]T, def T) T {
	if len(*q) == 0 {
		return def
	}
	r := (*q)[0]
	*q = (*q)[1:]
	return r
}

func (l *fakeLock) Refresh(proto.Instant) error {
	l.call("Refresh")
	return next(&l.refresh, nil)
}

// Release reads the lock back (taking readBack), then checks the deadline
// before it would move the lock, as the protocols do.
func (l *fakeLock) Release(valid func() bool) error {
	l.call("Release")
	l.clk.mono += l.readBack
	if !valid() {
		l.calls = append(l.calls, "expired")
		return fmt.Errorf("fakeLock: %w", proto.ErrExpired)
	}
	return nil
}

func (l *fakeLock) Close(proto.Instant) error { l.call("Close"); return nil }
func (l *fakeLock) Path() string              { return "/x/a.lock" }

func (l *fakeLock) HolderGone() bool {
	l.call("Gone")
	return next(&l.gone, false)
}

func (l *fakeLock) Mint(proto.Instant) (uint64, error) {
	l.call("Mint")
	r := next(&l.mint, mintResult{tok: 1})
	return r.tok, r.err
}

func testParams(t *testing.T) Params {
	t.Helper()
	p, err := Params{Lifetime: 15 * s}.Defaults()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	p := testParams(t)
	want := Params{Lifetime: 15 * s, RenewDeadline: 10 * s, Refresh: 3 * s, PollMin: PollMin, PollMax: s}
	if p != want {
		t.Errorf("Defaults() = %+v, want %+v", p, want)
	}
	bad := []struct {
		p    Params
		want string
	}{
		{Params{Lifetime: 15 * s, RenewDeadline: -s}, "renew deadline -1s must be positive"},
		{Params{Lifetime: 15 * s, Refresh: time.Microsecond}, "refresh interval 1µs is under 1ms"},
		{Params{Lifetime: 15 * s, RenewDeadline: 4 * s, Refresh: 3 * s}, "at most half the renew deadline"},
		{Params{Lifetime: 15 * s, RenewDeadline: 14 * s, Refresh: 2 * s}, "must be shorter than the lifetime"},
		{Params{Lifetime: 100 * s, RenewDeadline: 96 * s, Refresh: 3 * s}, "leave too small a margin"},
		{Params{Lifetime: 15 * s, PollMax: 16 * s}, "poll interval 16s must be between 1ms and the lifetime"},
		{Params{Lifetime: 0}, "lifetime 0s must be positive"},
	}
	for _, tt := range bad {
		if _, err := tt.p.Defaults(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v.Defaults() = %v, want an error containing %q", tt.p, err, tt.want)
		}
	}
}

// refreshCase is one refresh of a fresh hold: at is when it starts, took
// how long it takes.
type refreshCase struct {
	name         string
	at, took     time.Duration
	err          error
	wantDeadline time.Duration
	wantNext     time.Duration
	wantLost     bool
}

func refreshCases() []refreshCase {
	const r = 3 * s // the refresh interval of testParams
	eio := fmt.Errorf("refresh: %w", syscall.EIO)
	return []refreshCase{
		{"fast success moves the deadline from its start", 5 * s, 100 * time.Millisecond, nil, 15 * s, r, false},
		{"slow success does not count", 5 * s, r + 1, nil, 10 * s, r / 4, false},
		{"success started after the deadline does not count", 10 * s, 1, nil, 10 * s, r / 4, false},
		{"transient error retries sooner", 5 * s, 0, eio, 10 * s, r / 4, false},
		{"proof of loss loses at once", 5 * s, 0, algorithm.ErrNotHeld, 10 * s, r, true},
		{"an old refresh never moves the deadline back", 0, 0, nil, 10 * s, r, false},
	}
}

// runRefresh makes tc's refresh on a hold with parameters p and reports
// what differs from what tc wants ("" if nothing).
func runRefresh(p Params, tc refreshCase) string {
	const g = 10 * s // the renew deadline of testParams
	clk := &fakeClock{}
	lk := &fakeLock{clk: clk, refresh: []error{tc.err}, cost: tc.took}
	var lost []error
	h := NewHold(p, &Grant{Lock: lk, Start: clk.now()}, clk.now, func(err error) { lost = append(lost, err) })
	clk.mono = tc.at
	res := h.Refresh()
	var diffs []string
	if res.Next != tc.wantNext || h.Deadline() != tc.wantDeadline || (h.Lost() != nil) != tc.wantLost {
		diffs = append(diffs, fmt.Sprintf("next %v deadline %v lost %v; want %v %v %v", res.Next, h.Deadline(), h.Lost(), tc.wantNext, tc.wantDeadline, tc.wantLost))
	}
	if (res.Lost != nil) != tc.wantLost || len(lost) != len(slicesOf(tc.wantLost)) {
		diffs = append(diffs, fmt.Sprintf("reported loss %v, onLost calls %d; want lost=%v once", res.Lost, len(lost), tc.wantLost))
	}
	if res.Counted != (h.Deadline() == tc.at+g) {
		diffs = append(diffs, fmt.Sprintf("Counted = %v with deadline %v", res.Counted, h.Deadline()))
	}
	return strings.Join(diffs, "; ")
}

func TestRefresh(t *testing.T) {
	for _, tc := range refreshCases() {
		t.Run(tc.name, func(t *testing.T) {
			if d := runRefresh(testParams(t), tc); d != "" {
				t.Error(d)
			}
		})
	}
}

func slicesOf(b bool) []bool {
	if b {
		return []bool{b}
	}
	return nil
}

func TestDeadlineAndNeverRevive(t *testing.T) {
	clk := &fakeClock{}
	lk := &fakeLock{clk: clk, refresh: []error{syscall.EIO}}
	var lost []error
	h := NewHold(testParams(t), &Grant{Lock: lk, Start: clk.now()}, clk.now, func(err error) { lost = append(lost, err) })
	clk.mono = s
	h.Refresh()
	clk.mono = 10*s - 1
	if again := h.CheckDeadline(); again != 1 || h.Lost() != nil {
		t.Fatalf("CheckDeadline before the deadline = %v, lost %v; want 1ns, not lost", again, h.Lost())
	}
	clk.mono = 10 * s
	if again := h.CheckDeadline(); again != 0 {
		t.Fatalf("CheckDeadline at the deadline = %v, want 0", again)
	}
	if err := h.Lost(); err == nil || !errors.Is(err, syscall.EIO) || len(lost) != 1 {
		t.Fatalf("lost = %v (onLost calls %d), want lost once with the last error", err, len(lost))
	}
	clk.mono = 12 * s
	h.Refresh()
	if h.Lost() == nil || h.Deadline() != 10*s || len(lost) != 1 {
		t.Errorf("a late refresh revived the lease: lost %v deadline %v", h.Lost(), h.Deadline())
	}
}

func TestFinish(t *testing.T) {
	tests := []struct {
		name      string
		at        time.Duration // when Finish runs
		refresh   error         // its last refresh's result
		readBack  time.Duration // how long Release's read-back takes
		wantCalls string
		wantLost  bool
	}{
		{"valid: last refresh, then release", 5 * s, nil, 0, "Refresh Release", false},
		{"taken just now: no last refresh", 149 * time.Millisecond, nil, 0, "Release", false},
		{"taken FreshFor ago: last refresh", 150 * time.Millisecond, nil, 0, "Refresh Release", false},
		{"last refresh proves loss: only our files go", 5 * s, algorithm.ErrNotHeld, 0, "Refresh Close", true},
		{"past the deadline: only our files go", 11 * s, nil, 0, "Refresh Close", true},
		{"last refresh fails before the deadline: release", 5 * s, syscall.EIO, 0, "Refresh Release", false},
		{"slow read-back within the deadline moved by the last refresh", 5 * s, nil, 10*s - 1, "Refresh Release", false},
		{"read-back returns at the deadline moved by the last refresh", 5 * s, nil, 10 * s, "Refresh Release expired", true},
		{"read-back returns after the deadline the failed refresh left", 5 * s, syscall.EIO, 5 * s, "Refresh Release expired", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{}
			lk := &fakeLock{clk: clk, refresh: []error{tt.refresh}, readBack: tt.readBack}
			var lost []error
			h := NewHold(testParams(t), &Grant{Lock: lk, Start: clk.now()}, clk.now, func(err error) { lost = append(lost, err) })
			clk.mono = tt.at
			f := h.Finish()
			if got := strings.Join(lk.calls, " "); got != tt.wantCalls || (f.Lost != nil) != tt.wantLost || f.Released == tt.wantLost {
				t.Errorf("calls %q lost %v released %v; want %q lost=%v", got, f.Lost, f.Released, tt.wantCalls, tt.wantLost)
			}
			if (h.Lost() != nil) != tt.wantLost || len(lost) != len(slicesOf(tt.wantLost)) || f.Lost != h.Lost() {
				t.Errorf("Hold.Lost %v, onLost calls %d, Finished.Lost %v; want lost=%v, reported once", h.Lost(), len(lost), f.Lost, tt.wantLost)
			}
			if f.NewlyLost != tt.wantLost {
				t.Errorf("NewlyLost = %v, want %v (every loss here is found during Finish)", f.NewlyLost, tt.wantLost)
			}
			if strings.HasSuffix(tt.wantCalls, "expired") && !errors.Is(f.Err, algorithm.ErrExpired) {
				t.Errorf("Finished.Err = %v, want ErrExpired", f.Err)
			}
			if again := h.CheckDeadline(); again != 0 {
				t.Errorf("CheckDeadline after Finish = %v, want 0", again)
			}
		})
	}
}

func TestAcquisition(t *testing.T) {
	holder := func(claim string, staleIn time.Duration) attemptResult {
		return attemptResult{att: proto.Attempt{Holder: &proto.Holder{Claim: claim}, StaleIn: staleIn}}
	}
	acquired := attemptResult{att: proto.Attempt{Acquired: true}}
	broke := attemptResult{att: proto.Attempt{Broke: true}}
	eio := attemptResult{err: fmt.Errorf("link: %w", syscall.EIO)}
	eacces := attemptResult{err: fmt.Errorf("link: %w", syscall.EACCES)}
	tests := []struct {
		name     string
		once     bool
		attempts []attemptResult
		mint     []mintResult
		cost     time.Duration
		want     string // the outcomes of the steps, and the calls made
	}{
		{"free", false, []attemptResult{acquired}, nil, 0, "acquired(1); Acquire Mint"},
		{"held, then free", false, []attemptResult{holder("a", 0), acquired}, nil, 0, "wait; acquired(1); Acquire Acquire Mint"},
		{"break, then take at once", false, []attemptResult{broke, acquired}, nil, 0, "wait 0s; acquired(1); Acquire Acquire Mint"},
		{"transient errors are retried", false, []attemptResult{eio, acquired}, nil, 0, "wait; acquired(1); Acquire Acquire Mint"},
		{"other errors fail", false, []attemptResult{eacces}, nil, 0, "failed(link: permission denied); Acquire Close"},
		{"once: held", true, []attemptResult{holder("a", 0)}, nil, 0, "held(a); Acquire Close"},
		{"once: no holder seen is tried again", true, []attemptResult{{}, acquired}, nil, 0, "wait 0s; acquired(1); Acquire Acquire Mint"},
		{"once: transient errors fail", true, []attemptResult{eio}, nil, 0, "failed(link: input/output error); Acquire Close"},
		{"mint retried after a transient error", false, []attemptResult{acquired}, []mintResult{{0, syscall.EIO}, {7, nil}}, 0, "acquired(7); Acquire Mint Mint"},
		{"lost while minting: acquire again", false, []attemptResult{acquired, acquired}, []mintResult{{0, algorithm.ErrNotHeld}}, 0, "wait 0s; acquired(1); Acquire Mint Acquire Mint"},
		{"mint fails transiently through every try: give the lock back, acquire again with a new lock", false, []attemptResult{acquired}, []mintResult{{0, syscall.EIO}, {0, syscall.EIO}, {0, syscall.ESTALE}, {0, syscall.EIO}}, 0, "wait; Acquire Mint Mint Mint Mint Release Close"},
		{"once: mint fails transiently through every try", true, []attemptResult{acquired}, []mintResult{{0, syscall.EIO}, {0, syscall.EIO}, {0, syscall.EIO}, {0, syscall.EIO}}, 0, "failed(minting a fencing token: input/output error); Acquire Mint Mint Mint Mint Release Close"},
		{"mint fails: give the lock back", false, []attemptResult{acquired}, []mintResult{{0, syscall.EACCES}}, 0, "failed(minting a fencing token: permission denied); Acquire Mint Release Close"},
		{"mint fails past the deadline: the lock is left", false, []attemptResult{acquired}, []mintResult{{0, syscall.EACCES}}, 5 * s, "failed(minting a fencing token: permission denied); Acquire Mint Release expired Close"},
		{"late grant is never handed out", false, []attemptResult{acquired}, nil, 6 * s, "wait 0s; Acquire Mint Close"},
		{"once: late grant fails", true, []attemptResult{acquired}, nil, 6 * s, "failed(acquired 12s after the attempt began, past the renew deadline 10s; the lock is left to go stale); Acquire Mint Close"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{}
			lk := &fakeLock{clk: clk, attempts: tt.attempts, mint: tt.mint, cost: tt.cost}
			news := 0
			a, err := NewAcquisition(testParams(t), tt.once, func() (proto.Lock, error) {
				news++
				return lk, nil
			}, clk.now, func() float64 { return 0.5 }, Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for range 4 {
				st := a.Step()
				switch st.Outcome {
				case Wait:
					if st.Wait == 0 {
						out = append(out, "wait 0s")
					} else {
						out = append(out, "wait")
					}
				case Acquired:
					out = append(out, fmt.Sprintf("acquired(%d)", st.Grant.Token))
				case Held:
					out = append(out, fmt.Sprintf("held(%s)", st.Holder.Claim))
				case Failed:
					out = append(out, fmt.Sprintf("failed(%v)", st.Err))
				}
				if st.Outcome != Wait || news > 1 {
					break
				}
			}
			got := strings.Join(out, "; ") + "; " + strings.Join(lk.calls, " ")
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestWaits checks the backoff: waits start at PollMin, double up to two
// thirds of the poll interval, are jittered by ±50%, restart for a new
// holder and never run past the moment the holder could be judged stale.
func TestWaits(t *testing.T) {
	p := testParams(t) // poll interval 1 s
	attempts := []attemptResult{}
	for _, claim := range []string{"a", "a", "a", "a", "a", "a", "a", "a", "b", "b"} {
		attempts = append(attempts, attemptResult{att: proto.Attempt{Holder: &proto.Holder{Claim: claim}}})
	}
	attempts = append(attempts, attemptResult{att: proto.Attempt{Holder: &proto.Holder{Claim: "b"}, StaleIn: time.Millisecond}})
	clk := &fakeClock{}
	lk := &fakeLock{clk: clk, attempts: attempts}
	jitter := []float64{0, 0.999, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5}
	a, err := NewAcquisition(p, false, func() (proto.Lock, error) { return lk, nil }, clk.now, func() float64 {
		j := jitter[0]
		jitter = jitter[1:]
		return j
	}, Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	want := []time.Duration{5 * ms, 30 * ms, 40 * ms, 80 * ms, 160 * ms, 320 * ms, 640 * ms, 667 * ms, 10 * ms, 20 * ms, time.Millisecond}
	for i, w := range want {
		st := a.Step()
		if st.Outcome != Wait || st.Wait.Round(ms) != w.Round(ms) {
			t.Errorf("step %d: %v wait %v, want wait %v", i, st.Outcome, st.Wait, w)
		}
	}
}

// TestProbeLocalHolder: while the holder is a live process of this
// machine, waits longer than LocalPoll are cut into probes of that
// process, which make no attempt; the acquisition attempts when the
// backoff's wait is over, when the probe finds the holder gone, or after
// Wake. A holder of another machine is only attempted on the backoff.
func TestProbeLocalHolder(t *testing.T) {
	ms := time.Millisecond
	local := attemptResult{att: proto.Attempt{Holder: &proto.Holder{Claim: "a", ThisMachine: true}}}
	remote := attemptResult{att: proto.Attempt{Holder: &proto.Holder{Claim: "a"}}}
	tests := []struct {
		name     string
		attempts []attemptResult
		gone     []bool
		wakeAt   int // Wake before this step (0: never)
		want     string
	}{
		{"remote holder: the backoff alone", []attemptResult{remote, remote, remote, remote, remote, remote}, nil, 0,
			"10ms 20ms 40ms 80ms 160ms 320ms; Acquire Acquire Acquire Acquire Acquire Acquire"},
		{"local holder alive: probes between attempts", []attemptResult{local, local, local, local, local}, nil, 0,
			"10ms 20ms 40ms 50ms 30ms 50ms; Acquire Acquire Acquire Acquire Gone Acquire"},
		{"local holder gone: attempt at once", []attemptResult{local, local, local, local, {att: proto.Attempt{Broke: true}}, {att: proto.Attempt{Acquired: true}}}, []bool{true}, 0,
			"10ms 20ms 40ms 50ms 0s acquired; Acquire Acquire Acquire Acquire Gone Acquire Acquire Mint"},
		{"woken: attempt at once", []attemptResult{local, local, local, local, local, local}, nil, 5,
			"10ms 20ms 40ms 50ms 50ms 50ms; Acquire Acquire Acquire Acquire Acquire Gone"},
		{"a dead holder is not probed", []attemptResult{{att: proto.Attempt{Holder: &proto.Holder{Claim: "a", ThisMachine: true, Dead: true}}}, remote}, nil, 0,
			"10ms 20ms; Acquire Acquire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{}
			lk := &fakeLock{clk: clk, attempts: tt.attempts, gone: tt.gone}
			a, err := NewAcquisition(testParams(t), false, func() (proto.Lock, error) { return lk, nil }, clk.now, func() float64 { return 0.5 }, Hooks{})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for i := 1; len(out) < 6 && len(lk.attempts) > 0; i++ {
				if i == tt.wakeAt {
					a.Wake()
				}
				st := a.Step()
				if st.Outcome == Acquired {
					out = append(out, "acquired")
					break
				}
				out = append(out, st.Wait.Round(ms).String())
				clk.mono += st.Wait
			}
			got := strings.Join(out, " ") + "; " + strings.Join(lk.calls, " ")
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
