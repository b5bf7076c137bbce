package lease_test

import (
	"testing"
	"time"

	"github.com/nfslease/nfslease/lease"
)

// TestOnGrid: a refresh wait ends on a multiple of its step, never later
// than asked and never earlier by a step or more, so that leases that
// started at different times refresh together.
func TestOnGrid(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		now, d, want time.Duration
	}{
		{now: 0, d: 3 * time.Second, want: 3 * time.Second},             // on the grid already
		{now: 7 * ms, d: 3 * time.Second, want: 3*time.Second - 7*ms},   // step 50 ms
		{now: 49 * ms, d: 3 * time.Second, want: 3*time.Second - 49*ms}, // the most it shortens
		{now: 51 * ms, d: 3 * time.Second, want: 3*time.Second - ms},
		{now: 3 * ms, d: 160 * ms, want: 157 * ms}, // step d/16 = 10 ms
		{now: 5 * ms, d: 15, want: 15},             // too short to align
	} {
		got := lease.OnGrid(tc.now, tc.d)
		if got != tc.want {
			t.Errorf("OnGrid(%v, %v) = %v, want %v", tc.now, tc.d, got, tc.want)
		}
	}
	// Two leases whose timers start 1234 µs apart fall due together.
	a := lease.OnGrid(time.Second, 3*time.Second)
	b := lease.OnGrid(time.Second+1234*time.Microsecond, 3*time.Second)
	if time.Second+a != time.Second+1234*time.Microsecond+b {
		t.Errorf("due at %v and %v, want the same instant", time.Second+a, time.Second+1234*time.Microsecond+b)
	}
}
