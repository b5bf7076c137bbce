package lease_test

// The messages a first user meets, each pinned by its content: one
// "lease: <path>: " prefix, the path, the cause, and what errors.Is needs.

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// wantMessage fails unless err's text starts with "lease: "+path+": ",
// holds each of want and none of unwanted, and has the prefix "lease: "
// once.
func wantMessage(t *testing.T, err error, path string, want, unwanted []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want an error about %s", path)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "lease: "+path+": ") {
		t.Errorf("%q does not start with %q", msg, "lease: "+path+": ")
	}
	if n := strings.Count(msg, "lease: ") + strings.Count(msg, "algorithm: "); n != 1 {
		t.Errorf("%q has %d prefixes, want one", msg, n)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("%q does not say %q", msg, w)
		}
	}
	for _, u := range unwanted {
		if strings.Contains(msg, u) {
			t.Errorf("%q says %q", msg, u)
		}
	}
}

func forProtocols(t *testing.T, f func(t *testing.T, p algorithm.Protocol)) {
	for _, p := range []algorithm.Protocol{algorithm.Strict, algorithm.Flufl} {
		t.Run(p.Name(), func(t *testing.T) { f(t, p) })
	}
}

// TestMessageGaveUp: an Acquire that times out or is cancelled names the
// holder it waited for and how long it waited, and wraps ctx's error.
func TestMessageGaveUp(t *testing.T) {
	forProtocols(t, func(t *testing.T, p algorithm.Protocol) {
		path := filepath.Join(t.TempDir(), "job.lock")
		_, release, err := lease.Acquire(t.Context(), path, lease.WithProtocol(p), lease.WithIdentity("build-7", 4242))
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		_, _, err = lease.Acquire(ctx, path, lease.WithProtocol(p))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
		}
		wantMessage(t, err, path, []string{": gave up after ", "s: held by pid 4242 on build-7 (" + p.Name() + ", expires in 1", ": context deadline exceeded"}, nil)
		wantWaited(t, err, 300*time.Millisecond)
		t.Logf("timed out: %v", err)

		ctx, cancel = context.WithCancel(t.Context())
		time.AfterFunc(200*time.Millisecond, cancel)
		_, _, err = lease.Acquire(ctx, path, lease.WithProtocol(p))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want it to wrap context.Canceled", err)
		}
		wantMessage(t, err, path, []string{": gave up after ", "s: held by pid 4242 on build-7", ": context canceled"}, nil)
		wantWaited(t, err, 200*time.Millisecond)

		// TryAcquire's ErrHeld reads the same way.
		_, _, err = lease.TryAcquire(t.Context(), path, lease.WithProtocol(p))
		if !errors.Is(err, lease.ErrHeld) {
			t.Errorf("err = %v, want ErrHeld", err)
		}
		wantMessage(t, err, path, []string{": held by pid 4242 on build-7 (" + p.Name() + ", expires in 1"}, nil)
	})
}

// TestMessageMissingDirectory: a missing directory says so, wraps
// fs.ErrNotExist, and names none of our own files or steps.
func TestMessageMissingDirectory(t *testing.T) {
	forProtocols(t, func(t *testing.T, p algorithm.Protocol) {
		dir := filepath.Join(t.TempDir(), "nodir")
		path := filepath.Join(dir, "job.lock")
		for name, acquire := range map[string]func(context.Context, string, ...lease.Option) (context.Context, func() error, error){
			"Acquire": lease.Acquire, "TryAcquire": lease.TryAcquire,
		} {
			_, _, err := acquire(t.Context(), path, lease.WithProtocol(p))
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: err = %v, want fs.ErrNotExist", name, err)
			}
			wantMessage(t, err, path, []string{"the directory " + dir + " does not exist"},
				[]string{"self-test", "selftest", ".stage.", "nfslease1", "|", "claim"})
		}
		// Inspect: not "unlocked".
		_, err := lease.Inspect(path)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Inspect: err = %v, want fs.ErrNotExist", err)
		}
		wantMessage(t, err, path, []string{"the directory " + dir + " does not exist"}, nil)
	})
}

// TestMessageNotALock: a symbolic link is called one by both protocols,
// and a lock of the other protocol is named as such.
func TestMessageNotALock(t *testing.T) {
	forProtocols(t, func(t *testing.T, p algorithm.Protocol) {
		dir := t.TempDir()
		sym := filepath.Join(dir, "sym.lock")
		if err := os.Symlink("/etc/passwd", sym); err != nil {
			t.Fatal(err)
		}
		_, _, err := lease.Acquire(t.Context(), sym, lease.WithProtocol(p))
		if !errors.Is(err, algorithm.ErrNotLock) {
			t.Errorf("err = %v, want ErrNotLock", err)
		}
		wantMessage(t, err, sym, []string{"holds a symbolic link, not a " + p.Name() + " lock"}, []string{".stage.", "too many levels"})

		other, otherName := algorithm.Protocol(algorithm.Flufl), "flufl lock"
		if p == algorithm.Flufl {
			other, otherName = algorithm.Strict, "strict lock"
		}
		path := filepath.Join(dir, "job.lock")
		_, release, err := lease.Acquire(t.Context(), path, lease.WithProtocol(other))
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		_, _, err = lease.Acquire(t.Context(), path, lease.WithProtocol(p))
		if !errors.Is(err, algorithm.ErrNotLock) {
			t.Errorf("err = %v, want ErrNotLock", err)
		}
		wantMessage(t, err, path, []string{"holds a " + otherName, "not a " + p.Name() + " lock", "use algorithm." + map[string]string{"strict": "Strict", "flufl": "Flufl"}[other.Name()]}, nil)
		t.Logf("%v", err)
	})
}

// TestMessageEmptyFlufl: an empty file at a Flufl lock path is reported
// after a bounded wait (proto.EmptyFileWait), not polled until ctx
// ends; it stays.
func TestMessageEmptyFlufl(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.lock")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	start := time.Now()
	_, _, err := lease.Acquire(ctx, path, lease.WithProtocol(algorithm.Flufl))
	if !errors.Is(err, algorithm.ErrNotLock) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrNotLock before ctx ends", err)
	}
	t.Logf("reported after %v (EmptyFileWait %v): %v", time.Since(start).Round(time.Millisecond), proto.EmptyFileWait, err)
	wantMessage(t, err, path, []string{"holds an empty file"}, nil)
	if fi, err := os.Lstat(path); err != nil || fi.Size() != 0 {
		t.Errorf("the empty file is gone or changed: %v %v", fi, err)
	}
	info, err := lease.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if s := info.String(); !strings.HasPrefix(s, path+": an empty file (") {
		t.Errorf("Info.String() = %q, want it to call it an empty file", s)
	}
}

// TestMessageLeaderCallbacksNotForAcquire: WithLeaderCallbacks is Lead's.
func TestMessageLeaderCallbacksNotForAcquire(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.lock")
	cb := lease.WithLeaderCallbacks(lease.LeaderCallbacks{OnStartedLeading: func() {}})
	for name, acquire := range map[string]func(context.Context, string, ...lease.Option) (context.Context, func() error, error){
		"Acquire": lease.Acquire, "TryAcquire": lease.TryAcquire,
	} {
		_, _, err := acquire(t.Context(), path, cb)
		if !errors.Is(err, lease.ErrInvalidOption) {
			t.Errorf("%s: err = %v, want ErrInvalidOption", name, err)
		}
		wantMessage(t, err, path, []string{"invalid option: WithLeaderCallbacks applies to Lead only"}, nil)
	}
	if names, _ := os.ReadDir(filepath.Dir(path)); len(names) != 0 {
		t.Errorf("left behind: %v", names)
	}
}

// TestInfoString: Info.String() for our own lock, another live holder and
// a dead local holder (with a fake process table; the in-memory
// filesystem tells no kind, so the local-takeover rule is forced on).
func TestInfoString(t *testing.T) {
	forProtocols(t, func(t *testing.T, p algorithm.Protocol) {
		synctest.Test(t, func(t *testing.T) {
			w := newWorld(t)
			w.prot = p
			m := fsopstest.NewMachine("build-7", 4026531836)
			holder := m.Start(4242)
			path := dir + "/job.lock"
			_, release, err := lease.Acquire(t.Context(), path, w.opts(lease.WithIdentity("build-7", 4242), lease.WithProcs(m.Procs(holder, false)), lease.WithLocalTakeover(true))...)
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			w.advance(2 * time.Second)
			look := func(pid int) string {
				t.Helper()
				info, err := lease.Inspect(path, w.opts(lease.WithIdentity("build-7", pid), lease.WithProcs(m.Procs(fsops.ProcID{BootID: m.BootID(), PidNS: 4026531836, Pid: pid, Start: 1}, false)), lease.WithLocalTakeover(true))...)
				if err != nil {
					t.Fatal(err)
				}
				return info.String()
			}
			if s, want := look(4242), path+": held by this process (pid 4242 on build-7; "+p.Name()+", lifetime 15s), expires in"; !strings.HasPrefix(s, want) {
				t.Errorf("ours: %q, want %q...", s, want)
			}
			if s, want := look(7), path+": held by pid 4242 on build-7 ("+p.Name()+", lifetime 15s), expires in"; !strings.HasPrefix(s, want) {
				t.Errorf("live: %q, want %q...", s, want)
			}
			m.Kill(4242)
			if s, want := look(7), path+": held by pid 4242 on build-7, dead since "; !strings.HasPrefix(s, want) || !strings.HasSuffix(s, "at the latest (its process is gone; "+p.Name()+", lifetime 15s): stale") {
				t.Errorf("dead: %q, want %q...", s, want)
			}
			t.Log(look(7))
		})
	})
}

// TestWaitingReported: a waiting Acquire logs at Info, after 5 s and then
// every 30 s, naming the holder and the time waited, with an EventWaiting
// for each.
func TestWaitingReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		path := dir + "/job.lock"
		_, release, err := lease.Acquire(t.Context(), path, w.opts(lease.WithIdentity("build-7", 4242))...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		var logs recordLog
		var events eventLog
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, _, err := lease.Acquire(ctx, path, w.opts(lease.WithLogger(slog.New(&logs)), lease.WithEventHook(events.hook))...)
			done <- err
		}()
		w.advance(70 * time.Second)
		cancel()
		synctest.Wait()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		var waited []time.Duration
		for _, e := range events.take() {
			if e.Kind != lease.EventWaiting {
				continue
			}
			waited = append(waited, e.Duration)
			if e.Holder == nil || e.Holder.Pid != 4242 || e.Holder.Host != "build-7" {
				t.Errorf("EventWaiting holder = %+v, want pid 4242 on build-7", e.Holder)
			}
		}
		if len(waited) != 3 || waited[0] < 5*time.Second || waited[0] > 6*time.Second || waited[1]-waited[0] < 30*time.Second || waited[2]-waited[1] < 30*time.Second {
			t.Errorf("EventWaiting after %v, want after 5 s, then every 30 s", waited)
		}
		msgs := logs.messages(slog.LevelInfo)
		if len(msgs) != 3 {
			t.Fatalf("Info log lines = %q, want 3", msgs)
		}
		for _, m := range msgs {
			if !strings.Contains(m, "waiting for the lock") || !strings.Contains(m, "holder=\"held by pid 4242 on build-7 (flufl, expires") || !strings.Contains(m, "waited=") {
				t.Errorf("log line %q does not say who holds it and for how long it waited", m)
			}
		}
		t.Log(msgs[0])
	})
}

// recordLog is a slog.Handler that keeps the records it is given.
type recordLog struct {
	mu   sync.Mutex
	recs []string
	lvls []slog.Level
}

func (l *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordLog) Handle(_ context.Context, r slog.Record) error {
	s := r.Message
	r.Attrs(func(a slog.Attr) bool {
		s += " " + a.Key + "=" + quoteIfSpace(a.Value.String())
		return true
	})
	l.mu.Lock()
	l.recs, l.lvls = append(l.recs, s), append(l.lvls, r.Level)
	l.mu.Unlock()
	return nil
}
func (l *recordLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *recordLog) WithGroup(string) slog.Handler      { return l }

// messages returns the records at level.
func (l *recordLog) messages(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, r := range l.recs {
		if l.lvls[i] == level {
			out = append(out, r)
		}
	}
	return out
}

func quoteIfSpace(s string) string {
	if strings.Contains(s, " ") {
		return `"` + s + `"`
	}
	return s
}

// TestExpiryOf: the renew deadline of a held lease, moved by refreshes.
func TestExpiryOf(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		start := w.clk.Now()
		held, release, err := lease.Acquire(t.Context(), dir+"/job.lock", w.opts()...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		exp, ok := lease.ExpiryOf(held)
		if !ok || exp.Sub(start) != 10*time.Second {
			t.Fatalf("ExpiryOf = %v, %v; want start + 10 s (the renew deadline)", exp.Sub(start), ok)
		}
		w.advance(3*time.Second + 100*time.Millisecond) // a refresh, at 3 s
		// The deadline counts from the start of the refresh, at 3 s
		// (within the 50 ms steps the fake clock takes).
		if exp2, _ := lease.ExpiryOf(held); exp2.Sub(start) < 13*time.Second || exp2.Sub(start) > 13*time.Second+100*time.Millisecond {
			t.Errorf("after a refresh at 3 s: ExpiryOf = start + %v, want start + 13 s", exp2.Sub(start))
		}
		child, cancel := context.WithCancel(held)
		defer cancel()
		if _, ok := lease.ExpiryOf(child); !ok {
			t.Error("ExpiryOf of a context derived from held: no lease")
		}
		if _, ok := lease.ExpiryOf(t.Context()); ok {
			t.Error("ExpiryOf of a context of no lease reports one")
		}
	})
}

// TestLeadPanicReleases: a panic of fn (or of OnStartedLeading) goes up
// through Lead, after the lease is released.
func TestLeadPanicReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "job.lock")
	for name, cb := range map[string]lease.LeaderCallbacks{
		"fn":               {},
		"OnStartedLeading": {OnStartedLeading: func() { panic("boom") }},
	} {
		t.Run(name, func(t *testing.T) {
			got := func() (r any) {
				defer func() { r = recover() }()
				_ = lease.Lead(t.Context(), path, func(context.Context) error { panic("boom") }, lease.WithLeaderCallbacks(cb))
				return nil
			}()
			if got != "boom" {
				t.Fatalf("recovered %v, want the panic", got)
			}
			_, release, err := lease.TryAcquire(t.Context(), path)
			if err != nil {
				t.Fatalf("after the panic the lock is still held: %v", err)
			}
			release()
		})
	}
}

// wantWaited fails unless err says it gave up after at least min (to
// the 0.1 s it is given in), the time its context allowed.
func wantWaited(t *testing.T, err error, min time.Duration) {
	t.Helper()
	m := regexp.MustCompile(`: gave up after ([0-9]+\.[0-9])s: `).FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("%q does not say how long it waited", err)
	}
	secs, _ := strconv.ParseFloat(m[1], 64)
	if waited := time.Duration(secs * float64(time.Second)); waited < min-50*time.Millisecond {
		t.Errorf("%q: waited %v, less than its context allowed (%v)", err, waited, min)
	}
}

// messageCase is one error a user can see: how to make it (on a real
// directory, dir, with protocol p), what its text must say after the
// "lease: <path>: " prefix, and what errors.Is must match.
type messageCase struct {
	name   string
	path   string // the lock path, relative to dir ("" for an empty path)
	make   func(t *testing.T, p algorithm.Protocol, path string) error
	want   []string
	is     []error
	strict []string // what it must also say with algorithm.Strict
	flufl  []string // with algorithm.Flufl
}

// checkMessage runs c with protocol p and checks its message.
func checkMessage(t *testing.T, c messageCase, p algorithm.Protocol, path string, err error) {
	t.Helper()
	want := append(slices.Clone(c.want), map[string][]string{"strict": c.strict, "flufl": c.flufl}[p.Name()]...)
	if c.path == "" {
		if err == nil || !strings.HasPrefix(err.Error(), "lease: ") || strings.Count(err.Error(), "lease: ")+strings.Count(err.Error(), "algorithm: ") != 1 {
			t.Errorf("err = %v, want one \"lease: \" prefix", err)
		}
		for _, w := range want {
			if err != nil && !strings.Contains(err.Error(), w) {
				t.Errorf("%q does not say %q", err, w)
			}
		}
	} else {
		wantMessage(t, err, path, want, []string{"algorithm: ", ": lease: "})
	}
	for _, target := range c.is {
		if !errors.Is(err, target) {
			t.Errorf("%v does not wrap %v", err, target)
		}
	}
	t.Logf("%s: %v", p.Name(), err)
}

// TestMessages: the errors of Acquire, TryAcquire, release, Lead, Inspect
// and Break, on a real directory, each with one prefix, the path and the
// cause, wrapping what callers match.
func TestMessages(t *testing.T) {
	acquireErr := func(acquire func(context.Context, string, ...lease.Option) (context.Context, func() error, error), ctx context.Context, opts ...lease.Option) func(*testing.T, algorithm.Protocol, string) error {
		return func(t *testing.T, p algorithm.Protocol, path string) error {
			_, release, err := acquire(ctx, path, append([]lease.Option{lease.WithProtocol(p)}, opts...)...)
			if err == nil {
				release()
			}
			return err
		}
	}
	done, cancel := context.WithCancel(t.Context())
	cancel()
	// removedUnder acquires path, waits after, removes the lock under the lease, and
	// returns what release says or, with cause, context.Cause(held) once
	// a refresh (every 200 ms) has found the loss.
	removedUnder := func(cause bool, after time.Duration) func(*testing.T, algorithm.Protocol, string) error {
		return func(t *testing.T, p algorithm.Protocol, path string) error {
			held, release, err := lease.Acquire(t.Context(), path, lease.WithProtocol(p), lease.WithLifetime(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer release()
			time.Sleep(after)
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			if cause {
				<-held.Done()
				return context.Cause(held)
			}
			return release()
		}
	}
	heldBy := func(t *testing.T, p algorithm.Protocol, path string) {
		_, release, err := lease.Acquire(t.Context(), path, lease.WithProtocol(p), lease.WithIdentity("build-7", 4242))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { release() })
	}
	lead := func(fnErr error) func(*testing.T, algorithm.Protocol, string) error {
		return func(t *testing.T, p algorithm.Protocol, path string) error {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			return lease.Lead(ctx, path, func(context.Context) error { cancel(); return fnErr }, lease.WithProtocol(p))
		}
	}
	symlink := func(path string) {
		if err := os.Symlink("/etc/passwd", path); err != nil {
			panic(err)
		}
	}
	for _, c := range []messageCase{
		{
			name: "Acquire/invalid option", path: "job.lock",
			make: acquireErr(lease.Acquire, t.Context(), lease.WithLifetime(time.Millisecond)),
			want: []string{": invalid option: lifetime 1ms is outside [1s, 24h0m0s]"}, is: []error{lease.ErrInvalidOption},
		},
		{
			name: "TryAcquire/ctx done", path: "job.lock",
			make: acquireErr(lease.TryAcquire, done),
			want: []string{": context canceled"}, is: []error{context.Canceled},
		},
		{
			name: "Acquire/empty path", path: "",
			make: acquireErr(lease.Acquire, t.Context()),
			want: []string{"lease: empty lock path: unusable lock path"}, is: []error{algorithm.ErrBadPath},
		},
		{
			name: "Acquire/under a file", path: "file/job.lock",
			make: acquireErr(lease.Acquire, t.Context()),
			want: []string{"/file is not a directory"}, is: []error{syscall.ENOTDIR},
		},
		{
			name: "TryAcquire/empty directory", path: "empty.lock",
			make:   acquireErr(lease.TryAcquire, t.Context()),
			is:     []error{algorithm.ErrNotLock},
			strict: []string{": is an empty directory that nfslease did not make (no sticky bit): not a lock file; nfslease does not remove it (remove it with rmdir if it should be a lock)"},
			flufl:  []string{": holds a directory, not a flufl lock: not a lock file"},
		},
		{
			// Released 20 ms after the acquisition, over a hundredth of
			// the lifetime (shell.Params.FreshFor): the last refresh
			// finds the loss.
			name: "release/lost", path: "job.lock",
			make: removedUnder(false, 20*time.Millisecond),
			want: []string{": lease lost: "}, is: []error{lease.ErrLost, algorithm.ErrNotHeld},
			strict: []string{": lease lost: refreshing the lock: our owner record was removed: lock is no longer ours"},
			flufl:  []string{": lease lost: the lock was removed: lock is no longer ours"},
		},
		{
			// Released at once: no last refresh; the release finds it.
			name: "release/lost at once", path: "job.lock",
			make: removedUnder(false, 0),
			want: []string{": lease lost: "}, is: []error{lease.ErrLost, algorithm.ErrNotHeld},
			strict: []string{": lease lost: the lock was broken before we released it: lock is no longer ours"},
			flufl:  []string{": lease lost: the lock was no longer ours when we released it: lock is no longer ours"},
		},
		{
			name: "Cause(held)/lost", path: "job.lock",
			make: removedUnder(true, 0),
			want: []string{": lease lost: "}, is: []error{lease.ErrLost, algorithm.ErrNotHeld},
			strict: []string{": lease lost: refreshing the lock: our owner record was removed: lock is no longer ours"},
			flufl:  []string{": lease lost: the lock was removed: lock is no longer ours"},
		},
		{
			name: "Lead/invalid option", path: "job.lock",
			make: func(t *testing.T, p algorithm.Protocol, path string) error {
				return lease.Lead(t.Context(), path, func(context.Context) error { return nil }, lease.WithLifetime(time.Millisecond))
			},
			want: []string{": invalid option: lifetime 1ms is outside"}, is: []error{lease.ErrInvalidOption},
		},
		{
			name: "Lead/missing directory", path: "nodir/job.lock",
			make: func(t *testing.T, p algorithm.Protocol, path string) error {
				return lease.Lead(t.Context(), path, func(context.Context) error { return nil }, lease.WithProtocol(p))
			},
			want: []string{": the directory ", "/nodir does not exist (no such file or directory)"}, is: []error{fs.ErrNotExist},
		},
		{
			name: "Lead/ctx done", path: "job.lock",
			make: lead(nil),
			want: []string{": stopped leading: context canceled"}, is: []error{context.Canceled},
		},
		{
			name: "Lead/ctx done, fn failed", path: "job.lock",
			make: lead(os.ErrClosed),
			want: []string{": stopped leading: context canceled (fn returned: file already closed)"}, is: []error{context.Canceled, os.ErrClosed},
		},
		{
			name: "Inspect/symlink", path: "sym.lock",
			make: func(t *testing.T, p algorithm.Protocol, path string) error {
				symlink(path)
				_, err := lease.Inspect(path)
				return err
			},
			want: []string{": holds a symbolic link, not a strict or flufl lock: not a lock file"}, is: []error{algorithm.ErrNotLock},
		},
		{
			name: "Inspect/under a file", path: "file/job.lock",
			make: func(t *testing.T, p algorithm.Protocol, path string) error { _, err := lease.Inspect(path); return err },
			want: []string{"/file is not a directory"}, is: []error{syscall.ENOTDIR},
		},
		{
			name: "Inspect/empty path", path: "",
			make: func(t *testing.T, p algorithm.Protocol, path string) error { _, err := lease.Inspect(path); return err },
			want: []string{"lease: empty lock path: unusable lock path"}, is: []error{algorithm.ErrBadPath},
		},
		{
			name: "Break/invalid option", path: "job.lock",
			make: func(t *testing.T, p algorithm.Protocol, path string) error {
				_, err := lease.Break(t.Context(), path, false, lease.WithLifetime(time.Millisecond))
				return err
			},
			want: []string{": invalid option: lifetime 1ms is outside"}, is: []error{lease.ErrInvalidOption},
		},
		{
			name: "Break/symlink", path: "sym.lock",
			make: func(t *testing.T, p algorithm.Protocol, path string) error {
				symlink(path)
				_, err := lease.Break(t.Context(), path, true)
				return err
			},
			want: []string{": holds a symbolic link, not a strict or flufl lock: not a lock file"}, is: []error{algorithm.ErrNotLock},
		},
		{
			name: "Break/missing directory", path: "nodir/job.lock",
			make: func(t *testing.T, p algorithm.Protocol, path string) error {
				_, err := lease.Break(t.Context(), path, false)
				return err
			},
			want: []string{": the directory ", "/nodir does not exist (no such file or directory)"}, is: []error{fs.ErrNotExist},
		},
		{
			name: "Break/gave up watching", path: "job.lock",
			make: func(t *testing.T, p algorithm.Protocol, path string) error {
				heldBy(t, p, path)
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				defer cancel()
				_, err := lease.Break(ctx, path, false)
				return err
			},
			want: []string{": gave up after ", "s watching for the holder to go stale: held by pid 4242 on build-7 (", ", expires in 1", "s): context deadline exceeded; nothing changed"},
			is:   []error{context.DeadlineExceeded},
		},
	} {
		t.Run(strings.ReplaceAll(c.name, "/", ":"), func(t *testing.T) {
			forProtocols(t, func(t *testing.T, p algorithm.Protocol) {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Mkdir(filepath.Join(dir, "empty.lock"), 0o755); err != nil {
					t.Fatal(err)
				}
				path := ""
				if c.path != "" {
					path = filepath.Join(dir, c.path)
				}
				checkMessage(t, c, p, path, c.make(t, p, path))
			})
		})
	}
}

// TestMessagesFaults: the errors of persistent filesystem faults (EIO on
// the in-memory filesystem): a lease lost at its renew deadline, a failed
// release, an Acquire that gave up, each naming the path, what failed,
// and the fault.
func TestMessagesFaults(t *testing.T) {
	eio := func(names ...string) func(fsopstest.Op) *fsopstest.Fault {
		return func(op fsopstest.Op) *fsopstest.Fault {
			if len(names) == 0 || slices.Contains(names, op.Name) {
				return &fsopstest.Fault{Err: syscall.EIO}
			}
			return nil
		}
	}
	for _, c := range []struct {
		name   string
		make   func(t *testing.T, w *world, path string) error
		want   []string
		strict []string
		flufl  []string
		is     []error
		not    []error
	}{
		{
			name: "deadline",
			make: func(t *testing.T, w *world, path string) error {
				held, release, err := lease.Acquire(t.Context(), path, w.opts()...)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
				w.inject(eio())
				w.advance(11 * time.Second) // past the renew deadline (10 s)
				return context.Cause(held)
			},
			want:   []string{": lease lost: no successful refresh within the renew deadline of 10s; last refresh error: refreshing the lock: chtimes ", ": input/output error"},
			strict: []string{"/owner: input/output error"},
			is:     []error{lease.ErrLost, syscall.EIO},
		},
		{
			name: "release",
			make: func(t *testing.T, w *world, path string) error {
				_, release, err := lease.Acquire(t.Context(), path, w.opts()...)
				if err != nil {
					t.Fatal(err)
				}
				w.inject(eio("Remove", "Dir.Remove", "Rename", "Rmdir"))
				return release()
			},
			want:   []string{": releasing the lock: ", ": input/output error"},
			strict: []string{": releasing the lock: remove /locks/.job.lock.stage."},
			flufl:  []string{": releasing the lock: rename /locks/job.lock /locks/job.lock|test|1|"},
			is:     []error{syscall.EIO},
			not:    []error{lease.ErrLost},
		},
		{
			name: "gave up",
			make: func(t *testing.T, w *world, path string) error {
				// One cycle first: Strict's self-test passes once.
				_, release, err := lease.Acquire(t.Context(), path, w.opts()...)
				if err != nil {
					t.Fatal(err)
				}
				release()
				w.inject(eio())
				ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
				defer cancel()
				done := make(chan error, 1)
				go func() { _, _, err := lease.Acquire(ctx, path, w.opts()...); done <- err }()
				w.advance(3 * time.Second)
				return <-done
			},
			want:   []string{": gave up after ", "s: context deadline exceeded (last attempt: ", ": input/output error)"},
			strict: []string{"(last attempt: creating staging directory for the lock: mkdir /locks/.job.lock.stage."},
			flufl:  []string{"(last attempt: creating claim for the lock: createexcl /locks/job.lock|test|1|"},
			is:     []error{context.DeadlineExceeded, syscall.EIO},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			forProtocols(t, func(t *testing.T, p algorithm.Protocol) {
				synctest.Test(t, func(t *testing.T) {
					w := newWorld(t)
					w.prot = p
					path := dir + "/job.lock"
					err := c.make(t, w, path)
					want := append(slices.Clone(c.want), map[string][]string{"strict": c.strict, "flufl": c.flufl}[p.Name()]...)
					wantMessage(t, err, path, want, []string{"algorithm: ", ": lease: "})
					for _, target := range c.is {
						if !errors.Is(err, target) {
							t.Errorf("%v does not wrap %v", err, target)
						}
					}
					for _, target := range c.not {
						if errors.Is(err, target) {
							t.Errorf("%v wraps %v", err, target)
						}
					}
					t.Logf("%s: %v", p.Name(), err)
				})
			})
		})
	}
}
