package keeper_test

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/keeper"
)

const (
	g = 10 * time.Second // renew deadline
	r = 3 * time.Second  // refresh interval
	s = time.Second
)

func TestRefreshed(t *testing.T) {
	eio := errors.New("eio")
	tests := []struct {
		name         string
		start, end   time.Duration
		err          error
		wantDeadline time.Duration
		wantNext     time.Duration
		wantLost     bool
	}{
		{"fast success moves the deadline from its start", 5 * s, 5*s + 100*time.Millisecond, nil, 15 * s, r, false},
		{"slow success does not count", 5 * s, 5*s + r + 1, nil, 10 * s, r / 4, false},
		{"success started after the deadline does not count", 10 * s, 10*s + 1, nil, 10 * s, r / 4, false},
		{"transient error retries sooner", 5 * s, 5 * s, eio, 10 * s, r / 4, false},
		{"proof of loss loses at once", 5 * s, 5 * s, algorithm.ErrNotHeld, 10 * s, r, true},
		{"an old refresh never moves the deadline back", -5 * s, -5 * s, nil, 10 * s, r, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keeper.New(0, g, r)
			next := k.Refreshed(tt.start, tt.end, tt.err)
			if next != tt.wantNext || k.Deadline() != tt.wantDeadline || (k.Lost() != nil) != tt.wantLost {
				t.Errorf("next %v deadline %v lost %v; want %v %v %v", next, k.Deadline(), k.Lost(), tt.wantNext, tt.wantDeadline, tt.wantLost)
			}
		})
	}
}

func TestCheckAndNeverRevive(t *testing.T) {
	k := keeper.New(0, g, r)
	k.Refreshed(1*s, 1*s, syscall.EIO)
	if err := k.Check(10*s - 1); err != nil {
		t.Fatalf("lost before the deadline: %v", err)
	}
	err := k.Check(10 * s)
	if err == nil || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Check at the deadline = %v, want lost with the last error", err)
	}
	k.Refreshed(12*s, 12*s, nil)
	if k.Lost() == nil || k.Deadline() != 10*s {
		t.Errorf("a late refresh revived the lease: lost %v deadline %v", k.Lost(), k.Deadline())
	}
}
