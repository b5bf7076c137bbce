package algorithm_test

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
)

// TestNewRejectsDirectoryNames: a path whose last element is "." or ".."
// names a directory. filepath.Abs would clean "/locks/x/." to the lock
// "/locks/x" in the parent directory (for Strict, an empty directory there
// was replaced by a generation, as if abandoned: fixed).
func TestNewRejectsDirectoryNames(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{dir + "/.", dir + "/..", dir + "/a.lock/.", dir + "/a.lock/..", ".", "..", "a/.", "a/.."} {
		for _, prot := range []algorithm.Protocol{algorithm.Flufl, algorithm.Strict} {
			_, err := prot.New(e.fs, p, proto.Config{Lifetime: time.Second})
			if !errors.Is(err, algorithm.ErrBadPath) {
				t.Errorf("%s: New(%q) = %v, want ErrBadPath", prot.Name(), p, err)
			} else if !strings.Contains(err.Error(), p) {
				t.Errorf("%s: New(%q): error %q does not name the path", prot.Name(), p, err)
			}
		}
	}
	if len(e.files()) != 0 {
		t.Errorf("files = %q", e.files())
	}
}

// TestClaimCreateLostReply: the create of our claim is applied but its
// reply is lost (EIO after). The attempt fails transiently; Close removes
// the claim it cannot be sure of, and a retry adopts it.
func TestClaimCreateLostReply(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		e := newEnv(t)
		e.inject = func(op fsopstest.Op) *fsopstest.Fault {
			if op.Name == "CreateExcl" {
				return &fsopstest.Fault{After: true}
			}
			return nil
		}
		lk := e.lock("h", 10*time.Second)
		if _, err := lk.Acquire(e.now()); !proto.Transient(err) {
			t.Fatalf("Acquire = %v, want a transient error", err)
		}
		if len(e.files()) != 1 {
			t.Fatalf("files = %q, want the claim the lost reply left", e.files())
		}
		e.inject = nil
		if err := lk.Close(e.now()); err != nil {
			t.Fatal(err)
		}
		if len(e.files()) != 0 {
			t.Errorf("files after Close = %q, want none", e.files())
		}
	})
	t.Run("retry", func(t *testing.T) {
		e := newEnv(t)
		n := 0
		e.inject = func(op fsopstest.Op) *fsopstest.Fault {
			if op.Name == "CreateExcl" && n == 0 {
				n++
				return &fsopstest.Fault{After: true}
			}
			return nil
		}
		lk := e.lock("h", 10*time.Second)
		if _, err := lk.Acquire(e.now()); !proto.Transient(err) {
			t.Fatalf("Acquire = %v, want a transient error", err)
		}
		e.mustAcquire(lk)
		if err := lk.Release(inTime); err != nil {
			t.Fatal(err)
		}
		if len(e.files()) != 0 {
			t.Errorf("files after Release = %q, want none", e.files())
		}
	})
}

type fixedRand struct{}

func (fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xcd
	}
	return len(p), nil
}

// TestUnsureClaimNotOurs: after an ambiguous create failure, Close removes
// the file at our claim name only if it holds our claim.
func TestUnsureClaimNotOurs(t *testing.T) {
	e := newEnv(t)
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name == "CreateExcl" {
			return &fsopstest.Fault{} // EIO, not applied
		}
		return nil
	}
	lk, err := algorithm.Flufl.New(e.fs, path, proto.Config{Lifetime: 10 * time.Second, Hostname: "h", Pid: 1, Rand: fixedRand{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lk.Acquire(e.now()); !proto.Transient(err) {
		t.Fatalf("Acquire = %v, want a transient error", err)
	}
	claim := path + "|h|1|nfslease1.l10000.rcdcdcdcdcdcdcdcd"
	if err := e.mem.WriteFile(claim, []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.inject = nil
	if err := lk.Close(e.now()); err != nil {
		t.Fatal(err)
	}
	if data, _, err := e.mem.ReadFile(claim, 100); err != nil || string(data) != "someone else's" {
		t.Errorf("file at our claim name = %q, %v; want it untouched", data, err)
	}
}

// TestLinkLostRequest: a link that fails with a transient error and leaves
// no lock is reported as that error, not as a lock that is held (TryAcquire
// said "held by another holder" for a lock that did not exist).
func TestLinkLostRequest(t *testing.T) {
	e := newEnv(t)
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name == "Link" {
			return &fsopstest.Fault{Err: syscall.ESTALE}
		}
		return nil
	}
	lk := e.lock("h", 10*time.Second)
	att, err := lk.Acquire(e.now())
	if !errors.Is(err, syscall.ESTALE) || !proto.Transient(err) || att.Holder != nil {
		t.Fatalf("Acquire = %+v, %v; want a transient ESTALE error and no holder", att, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path", err)
	}
	e.inject = nil
	e.mustAcquire(lk)
	if err := lk.Release(inTime); err != nil {
		t.Fatal(err)
	}
	if _, err := e.mem.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock after release: %v", err)
	}
}

// leftover writes a claim file as a crashed process would leave it: named
// and holding its own path, last touched at touched (its mtime is the
// expiry, touched + lifetime).
func (e *env) leftover(host string, pid int, field4 string, touched time.Time, lifetime time.Duration) string {
	e.t.Helper()
	name := path + "|" + host + "|" + strconv.Itoa(pid) + "|" + field4
	if err := e.mem.WriteFile(name, []byte(name), 0o644); err != nil {
		e.t.Fatal(err)
	}
	exp := touched.Add(lifetime)
	if err := e.mem.Chtimes(name, exp, exp); err != nil {
		e.t.Fatal(err)
	}
	return name
}

// TestSweep: an acquisition removes the claim files that crashed
// processes of this host left for this lock, and nothing else.
func TestSweep(t *testing.T) {
	const L = 10 * time.Second
	rec := func(r string) string { return "nfslease1.l10000.r" + r }
	e := newEnv(t)
	now := e.clk.Now()
	dead := map[int]bool{101: true, 102: true, 103: true, 104: true}
	keep := map[string]string{}
	gone := map[string]string{}
	gone[e.leftover("h", 101, rec("01"), now.Add(-L-proto.StaleMargin-time.Second), L)] = "dead pid, untouched for L+margin+1s"
	gone[e.leftover("h", 102, rec("02"), now.Add(-time.Hour), L)] = "dead pid, an hour old"
	gone[e.leftover("h", 200, rec("03"), now.Add(-2*L-proto.StaleMargin-time.Second), L)] = "live pid (reused?), untouched for 2L+margin+1s"
	keep[e.leftover("h", 103, rec("04"), now.Add(-L), L)] = "dead pid, untouched for only L"
	keep[e.leftover("h", 201, rec("05"), now.Add(-L-proto.StaleMargin-time.Second), L)] = "live pid, untouched for L+margin+1s"
	keep[e.leftover("other", 104, rec("06"), now.Add(-time.Hour), L)] = "another host"
	keep[e.leftover("h", 104, "123456789", now.Add(-time.Hour), L)] = "Python flufl.lock claim"
	// A crashed breaker's tomb: named after its claim, holding the lock
	// it moved aside. Removed once its process is gone; a live
	// process's tomb, and another host's, are kept.
	for _, tc := range []struct {
		host, pid, why string
		removed        bool
	}{
		{"h", "104", "a crashed breaker's tomb", true},
		{"h", "201", "a live breaker's tomb", false},
		{"other", "104", "another host's tomb", false},
	} {
		tomb := path + "|" + tc.host + "|" + tc.pid + "|" + rec("07") + ".break"
		if err := e.mem.WriteFile(tomb, []byte(path+"|h|101|"+rec("0e")), 0o644); err != nil {
			t.Fatal(err)
		}
		if tc.removed {
			gone[tomb] = tc.why
		} else {
			keep[tomb] = tc.why
		}
	}
	// Claims left empty by a process killed between creating and
	// writing them (mtime = creation time).
	for _, tc := range []struct {
		pid, r  string
		age     time.Duration
		removed bool
		why     string
	}{
		{"104", "10", L + proto.StaleMargin + time.Second, true, "empty claim of a dead pid, old"},
		{"104", "11", L, false, "empty claim of a dead pid, young"},
		{"201", "12", time.Hour, false, "empty claim of a live pid"},
	} {
		p := path + "|h|" + tc.pid + "|" + rec(tc.r)
		if err := e.mem.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		mt := now.Add(-tc.age)
		if err := e.mem.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
		if tc.removed {
			gone[p] = tc.why
		} else {
			keep[p] = tc.why
		}
	}
	other := dir + "/b.lock|h|104|" + rec("08")
	if err := e.mem.WriteFile(other, []byte(other), 0o644); err != nil {
		t.Fatal(err)
	}
	keep[other] = "claim of another lock"
	wrong := path + "|h|104|" + rec("09")
	if err := e.mem.WriteFile(wrong, []byte("something else"), 0o644); err != nil {
		t.Fatal(err)
	}
	keep[wrong] = "claim name, other content"
	if err := e.mem.Symlink(path+"|h|104|"+rec("0a"), path+"|h|104|"+rec("0b")); err != nil {
		t.Fatal(err)
	}
	keep[path+"|h|104|"+rec("0b")] = "symlink"
	if err := e.mem.MkdirAll(path+"|h|104|"+rec("0c"), 0o755); err != nil {
		t.Fatal(err)
	}
	keep[path+"|h|104|"+rec("0c")] = "directory"
	// The current lock: a crashed holder's claim, linked as the lock and
	// not yet stale by the wall-clock rule. Only breaking may remove it.
	holder := e.leftover("h", 101, rec("0d"), now.Add(-3*L), L)
	if err := e.mem.Link(holder, path); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(0)
	keep[holder] = "the lock's claim"
	keep[path] = "the lock"

	lk, err := algorithm.Flufl.New(e.fs, path, proto.Config{
		Lifetime: L, Hostname: "h", Pid: 300, SkewAllowance: time.Hour,
		PidAlive: func(pid int) bool { return !dead[pid] },
	})
	if err != nil {
		t.Fatal(err)
	}
	att, err := lk.Acquire(e.now())
	if err != nil || att.Acquired {
		t.Fatalf("Acquire = %+v, %v; want held by the crashed holder", att, err)
	}
	for name, why := range keep {
		if !e.mem.Exists(name) {
			t.Errorf("removed %s (%s)", name, why)
		}
	}
	for name, why := range gone {
		if e.mem.Exists(name) {
			t.Errorf("kept %s (%s)", name, why)
		}
	}
	if err := lk.Close(e.now()); err != nil {
		t.Fatal(err)
	}
}

// TestSweepBounded: one acquisition removes at most a few leftovers, so
// that an attempt stays a bounded step; successive acquisitions remove
// the rest, with or without shared Hints (a sweep that stopped at its
// bound is not remembered as done).
func TestSweepBounded(t *testing.T) {
	const L = 10 * time.Second
	for _, hints := range []*proto.Hints{nil, new(proto.Hints)} {
		e := newEnv(t)
		old := e.clk.Now().Add(-time.Hour)
		for i := range 20 {
			e.leftover("h", 1000+i, "nfslease1.l10000.r"+strconv.Itoa(i), old, L)
		}
		var counts []int
		for range 4 {
			lk, err := algorithm.Flufl.New(e.fs, path, proto.Config{Lifetime: L, Hostname: "h", Pid: 1, PidAlive: func(int) bool { return false }, Hints: hints})
			if err != nil {
				t.Fatal(err)
			}
			e.mustAcquire(lk)
			if err := lk.Release(inTime); err != nil {
				t.Fatal(err)
			}
			counts = append(counts, len(e.files()))
		}
		if fmt.Sprint(counts) != "[12 4 0 0]" {
			t.Errorf("hints %v: leftovers after each acquisition = %v, want [12 4 0 0]", hints != nil, counts)
		}
	}
}

// TestSweepHints: with shared Hints, a process sweeps a lock's directory
// at most once per lifetime after a sweep that found everything; a
// leftover that appears meanwhile is removed by the first acquisition a
// lifetime later.
func TestSweepHints(t *testing.T) {
	const L = 10 * time.Second
	e := newEnv(t)
	e.hints = new(proto.Hints)
	listings := 0
	cycle := func() {
		t.Helper()
		lk := e.lock("h", L)
		e.inject = func(op fsopstest.Op) *fsopstest.Fault {
			if op.Name == "ReadDir" && op.Path == dir+"/" {
				listings++
			}
			return nil
		}
		e.mustAcquire(lk)
		e.inject = nil
		if err := lk.Release(inTime); err != nil {
			t.Fatal(err)
		}
		if err := lk.Close(e.now()); err != nil {
			t.Fatal(err)
		}
	}
	cycle() // sweeps: nothing to remove
	left := e.leftover("h", 1000, "nfslease1.l10000.rab", e.clk.Now().Add(-time.Hour), L)
	e.clk.Advance(L - time.Second)
	cycle()
	if !slices.Contains(e.files(), filepath.Base(left)) || listings != 1 {
		t.Fatalf("within a lifetime of the last sweep: files %q after %d sweep listings, want the leftover kept after 1", e.files(), listings)
	}
	e.clk.Advance(time.Second)
	cycle()
	if slices.Contains(e.files(), filepath.Base(left)) || listings != 2 {
		t.Errorf("a lifetime after the last sweep: files %q after %d sweep listings, want the leftover removed after 2", e.files(), listings)
	}
}

// TestSweepRace: a leftover that its process touches (or links as the
// lock) between the sweep's look and its removal is put back.
func TestSweepRace(t *testing.T) {
	const L = 10 * time.Second
	e := newEnv(t)
	victim := e.leftover("h", 5, "nfslease1.l10000.rff", e.clk.Now().Add(-time.Hour), L)
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name == "Rename" && op.Path == victim {
			// The process wakes up and touches its claim just before
			// the sweep moves it.
			exp := e.clk.Now().Add(L)
			if err := e.mem.Chtimes(victim, exp, exp); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	}
	lk, err := algorithm.Flufl.New(e.fs, path, proto.Config{Lifetime: L, Hostname: "h", Pid: 1, PidAlive: func(int) bool { return false }})
	if err != nil {
		t.Fatal(err)
	}
	e.mustAcquire(lk)
	if data, _, err := e.mem.ReadFile(victim, 4096); err != nil || string(data) != victim {
		t.Errorf("claim touched during the sweep: %q, %v; want it put back", data, err)
	}
	if err := lk.Release(inTime); err != nil {
		t.Fatal(err)
	}
	if n := len(e.files()); n != 1 {
		t.Errorf("files = %q, want only the put-back claim", e.files())
	}
}
