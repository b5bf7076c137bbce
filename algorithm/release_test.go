package algorithm_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
)

// TestReleasePastDeadline checks that Release checks the hold's deadline
// before each call that removes or moves the lock, and, once the check
// fails, sends none: the lock is left to go stale, only what only we use
// goes, and the error wraps ErrExpired. The deadline is a fake-clock time;
// a slow call (a read-back held in a partition, say) moves the clock.
func TestReleasePastDeadline(t *testing.T) {
	const lifetime = 15 * time.Second
	tests := []struct {
		name  string
		proto algorithm.Protocol
		// slow is the call (method and path; "" for the lock path) that
		// takes long enough to pass the deadline: none if empty.
		slow, slowPath string
		wantErr        error    // nil: released
		wantLeft       []string // what is left in the directory (the counter aside)
		wantOwner      bool     // Strict: our owner record is still at the lock path
	}{
		{"flufl: in time", algorithm.Flufl, "", "", nil, nil, false},
		{"flufl: the last refresh's read-back returns past the deadline", algorithm.Flufl, "ReadFile", "", algorithm.ErrExpired, []string{"a.lock"}, false},
		{"flufl: Release's own read-back returns past the deadline", algorithm.Flufl, "ReadFile", "release", algorithm.ErrExpired, []string{"a.lock"}, false},
		{"strict: in time", algorithm.Strict, "", "", nil, nil, false},
		{"strict: past the deadline before the record goes", algorithm.Strict, "Release", "", algorithm.ErrExpired, []string{"a.lock"}, true},
		{"strict: the record's removal returns past the deadline", algorithm.Strict, "Dir.Remove", "owner", algorithm.ErrExpired, []string{"a.lock"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var lk proto.Lock
			if tt.proto == algorithm.Strict {
				lk = e.strict("h1", lifetime)
			} else {
				lk = e.lock("h1", lifetime)
			}
			e.mustAcquire(lk)
			deadline := e.clk.Now().Add(10 * time.Second)
			late := func() { e.clk.Advance(11 * time.Second) }
			releasing := false
			var after []string // the calls made after the check failed
			failed := false
			refreshEIO := tt.slowPath == "release" // the last refresh fails, so Release reads the lock back itself
			e.inject = func(op fsopstest.Op) *fsopstest.Fault {
				if failed {
					after = append(after, op.Name+" "+op.Path+" "+op.Path2)
				}
				if refreshEIO && op.Name == "Chtimes" {
					refreshEIO = false
					return &fsopstest.Fault{}
				}
				if releasing && op.Name == tt.slow && (tt.slowPath == "" || tt.slowPath == "release") && op.Path == path ||
					releasing && op.Name == tt.slow && tt.slowPath != "" && strings.HasSuffix(op.Path, "/"+tt.slowPath) {
					late()
				}
				return nil
			}
			checks := 0
			valid := func() bool {
				checks++
				ok := e.clk.Now().Before(deadline)
				failed = failed || !ok
				return ok
			}
			releasing = true
			if tt.slow == "Release" {
				late()
			}
			// As package lease ends a lease: a last refresh, then Release.
			if err := lk.Refresh(e.now()); (err != nil) != (tt.slowPath == "release") {
				t.Fatalf("last refresh = %v", err)
			}
			err := lk.Release(valid)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Release = %v, want success", err)
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Fatalf("Release = %v, want an error wrapping %v", err, tt.wantErr)
			case tt.wantErr != nil && (errors.Is(err, algorithm.ErrNotHeld) || !strings.Contains(err.Error(), path)):
				t.Errorf("Release = %v: want it to name %s and not claim the lock was lost", err, path)
			}
			if checks == 0 {
				t.Errorf("Release never checked the deadline")
			}
			for _, c := range after {
				// Only our own names may still be removed: the claim
				// (Flufl), or nothing at all.
				if f := strings.Fields(c); (f[0] != "Remove" || !strings.Contains(f[1], "|h1|")) && f[0] != "ReadFile" {
					t.Errorf("after the deadline check failed, Release called %s", c)
				}
			}
			if err := lk.Close(proto.Instant{}); err != nil {
				t.Errorf("Close after Release = %v", err)
			}
			left := slices.DeleteFunc(e.files(), func(n string) bool { return strings.Contains(n, ".token") || strings.Contains(n, "token") })
			if !slices.Equal(left, tt.wantLeft) {
				t.Errorf("left %q, want %q", left, tt.wantLeft)
			}
			if tt.proto == algorithm.Strict && tt.wantErr != nil {
				_, _, err := e.mem.ReadFile(path+"/owner", 4096)
				if (err == nil) != tt.wantOwner {
					t.Errorf("owner record left: %v, want %v", err == nil, tt.wantOwner)
				}
			}
			if tt.proto == algorithm.Flufl && tt.wantErr != nil {
				if data, _, err := e.mem.ReadFile(path, 4096); err != nil || !strings.Contains(string(data), "|h1|") {
					t.Errorf("lock at %s = %q, %v; want ours, left to go stale", path, data, err)
				}
			}
		})
	}
}

// TestReleaseAfterRefreshChecksWhatItMoves checks that a Release that
// trusts the read-back of the refresh just before it (and so makes none of
// its own) still never removes a lock that is not ours: what it moves
// aside is read, and put back if it is someone else's.
func TestReleaseAfterRefreshChecksWhatItMoves(t *testing.T) {
	tests := []struct {
		name     string
		replaced bool // another lock is at the name between refresh and release
		wantErr  error
	}{
		{"ours: released with no read-back of its own", false, nil},
		{"replaced after the refresh: put back, ErrNotHeld", true, algorithm.ErrNotHeld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			lk := e.lock("h1", 15*time.Second)
			e.mustAcquire(lk)
			if err := lk.Refresh(e.now()); err != nil {
				t.Fatal(err)
			}
			const other = "/locks/a.lock|h2|2|nfslease1.l15000.r0123456789abcdef"
			if tt.replaced {
				if err := e.mem.Remove(path); err != nil {
					t.Fatal(err)
				}
				if _, err := e.mem.CreateExcl(path, []byte(other), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var reads int // of the lock, before it is moved aside
			moved := false
			e.inject = func(op fsopstest.Op) *fsopstest.Fault {
				moved = moved || op.Name == "Rename" && op.Path == path
				if op.Name == "ReadFile" && op.Path == path && !moved {
					reads++
				}
				return nil
			}
			err := lk.Release(inTime)
			if (tt.wantErr == nil) != (err == nil) || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("Release = %v, want %v", err, tt.wantErr)
			}
			if reads != 0 {
				t.Errorf("Release read the lock back %d times after a refresh that just did", reads)
			}
			data, _, rerr := e.mem.ReadFile(path, 4096)
			switch {
			case tt.replaced && (rerr != nil || string(data) != other):
				t.Errorf("the other lock is %q, %v; want it put back", data, rerr)
			case !tt.replaced && rerr == nil:
				t.Errorf("our lock %q is still there", data)
			}
		})
	}
}
