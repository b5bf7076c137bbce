package algorithm_test

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/clock"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
)

const (
	dir  = "/locks"
	path = dir + "/a.lock"
)

var epoch = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// inTime is the deadline check of a Release whose hold is valid throughout.
func inTime() bool { return true }

type env struct {
	t      *testing.T
	clk    *clock.Fake
	mem    *fsopstest.Mem
	inject func(fsopstest.Op) *fsopstest.Fault
	hints  *proto.Hints // Config.Hints of the locks made
	fs     *fsopstest.Faulty
	flufl  algorithm.Protocol // the protocol of the locks made: algorithm.Flufl, or a mutant of it
}

func newEnv(t *testing.T, opts ...fsopstest.MemOption) *env {
	t.Helper()
	e := &env{t: t, clk: clock.NewFake(epoch)}
	e.mem = fsopstest.NewMem(e.clk, opts...)
	if err := e.mem.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	e.fs = &fsopstest.Faulty{FS: e.mem, Inject: func(op fsopstest.Op) *fsopstest.Fault {
		if e.inject != nil {
			return e.inject(op)
		}
		return nil
	}}
	return e
}

// lock makes a Flufl lock through the faulty FS, or through fsys if given.
func (e *env) lock(host string, lifetime time.Duration, fsys ...fsops.FS) proto.Lock {
	e.t.Helper()
	var f fsops.FS = e.fs
	if len(fsys) > 0 {
		f = fsys[0]
	}
	p := e.flufl
	if p == nil {
		p = algorithm.Flufl
	}
	lk, err := p.New(f, path, proto.Config{Lifetime: lifetime, Hostname: host, Pid: 1, Hints: e.hints})
	if err != nil {
		e.t.Fatal(err)
	}
	return lk
}

func (e *env) mustAcquire(lk proto.Lock) {
	e.t.Helper()
	att, err := lk.Acquire(e.now())
	if err != nil || !att.Acquired {
		e.t.Fatalf("Acquire = %+v, %v; want acquired", att, err)
	}
}

// now is the current Instant of the fake clock; its monotonic reading
// counts from the epoch.
func (e *env) now() proto.Instant {
	t := e.clk.Now()
	return proto.Instant{Wall: t, Mono: t.Sub(epoch)}
}

// mustBreak expects one attempt that breaks a stale lock, then one that
// takes it.
func (e *env) mustBreak(lk proto.Lock) {
	e.t.Helper()
	if att, err := lk.Acquire(e.now()); err != nil || !att.Broke || att.Acquired {
		e.t.Fatalf("Acquire = %+v, %v; want a break", att, err)
	}
	e.mustAcquire(lk)
}

func (e *env) files() []string {
	e.t.Helper()
	names, err := e.mem.ReadDir(dir)
	if err != nil {
		e.t.Fatal(err)
	}
	return names
}

// once returns an injector that applies f to the first call matching
// name and path, and passes every other call through.
func once(name, path string, f func(fsopstest.Op) *fsopstest.Fault) func(fsopstest.Op) *fsopstest.Fault {
	done := false
	return func(op fsopstest.Op) *fsopstest.Fault {
		if done || op.Name != name || (path != "" && op.Path != path) {
			return nil
		}
		done = true
		return f(op)
	}
}

func TestAcquireDecidesByReadingBack(t *testing.T) {
	tests := []struct {
		name   string
		mem    []fsopstest.MemOption
		inject func(e *env) func(fsopstest.Op) *fsopstest.Fault
	}{
		{"link succeeds", nil, nil},
		{"link applied, reply lost as EEXIST", nil, func(e *env) func(fsopstest.Op) *fsopstest.Fault {
			return once("Link", "", func(fsopstest.Op) *fsopstest.Fault {
				return &fsopstest.Fault{Err: syscall.EEXIST, After: true}
			})
		}},
		{"link applied, reply lost as EIO", nil, func(e *env) func(fsopstest.Op) *fsopstest.Fault {
			return once("Link", "", func(fsopstest.Op) *fsopstest.Fault {
				return &fsopstest.Fault{Err: syscall.EIO, After: true}
			})
		}},
		{"create applied, reply lost as EEXIST", nil, func(e *env) func(fsopstest.Op) *fsopstest.Fault {
			return once("CreateExcl", "", func(fsopstest.Op) *fsopstest.Fault {
				return &fsopstest.Fault{Err: syscall.EEXIST, After: true}
			})
		}},
		{"sshfs: nlink 1, path inodes, whole seconds", []fsopstest.MemOption{fsopstest.WithPathInodes(), fsopstest.WithMtimeGranularity(time.Second), fsopstest.WithEPERMForEEXIST()}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.mem...)
			if tt.inject != nil {
				e.inject = tt.inject(e)
			}
			lk := e.lock("a", 15*time.Second)
			e.mustAcquire(lk)
			e.inject = nil
			e.clk.Advance(3 * time.Second)
			if err := lk.Refresh(e.now()); err != nil {
				t.Fatalf("Refresh = %v", err)
			}
			// A second lock sees it held.
			other := e.lock("b", 15*time.Second)
			att, err := other.Acquire(e.now())
			if err != nil || att.Acquired || att.Holder == nil || att.Holder.Host != "a" {
				t.Fatalf("contender: Acquire = %+v, %v; want held by a", att, err)
			}
			if err := other.Close(e.now()); err != nil {
				t.Fatal(err)
			}
			if err := lk.Release(inTime); err != nil {
				t.Fatalf("Release = %v", err)
			}
			if names := e.files(); len(names) != 0 {
				t.Errorf("left behind: %q", names)
			}
		})
	}
}

func TestContenderGetsEPERMOnSSHFS(t *testing.T) {
	e := newEnv(t, fsopstest.WithPathInodes(), fsopstest.WithEPERMForEEXIST())
	a := e.lock("a", 15*time.Second)
	e.mustAcquire(a)
	b := e.lock("b", 15*time.Second)
	for i := range 5 { // EPERM with a lock present is "held", however often
		att, err := b.Acquire(e.now())
		if err != nil || att.Acquired || att.Holder == nil {
			t.Fatalf("attempt %d: %+v, %v; want held", i, att, err)
		}
	}
}

func TestRefreshDetectsLoss(t *testing.T) {
	tests := []struct {
		name  string
		steal func(e *env)
	}{
		{"lock removed", func(e *env) { e.mem.Remove(path) }},
		{"claim removed", func(e *env) {
			names := e.files()
			for _, n := range names {
				if n != "a.lock" {
					e.mem.Remove(dir + "/" + n)
				}
			}
		}},
		{"lock replaced by another holder", func(e *env) {
			e.mem.Remove(path)
			b := e.lock("b", 15*time.Second, e.mem)
			e.mustAcquire(b)
		}},
		{"lock replaced by a directory", func(e *env) {
			e.mem.Remove(path)
			e.mem.MkdirAll(path, 0o755)
		}},
		{"lock replaced by a copy with our content", func(e *env) {
			data, _, _ := e.mem.ReadFile(path, 4096)
			e.mem.Remove(path)
			e.mem.WriteFile(path, data, 0o644)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			a := e.lock("a", 15*time.Second)
			e.mustAcquire(a)
			// As every holder does: mint, which reads the lock back.
			if _, err := a.Mint(e.now()); err != nil {
				t.Fatal(err)
			}
			tt.steal(e)
			err := a.Refresh(e.now())
			if !errors.Is(err, algorithm.ErrNotHeld) {
				t.Fatalf("Refresh = %v, want ErrNotHeld", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the lock", err)
			}
		})
	}
}

func TestRefreshTransientIsNotLoss(t *testing.T) {
	for _, op := range []string{"Chtimes", "ReadFile"} {
		for _, errno := range []syscall.Errno{syscall.EIO, syscall.ESTALE} {
			t.Run(op+"/"+errno.Error(), func(t *testing.T) {
				e := newEnv(t)
				a := e.lock("a", 15*time.Second)
				e.mustAcquire(a)
				e.inject = once(op, "", func(fsopstest.Op) *fsopstest.Fault { return &fsopstest.Fault{Err: errno} })
				err := a.Refresh(e.now())
				if err == nil || errors.Is(err, algorithm.ErrNotHeld) || !proto.Transient(err) {
					t.Fatalf("Refresh = %v, want a transient error that is not ErrNotHeld", err)
				}
				if err := a.Refresh(e.now()); err != nil {
					t.Fatalf("second Refresh = %v", err)
				}
			})
		}
	}
}

// crashed leaves a lock of host "dead" with the given lifetime, acquired
// now and never refreshed.
func (e *env) crashed(lifetime time.Duration) {
	e.t.Helper()
	e.mustAcquire(e.lock("dead", lifetime, e.mem))
}

func TestStaleJudgement(t *testing.T) {
	e := newEnv(t)
	e.crashed(15 * time.Second)
	w := e.lock("w", 15*time.Second)
	// Stale after 15s + StaleMargin of watching it unchanged.
	att, err := w.Acquire(e.now())
	if err != nil || att.Acquired || att.StaleIn != 15*time.Second+proto.StaleMargin {
		t.Fatalf("first look: %+v, %v; want StaleIn 16s", att, err)
	}
	if att.Holder.Lifetime != 15*time.Second || att.Holder.Protocol != "flufl" {
		t.Errorf("holder = %+v", att.Holder)
	}
	// The watch starts at the second look: the first step's start may
	// precede its read by any amount (a hung call).
	e.clk.Advance(100 * time.Millisecond)
	if att, _ = w.Acquire(e.now()); att.StaleIn != 15*time.Second+proto.StaleMargin {
		t.Fatalf("second look: %+v; want StaleIn 16s", att)
	}
	e.clk.Advance(15 * time.Second)
	att, _ = w.Acquire(e.now())
	if att.Acquired || att.StaleIn != proto.StaleMargin {
		t.Fatalf("after 15s: %+v; want StaleIn 1s", att)
	}
	e.clk.Advance(proto.StaleMargin)
	e.mustBreak(w)
	// The dead holder's claim went with its lock.
	if names := e.files(); len(names) != 2 {
		t.Errorf("files = %q, want our lock and claim only", names)
	}
}

func TestWatchRestartsOnRefresh(t *testing.T) {
	e := newEnv(t)
	h := e.lock("h", 15*time.Second, e.mem)
	e.mustAcquire(h)
	w := e.lock("w", 15*time.Second)
	w.Acquire(e.now())
	for range 10 {
		e.clk.Advance(10 * time.Second)
		if err := h.Refresh(e.now()); err != nil {
			t.Fatal(err)
		}
		if att, err := w.Acquire(e.now()); err != nil || att.Acquired {
			t.Fatalf("waiter took a live lock: %+v, %v", att, err)
		}
	}
}

func TestWallClockRule(t *testing.T) {
	e := newEnv(t)
	e.crashed(15 * time.Second)
	// A waiter that first looks when the expiry is more than the skew
	// allowance in the past breaks at once; with the rule off it waits.
	e.clk.Advance(15*time.Second + proto.DefaultSkewAllowance + time.Nanosecond)
	off, err := algorithm.Flufl.New(e.fs, path, proto.Config{Lifetime: 15 * time.Second, SkewAllowance: -1, Hostname: "off", Pid: 1})
	if err != nil {
		t.Fatal(err)
	}
	if att, err := off.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatalf("rule off: %+v, %v; want held", att, err)
	}
	off.Close(e.now())
	e.mustBreak(e.lock("on", 15*time.Second))
}

// A new holder takes the lock between the breaker's fresh re-read and its
// rename: the breaker moves the new lock aside, sees it is not the one it
// judged, and puts it back. The new holder never notices.
func TestBreakPutsBackAWrongVictim(t *testing.T) {
	if d := breakWrongVictim(newEnv(t)); d != "" {
		t.Fatal(d)
	}
}

// newcomerAtBreak leaves a crashed holder's lock, long stale, and arranges
// that someone else breaks it and acquires (*newcomer) just before a
// breaker's rename of the lock reaches the server.
func (e *env) newcomerAtBreak(newcomer *proto.Lock) {
	e.crashed(time.Second)
	e.clk.Advance(time.Minute)
	e.inject = once("Rename", path, func(fsopstest.Op) *fsopstest.Fault {
		e.mem.Remove(path)
		*newcomer = e.lock("new", 15*time.Second, e.mem)
		e.mustAcquire(*newcomer)
		return nil
	})
}

// breakWrongVictim runs TestBreakPutsBackAWrongVictim in e, and says what
// went wrong ("" if nothing did).
func breakWrongVictim(e *env) string {
	var newcomer proto.Lock
	e.newcomerAtBreak(&newcomer)
	b := e.lock("breaker", 15*time.Second)
	att, err := b.Acquire(e.now())
	if err != nil || att.Acquired {
		return fmt.Sprintf("breaker: %+v, %v; want not acquired", att, err)
	}
	if err := newcomer.Refresh(e.now()); err != nil {
		return fmt.Sprintf("newcomer lost its lock to a breaker: %v", err)
	}
	b.Close(e.now())
	if err := newcomer.Release(inTime); err != nil {
		return err.Error()
	}
	if names := e.files(); len(names) != 1 || !strings.HasPrefix(names[0], "a.lock|dead|1|") {
		return fmt.Sprintf("files = %q, want only the dead holder's orphaned claim", names)
	}
	return ""
}

// The holder refreshes between the breaker's judgement and its fresh
// re-read: no break.
func TestBreakRereadSeesRefresh(t *testing.T) {
	e := newEnv(t)
	h := e.lock("h", 2*time.Second, e.mem)
	e.mustAcquire(h)
	e.clk.Advance(time.Minute) // expired by the wall-clock rule
	reads := 0
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name == "ReadFile" && op.Path == path {
			reads++
			if reads == 2 { // the re-read before breaking
				if err := h.Refresh(e.now()); err != nil {
					t.Errorf("holder refresh: %v", err)
				}
			}
		}
		return nil
	}
	b := e.lock("b", 2*time.Second)
	if att, err := b.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatalf("breaker: %+v, %v; want not acquired", att, err)
	}
	if err := h.Refresh(e.now()); err != nil {
		t.Fatalf("holder lost its lock: %v", err)
	}
}

// Two breakers judge the same stale lock at once. They take turns through
// the break lock: the first to take it breaks and acquires; the other
// neither breaks nor disturbs it.
func TestTwoBreakers(t *testing.T) {
	e := newEnv(t)
	e.crashed(time.Second)
	e.clk.Advance(time.Minute)
	b1 := e.lock("b1", 15*time.Second, e.mem)
	e.inject = once("Rename", path, func(fsopstest.Op) *fsopstest.Fault {
		// b2 holds the break lock and is about to move the stale lock.
		att, err := b1.Acquire(e.now())
		if err != nil || att.Acquired || att.Broke {
			t.Errorf("b1 during b2's break: %+v, %v; want a wait", att, err)
		}
		return nil
	})
	b2 := e.lock("b2", 15*time.Second)
	e.mustBreak(b2)
	if att, err := b1.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatalf("b1 after b2's break: %+v, %v; want held by b2", att, err)
	}
	if err := b2.Refresh(e.now()); err != nil {
		t.Fatalf("b2 lost its lock: %v", err)
	}
	b1.Close(e.now())
	b2.Release(inTime)
	if names := e.files(); len(names) != 0 {
		t.Errorf("left behind: %q", names)
	}
}

// A breaker whose fresh look at the stale lock comes back after its turn
// has run out (the request or its reply held up on the network) does not
// act on it: by then other breakers may have judged its break lock stale,
// broken the lock and let a new holder take it (simulator: flufl/lossy
// seed 137, I2). It moves nothing, removes its break lock only the careful
// way (another breaker may be moving it aside), and a later attempt, with
// a turn of its own, breaks the lock.
func TestBreakTurnRunsOut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delay time.Duration // how late the re-read comes back
		moves int           // renames of the lock name by the breaker
	}{
		{"in time", time.Second - time.Millisecond, 1},
		{"late", time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.crashed(time.Second)
			e.clk.Advance(time.Minute) // expired by the wall-clock rule
			cfg := proto.Config{Lifetime: 2 * time.Second, Hostname: "b", Pid: 1, Now: e.now}
			b, err := algorithm.Flufl.New(e.fs, path, cfg)
			if err != nil {
				t.Fatal(err)
			}
			turn, delayed, moves := false, false, 0
			byName := 0 // removals of the break lock by its name
			e.inject = func(op fsopstest.Op) *fsopstest.Fault {
				switch {
				case op.Name == "CreateExcl" && op.Path == path+"|break":
					turn = true
				case op.Name == "ReadFile" && op.Path == path && turn && !delayed:
					delayed = true // the re-read before breaking
					e.clk.Advance(tc.delay)
				case op.Name == "Rename" && op.Path == path:
					moves++
				case op.Name == "Remove" && op.Path == path+"|break":
					byName++
				}
				return nil
			}
			att, err := b.Acquire(e.now())
			if err != nil || att.Acquired {
				t.Fatalf("Acquire = %+v, %v; want not acquired", att, err)
			}
			if moves != tc.moves || att.Broke != (tc.moves == 1) {
				t.Fatalf("breaker moved the lock name %d times (Broke=%v); want %d", moves, att.Broke, tc.moves)
			}
			if wantByName := tc.moves; byName != wantByName {
				t.Errorf("break lock removed by name %d times; want %d (past the turn: only moved aside and compared)", byName, wantByName)
			}
			if names := e.files(); slices.Contains(names, "a.lock|break") {
				t.Errorf("break lock left behind: %q", names)
			}
			if tc.moves == 0 {
				e.mustBreak(b) // the next attempt, with a turn of its own
			}
		})
	}
}

// A breaker that died holding the break lock does not block breaking for
// ever: its break lock is removed once unchanged for half a lifetime plus
// the margin.
func TestStaleBreakLock(t *testing.T) {
	e := newEnv(t)
	e.crashed(time.Second)
	e.mem.WriteFile(path+"|break", []byte(path+"|dead|2|nfslease1.l2000.r00"), 0o644)
	e.clk.Advance(time.Minute)
	w := e.lock("w", 2*time.Second)
	var got proto.Attempt
	broke := false
	for range 100 {
		var err error
		if got, err = w.Acquire(e.now()); err != nil {
			t.Fatal(err)
		}
		broke = broke || got.Broke
		if got.Acquired {
			break
		}
		e.clk.Advance(100 * time.Millisecond)
	}
	if !got.Acquired || !broke {
		t.Fatalf("never broke through a dead breaker's break lock: %+v", got)
	}
	w.Release(inTime)
	if names := e.files(); len(names) != 0 {
		t.Errorf("left behind: %q", names)
	}
}

func TestNeverRemovesWhatIsNotOurs(t *testing.T) {
	tests := []struct {
		name    string
		content string
	}{
		{"claim path elsewhere", "/etc/passwd|h|1|2"},
		{"claim path relative up", "../x|h|1|2"},
		{"garbage", "hello\nworld"},
		{"binary", "\x00\x01\x02"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.mem.MkdirAll("/etc", 0o755)
			e.mem.WriteFile("/etc/passwd|h|1|2", []byte("victim"), 0o644)
			e.mem.WriteFile(path, []byte(tt.content), 0o644)
			e.clk.Advance(time.Hour)
			w := e.lock("w", 15*time.Second)
			_, err := w.Acquire(e.now())
			if !errors.Is(err, algorithm.ErrNotLock) {
				t.Fatalf("Acquire = %v, want ErrNotLock", err)
			}
			w.Close(e.now())
			if !e.mem.Exists("/etc/passwd|h|1|2") || !e.mem.Exists(path) {
				t.Errorf("something was removed: %q", e.files())
			}
			if names := e.files(); len(names) != 1 {
				t.Errorf("files = %q, want only the original", names)
			}
		})
	}
}

// A stale lock whose content names a claim file in our directory that holds
// something else: the break removes the lock but not that file.
func TestBreakKeepsForeignClaimFile(t *testing.T) {
	e := newEnv(t)
	claim := path + "|h|1|2"
	e.mem.WriteFile(claim, []byte("not the claim"), 0o644)
	e.mem.WriteFile(path, []byte(claim), 0o644)
	e.clk.Advance(time.Hour)
	w := e.lock("w", 15*time.Second)
	e.mustBreak(w)
	if !e.mem.Exists(claim) {
		t.Errorf("removed %s, which did not hold the claim", claim)
	}
}

// A holder judged stale was only slow: it touches its claim, to link it
// again, after the breaker removed its lock. The breaker, which then
// removes the stale holder's claim, must leave a claim touched since it
// judged it (sshfs seed 300 of the simulator found this).
func TestBreakKeepsRetouchedClaim(t *testing.T) {
	e := newEnv(t)
	slow := e.lock("slow", time.Second)
	e.mustAcquire(slow)
	var claim string
	for _, n := range e.files() {
		if strings.Contains(n, "|slow|") {
			claim = dir + "/" + n
		}
	}
	e.clk.Advance(time.Hour)
	touched := false
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name == "Remove" && strings.HasSuffix(op.Path, ".break") && !touched {
			// The lock is gone: the slow holder wakes and touches its
			// claim before linking it again.
			touched = true
			later := e.clk.Now().Add(time.Second)
			if err := e.mem.Chtimes(claim, later, later); err != nil {
				t.Fatal(err)
			}
		}
		return nil
	}
	e.mustBreak(e.lock("w", 15*time.Second))
	if !touched {
		t.Fatal("the break removed no tomb: the test did not run its case")
	}
	if !e.mem.Exists(claim) {
		t.Errorf("the break removed %s, touched after it was judged stale", claim)
	}
}

func TestCloseAfterUnconfirmedLink(t *testing.T) {
	e := newEnv(t)
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		switch {
		case op.Name == "Link":
			return &fsopstest.Fault{Err: syscall.EIO, After: true}
		case op.Name == "ReadFile" && op.Path == path:
			return &fsopstest.Fault{Err: syscall.EIO}
		}
		return nil
	}
	lk := e.lock("a", 15*time.Second)
	if _, err := lk.Acquire(e.now()); !proto.Transient(err) {
		t.Fatalf("Acquire = %v, want a transient error", err)
	}
	e.inject = nil
	if err := lk.Close(e.now()); err != nil {
		t.Fatal(err)
	}
	if names := e.files(); len(names) != 0 {
		t.Errorf("left behind: %q", names)
	}
}

func TestNewRejectsBadPaths(t *testing.T) {
	mem := fsopstest.NewMem(clock.NewFake(epoch))
	for _, p := range []string{"", "/locks/", "/locks/a|b", "/locks/" + strings.Repeat("n", 220), "a\x00b"} {
		_, err := algorithm.Flufl.New(mem, p, proto.Config{Lifetime: time.Second})
		if err == nil {
			t.Errorf("New(%q) = nil error", p)
		} else if !errors.Is(err, algorithm.ErrBadPath) && !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Errorf("New(%q) = %v, want ErrBadPath or ENAMETOOLONG", p, err)
		}
	}
}

func TestTransient(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&fs.PathError{Op: "link", Path: "x", Err: syscall.EIO}, true},
		{&fs.PathError{Op: "link", Path: "x", Err: syscall.ESTALE}, true},
		{&fs.PathError{Op: "link", Path: "x", Err: syscall.EACCES}, false},
		{&fs.PathError{Op: "link", Path: "x", Err: syscall.ENOSPC}, false},
		{algorithm.ErrNotLock, false},
		{nil, false},
	} {
		if got := proto.Transient(tt.err); got != tt.want {
			t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// A step whose read hangs (a partition on a hard mount) must not count the
// time it hung as time spent watching the lock: found by the simulator
// (profile partition, seed 0).
func TestHungReadDoesNotCountAsWatching(t *testing.T) {
	e := newEnv(t)
	h := e.lock("h", 3*time.Second, e.mem)
	w := e.lock("w", 3*time.Second)
	e.inject = once("ReadFile", path, func(fsopstest.Op) *fsopstest.Fault {
		// The waiter's read hangs for 4s; meanwhile h acquires.
		e.clk.Advance(4 * time.Second)
		e.mustAcquire(h)
		return nil
	})
	start := e.now()
	// Make the waiter's first link fail on an existing lock it will read.
	other := e.lock("x", 3*time.Second, e.mem)
	e.mustAcquire(other)
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name == "ReadFile" && op.Path == path {
			e.inject = nil
			other.Release(inTime)
			e.clk.Advance(4 * time.Second)
			e.mustAcquire(h)
		}
		return nil
	}
	if att, err := w.Acquire(start); err != nil || att.Acquired {
		t.Fatalf("first attempt: %+v, %v", att, err)
	}
	// The next attempt comes 10ms later; h refreshed nothing yet, but it
	// acquired only 10ms ago: its lock must not be stale.
	e.clk.Advance(10 * time.Millisecond)
	if att, err := w.Acquire(e.now()); err != nil || att.Acquired || att.Broke {
		t.Fatalf("second attempt broke a fresh lock: %+v, %v", att, err)
	}
	if err := h.Refresh(e.now()); err != nil {
		t.Fatalf("holder lost its fresh lock: %v", err)
	}
}

func TestClaimSweptRightAfterCreate(t *testing.T) {
	// A sweep (another process on this host, while we were paused) may
	// remove our claim between its create and the touch before the link:
	// the attempt must not fail, and the next one makes a new claim.
	e := newEnv(t)
	e.inject = once("Chtimes", "", func(op fsopstest.Op) *fsopstest.Fault {
		if err := e.mem.Remove(op.Path); err != nil {
			t.Fatal(err)
		}
		return nil
	})
	lk := e.lock("a", 15*time.Second)
	att, err := lk.Acquire(e.now())
	if err != nil || att.Acquired {
		t.Fatalf("Acquire = %+v, %v; want no error, not acquired", att, err)
	}
	e.mustAcquire(lk)
	if err := lk.Release(inTime); err != nil {
		t.Fatal(err)
	}
	if names := e.files(); len(names) != 0 {
		t.Errorf("files left: %q", names)
	}
}

// linkThen is an fsops.FS whose first link from a tomb onto name runs
// then once the link has been applied, and returns err instead of the
// link's result.
type linkThen struct {
	fsops.FS
	name string
	then func()
	err  error
}

func (f *linkThen) Link(oldname, newname string) error {
	err := f.FS.Link(oldname, newname)
	if newname != f.name || !strings.HasSuffix(oldname, ".break") || f.then == nil {
		return err
	}
	then := f.then
	f.then = nil
	then()
	return f.err
}

// A breaker moves a new holder's lock aside, sees it is not the one it
// judged and puts it back; the holder releases right after the link that
// put it back. The breaker must not link it once more when it finds the
// name gone: that brought back a lock no one held (the simulator's
// congested seed 14 found this for a claim put back). The link's reply
// either arrives or is lost and answered EEXIST by a retransmission.
func TestBreakPutBackThenReleased(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"reply", nil},
		{"replayed", &fs.PathError{Op: "link", Path: path, Err: syscall.EEXIST}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var newcomer proto.Lock
			e.newcomerAtBreak(&newcomer)
			released := false
			fsys := &linkThen{FS: e.fs, name: path, err: tc.err, then: func() {
				if err := newcomer.Release(inTime); err != nil {
					t.Errorf("newcomer release: %v", err)
				}
				released = true
			}}
			b := e.lock("breaker", 15*time.Second, fsys)
			if att, err := b.Acquire(e.now()); err != nil || att.Acquired {
				t.Fatalf("breaker: %+v, %v; want not acquired", att, err)
			}
			if !released {
				t.Fatal("the breaker put nothing back: the test did not run its case")
			}
			b.Close(e.now())
			if names := e.files(); len(names) != 1 || !strings.HasPrefix(names[0], "a.lock|dead|1|") {
				t.Errorf("files = %q, want only the dead holder's orphaned claim", names)
			}
		})
	}
}
