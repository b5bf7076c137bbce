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
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
)

// strict makes a Strict lock through the faulty FS, or through fsys if
// given.
func (e *env) strict(host string, lifetime time.Duration, fsys ...fsops.FS) proto.Lock {
	e.t.Helper()
	var f fsops.FS = e.fs
	if len(fsys) > 0 {
		f = fsys[0]
	}
	lk, err := algorithm.Strict.New(f, path, proto.Config{Lifetime: lifetime, Hostname: host, Pid: 1, Hints: e.hints})
	if err != nil {
		e.t.Fatal(err)
	}
	return lk
}

// owner is the owner record at the lock path now.
func (e *env) owner() string {
	e.t.Helper()
	data, _, err := e.mem.ReadFile(path+"/owner", 4096)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(data)
}

// forRenames runs f once for each way Strict takes the lock name:
// renameat2's RENAME_NOREPLACE, which Mem has as Linux's local filesystems
// do, and rename(2) after a look, where the filesystem answers the flag
// unsupported (NFS, FUSE).
func forRenames(t *testing.T, f func(t *testing.T, opts ...fsopstest.MemOption)) {
	t.Run("noreplace", func(t *testing.T) { f(t) })
	t.Run("rename", func(t *testing.T) { f(t, fsopstest.WithoutRenameNoReplace()) })
}

func TestStrictCycle(t *testing.T) {
	forRenames(t, func(t *testing.T, opts ...fsopstest.MemOption) {
		e := newEnv(t, opts...)
		a := e.strict("a", 15*time.Second)
		e.mustAcquire(a)
		if names := e.files(); !slices.Equal(names, []string{"a.lock"}) {
			t.Fatalf("files while held = %q, want the lock directory only", names)
		}
		if rec := e.owner(); !strings.HasPrefix(rec, "nfslease-strict 1\n") || !strings.Contains(rec, "\nhost a\n") {
			t.Errorf("owner record = %q", rec)
		}
		b := e.strict("b", 15*time.Second)
		att, err := b.Acquire(e.now())
		if err != nil || att.Acquired || att.Holder == nil || att.Holder.Host != "a" || att.Holder.Protocol != "strict" ||
			att.Holder.Lifetime != 15*time.Second || att.StaleIn != 15*time.Second+proto.StaleMargin {
			t.Fatalf("contender: %+v (holder %+v), %v", att, att.Holder, err)
		}
		if err := a.Refresh(e.now()); err != nil {
			t.Fatal(err)
		}
		if err := a.Release(inTime); err != nil {
			t.Fatal(err)
		}
		if err := a.Refresh(e.now()); !errors.Is(err, algorithm.ErrNotHeld) {
			t.Errorf("Refresh after Release = %v, want ErrNotHeld", err)
		}
		e.mustAcquire(b)
		if err := b.Release(inTime); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(e.now()); err != nil {
			t.Fatal(err)
		}
		if names := e.files(); len(names) != 0 {
			t.Errorf("files after release = %q, want none", names)
		}
	})
}

func TestStrictRenameOutcomes(t *testing.T) {
	tests := []struct {
		name     string
		fault    *fsopstest.Fault
		acquired bool
		wantErr  bool
	}{
		{"applied, reply lost as ENOENT", &fsopstest.Fault{Err: syscall.ENOENT, After: true}, true, false},
		{"applied, reply lost as EIO", &fsopstest.Fault{Err: syscall.EIO, After: true}, true, false},
		{"lost before the server", &fsopstest.Fault{Err: syscall.EIO}, false, true},
		{"ENOENT before the server", &fsopstest.Fault{Err: syscall.ENOENT}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.inject = once("Rename", "", func(fsopstest.Op) *fsopstest.Fault { return tc.fault })
			lk := e.strict("a", 15*time.Second)
			att, err := lk.Acquire(e.now())
			if att.Acquired != tc.acquired || (err != nil) != tc.wantErr {
				t.Fatalf("Acquire = %+v, %v; want acquired=%v, error=%v", att, err, tc.acquired, tc.wantErr)
			}
			if !att.Acquired {
				e.mustAcquire(lk)
			}
			if err := lk.Release(inTime); err != nil {
				t.Fatal(err)
			}
			lk.Close(e.now())
			if names := e.files(); len(names) != 0 {
				t.Errorf("files left = %q", names)
			}
		})
	}
}

func TestStrictLateRenameGivesUpOwnGeneration(t *testing.T) {
	// Our stage became the lock by an earlier rename that we saw fail
	// (replayed later by the server): a deadline counted from now could
	// be too late, so the generation is given up, never used.
	e := newEnv(t)
	h := e.strict("h", 15*time.Second, e.mem)
	e.mustAcquire(h)
	w := e.strict("w", 15*time.Second)
	if att, err := w.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatalf("first attempt: %+v, %v", att, err)
	}
	e.clk.Advance(5 * time.Second)
	e.inject = once("Rename", "", func(fsopstest.Op) *fsopstest.Fault {
		if err := h.Release(inTime); err != nil {
			t.Fatal(err)
		}
		return &fsopstest.Fault{Err: syscall.ENOENT, After: true}
	})
	if att, err := w.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatalf("attempt after a late rename: %+v, %v; want not acquired", att, err)
	}
	if names := e.files(); len(names) != 0 {
		t.Fatalf("files = %q, want none: the late generation must be given up", names)
	}
	e.mustAcquire(w)
}

func TestStrictStaleBreak(t *testing.T) {
	e := newEnv(t)
	h := e.strict("h", 3*time.Second, e.mem)
	e.mustAcquire(h)
	w := e.strict("w", 3*time.Second)
	if att, _ := w.Acquire(e.now()); att.StaleIn != 3*time.Second+proto.StaleMargin {
		t.Fatalf("first look: %+v", att)
	}
	e.clk.Advance(100 * time.Millisecond)
	if att, _ := w.Acquire(e.now()); att.StaleIn != 3*time.Second+proto.StaleMargin {
		t.Fatalf("second look (the watch starts): %+v", att)
	}
	e.clk.Advance(3*time.Second + proto.StaleMargin - time.Millisecond)
	if att, _ := w.Acquire(e.now()); att.Acquired || att.Broke || att.StaleIn != time.Millisecond {
		t.Fatalf("1ms early: %+v", att)
	}
	e.clk.Advance(time.Millisecond)
	e.mustBreak(w)
	if err := h.Refresh(e.now()); !errors.Is(err, algorithm.ErrNotHeld) {
		t.Errorf("broken holder's Refresh = %v, want ErrNotHeld", err)
	}
	if err := h.Release(inTime); !errors.Is(err, algorithm.ErrNotHeld) {
		t.Errorf("broken holder's Release = %v, want ErrNotHeld", err)
	}
	if !strings.Contains(e.owner(), "\nhost w\n") {
		t.Errorf("owner = %q, want w's", e.owner())
	}
}

func TestStrictRefreshRestartsWatch(t *testing.T) {
	e := newEnv(t)
	h := e.strict("h", 3*time.Second, e.mem)
	e.mustAcquire(h)
	w := e.strict("w", 3*time.Second)
	for range 20 {
		if att, err := w.Acquire(e.now()); err != nil || att.Acquired || att.Broke {
			t.Fatalf("waiter took a live lock: %+v, %v", att, err)
		}
		e.clk.Advance(2 * time.Second)
		if err := h.Refresh(e.now()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStrictBreakNeverReachesANewerGeneration(t *testing.T) {
	// w judges h's generation stale. Before its removal lands, h's
	// generation is gone and n holds a new one: w's calls, through the
	// handle on h's generation and rmdir by path, must leave n's alone.
	e := newEnv(t)
	h := e.strict("h", 3*time.Second, e.mem)
	e.mustAcquire(h)
	w := e.strict("w", 3*time.Second)
	w.Acquire(e.now())
	e.clk.Advance(time.Millisecond)
	w.Acquire(e.now())
	e.clk.Advance(3*time.Second + proto.StaleMargin)
	n := e.strict("n", 3*time.Second, e.mem)
	e.inject = once("Dir.Remove", "", func(fsopstest.Op) *fsopstest.Fault {
		if err := h.Release(inTime); err != nil {
			t.Fatal(err)
		}
		e.mustAcquire(n)
		return nil
	})
	att, err := w.Acquire(e.now())
	if err != nil || att.Acquired {
		t.Fatalf("breaker: %+v, %v", att, err)
	}
	if err := n.Refresh(e.now()); err != nil {
		t.Fatalf("the newer holder lost its lock to a break of the older one: %v", err)
	}
	if !strings.Contains(e.owner(), "\nhost n\n") {
		t.Errorf("owner = %q, want n's", e.owner())
	}
}

func TestStrictNeverRemovesWhatIsNotOurs(t *testing.T) {
	forRenames(t, func(t *testing.T, opts ...fsopstest.MemOption) {
		tests := []struct {
			name  string
			setup func(e *env)
			check func(e *env)
		}{
			{"a flufl.lock file", func(e *env) {
				e.mem.WriteFile(path, []byte(path+"|h|1|x"), 0o644)
			}, func(e *env) {
				if data, _, _ := e.mem.ReadFile(path, 100); string(data) != path+"|h|1|x" {
					e.t.Errorf("lock file now holds %q", data)
				}
			}},
			{"a directory with a user's file", func(e *env) {
				e.mem.MkdirAll(path, 0o755)
				e.mem.WriteFile(path+"/data", []byte("mine"), 0o644)
			}, func(e *env) {
				if data, _, _ := e.mem.ReadFile(path+"/data", 100); string(data) != "mine" {
					e.t.Errorf("user file now holds %q", data)
				}
			}},
			{"a directory with a foreign owner file", func(e *env) {
				e.mem.MkdirAll(path, 0o755)
				e.mem.WriteFile(path+"/owner", []byte("not a record"), 0o644)
			}, func(e *env) {
				if data, _, _ := e.mem.ReadFile(path+"/owner", 100); string(data) != "not a record" {
					e.t.Errorf("owner now holds %q", data)
				}
			}},
			{"a symlink to a directory", func(e *env) {
				e.mem.MkdirAll("/elsewhere", 0o755)
				e.mem.WriteFile("/elsewhere/owner", []byte("x"), 0o644)
				e.mem.Symlink("/elsewhere", path)
			}, func(e *env) {
				if !e.mem.Exists("/elsewhere/owner") {
					e.t.Error("the symlink's target lost its file")
				}
			}},
			{"a FIFO", func(e *env) { e.mem.Mkfifo(path) }, func(e *env) {
				if !e.mem.Exists(path) {
					e.t.Error("the FIFO was removed")
				}
			}},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, opts...)
				tc.setup(e)
				lk := e.strict("a", time.Second)
				for range 5 {
					_, err := lk.Acquire(e.now())
					if !errors.Is(err, proto.ErrNotLock) {
						t.Fatalf("Acquire = %v, want ErrNotLock", err)
					}
					if !strings.Contains(err.Error(), path) {
						t.Errorf("error %q does not name the path", err)
					}
					e.clk.Advance(time.Hour)
				}
				lk.Close(e.now())
				tc.check(e)
				for _, n := range e.files() {
					if strings.Contains(n, "stage") {
						t.Errorf("stage left: %s", n)
					}
				}
			})
		}
	})
}

func TestStrictAbandonedGenerationIsReplaced(t *testing.T) {
	forRenames(t, func(t *testing.T, opts ...fsopstest.MemOption) {
		// A releaser or breaker that stopped between removing the record and
		// the directory leaves an empty generation, with our mark: rename
		// replaces it.
		e := newEnv(t, opts...)
		e.mem.MkdirAll(path, 0o755|fs.ModeSticky)
		lk := e.strict("a", time.Second)
		e.mustAcquire(lk)
	})
}

// TestStrictReleaseRetriesRmdir: one EIO on Release's rmdir of the lock
// directory is retried: nothing is left.
func TestStrictReleaseRetriesRmdir(t *testing.T) {
	e := newEnv(t)
	lk := e.strict("a", time.Second)
	e.mustAcquire(lk)
	e.inject = once("Rmdir", path, func(fsopstest.Op) *fsopstest.Fault { return &fsopstest.Fault{Err: syscall.EIO} })
	if err := lk.Release(inTime); err != nil {
		t.Fatalf("Release = %v, want nil (the rmdir retried)", err)
	}
	lk.Close(e.now())
	if names := e.files(); len(names) != 0 {
		t.Errorf("left behind: %q", names)
	}
}

// TestStrictOwnLeftoverReplacedAnyAge: a release whose rmdir kept failing
// leaves our empty generation at the lock path; it carries our mark and
// is replaced by the next acquisition however long after, and whatever
// the waiter's wall clock says. No clock decides it.
func TestStrictOwnLeftoverReplacedAnyAge(t *testing.T) {
	forRenames(t, func(t *testing.T, opts ...fsopstest.MemOption) {
		for _, tc := range []struct {
			name   string
			after  time.Duration
			offset time.Duration // of the waiter's wall clock
		}{
			{"at once", 0, 0},
			{"an hour later", time.Hour, 0},
			{"an hour later, clock 5 h ahead", time.Hour, 5 * time.Hour},
			{"an hour later, clock 5 h behind", time.Hour, -5 * time.Hour},
			{"at once, clock 5 h ahead", 0, 5 * time.Hour},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, opts...)
				lk := e.strict("a", time.Second)
				e.mustAcquire(lk)
				e.inject = func(op fsopstest.Op) *fsopstest.Fault {
					if op.Name == "Rmdir" && op.Path == path {
						return &fsopstest.Fault{Err: syscall.EIO}
					}
					return nil
				}
				if err := lk.Release(inTime); err == nil {
					t.Fatal("Release with every rmdir failing = nil, want an error")
				}
				lk.Close(e.now())
				e.inject = nil
				if names, err := e.mem.ReadDir(path); err != nil || len(names) != 0 {
					t.Fatalf("lock path after the failed release: %q, %v; want an empty directory", names, err)
				}
				e.clk.Advance(tc.after)
				w := e.strict("b", time.Second)
				now := e.now()
				now.Wall = now.Wall.Add(tc.offset)
				att, err := w.Acquire(now)
				if err != nil || !att.Acquired {
					t.Fatalf("Acquire over our leftover = %+v, %v; want acquired", att, err)
				}
			})
		}
	})
}

func TestStrictAbandonedGenerationWithLitter(t *testing.T) {
	forRenames(t, func(t *testing.T, opts ...fsopstest.MemOption) {
		e := newEnv(t, opts...)
		e.mem.MkdirAll(path, 0o755)
		e.mem.WriteFile(path+"/.nfs000000000001", nil, 0o644)
		lk := e.strict("a", time.Second)
		for range 3 {
			if att, err := lk.Acquire(e.now()); err != nil {
				t.Fatal(err)
			} else if att.Acquired {
				return
			}
		}
		t.Fatal("not acquired after three attempts")
	})
}

func TestStrictCollectsStaleStages(t *testing.T) {
	e := newEnv(t)
	old := e.strict("old", time.Second, e.mem)
	e.mustAcquire(old)
	// Stages of crashed waiters: ten, each with a record untouched for
	// long, and one fresh.
	for i := range 10 {
		gen := fmt.Sprintf("%032x", i+1)
		d := dir + "/.a.lock.stage." + gen
		e.mem.MkdirAll(d, 0o755)
		rec := "nfslease-strict 1\ngen " + gen + "\nhost x\npid 1\nlifetime_ms 1000\n"
		e.mem.WriteFile(d+"/owner", []byte(rec), 0o644)
	}
	e.clk.Advance(time.Hour)
	private := func() int {
		n := 0
		for _, name := range e.files() {
			if strings.Contains(name, ".stage.") || strings.Contains(name, ".gc.") {
				n++
			}
		}
		return n
	}
	// A waiter collects at most 8 at a time, never its own stage.
	w1 := e.strict("w1", time.Second, e.mem)
	if att, err := w1.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatal(att, err)
	}
	if got, want := private(), 10-8+1; got != want {
		t.Errorf("%d private directories left, want %d: %q", got, want, e.files())
	}
	// The next waiter collects the rest, but not w1's fresh stage.
	w2 := e.strict("w2", time.Second)
	if att, err := w2.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatal(att, err)
	}
	if got, want := private(), 2; got != want {
		t.Errorf("%d private directories left, want %d (the waiters' own): %q", got, want, e.files())
	}
	if err := old.Refresh(e.now()); err != nil {
		t.Errorf("the holder lost its lock to a collection: %v", err)
	}
}

func TestStrictCollectsStagesWithPartialRecords(t *testing.T) {
	// A waiter killed between creating its record and writing it leaves
	// a stage with an empty (or cut short) record: collected once it is
	// old by the collector's lifetime, like a stage with no record.
	e := newEnv(t)
	old := e.strict("old", time.Second, e.mem)
	e.mustAcquire(old)
	for i, rec := range []string{"", "nfslease-strict 1\ngen "} {
		d := dir + fmt.Sprintf("/.a.lock.stage.%032x", i+1)
		e.mem.MkdirAll(d, 0o755)
		e.mem.WriteFile(d+"/owner", []byte(rec), 0o644)
	}
	w0 := e.strict("w0", time.Second, e.mem)
	if att, err := w0.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatal(att, err)
	}
	w0.Close(e.now())
	if n := len(e.files()); n != 3 {
		t.Fatalf("fresh partial stages collected: files = %q", e.files())
	}
	e.clk.Advance(time.Hour)
	w := e.strict("w", time.Second, e.mem)
	if att, err := w.Acquire(e.now()); err != nil || att.Acquired {
		t.Fatal(att, err)
	}
	w.Close(e.now())
	if names := e.files(); !slices.Equal(names, []string{"a.lock"}) {
		t.Errorf("files = %q, want the lock only", names)
	}
}

func TestStrictCloseLeavesNothing(t *testing.T) {
	e := newEnv(t)
	h := e.strict("h", time.Second, e.mem)
	e.mustAcquire(h)
	w := e.strict("w", time.Second)
	w.Acquire(e.now())
	if err := w.Close(e.now()); err != nil {
		t.Fatal(err)
	}
	if names := e.files(); !slices.Equal(names, []string{"a.lock"}) {
		t.Errorf("files = %q, want the holder's lock only", names)
	}
}

func TestStrictNewRejectsLongNames(t *testing.T) {
	e := newEnv(t)
	long := dir + "/" + strings.Repeat("x", 250)
	_, err := algorithm.Strict.New(e.fs, long, proto.Config{Lifetime: time.Second})
	if !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("New = %v, want ENAMETOOLONG", err)
	}
}

func TestStrictSelfTest(t *testing.T) {
	st := algorithm.Strict.(proto.SelfTester)
	t.Run("Mem", func(t *testing.T) {
		e := newEnv(t)
		if err := st.SelfTest(e.fs, dir, proto.Config{}); err != nil {
			t.Fatal(err)
		}
		if names := e.files(); len(names) != 0 {
			t.Errorf("self-test left %q", names)
		}
	})
	for _, typ := range []string{"ext4", "nfs4", "fuse.glusterfs"} {
		t.Run("type "+typ, func(t *testing.T) {
			e := newEnv(t)
			if err := st.SelfTest(typed{e.mem, typ}, dir, proto.Config{}); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("OS", func(t *testing.T) {
		d := t.TempDir()
		if err := st.SelfTest(fsops.OS(), d, proto.Config{}); err != nil {
			t.Fatal(err)
		}
	})
	broken := []struct {
		name string
		opts []fsopstest.MemOption
		fs   func(*fsopstest.Mem) fsops.FS
	}{
		{"rmdir removes non-empty directories", nil, func(m *fsopstest.Mem) fsops.FS { return rmdirAll{m} }},
		{"handles follow the name", nil, func(m *fsopstest.Mem) fsops.FS { return nameBound{m} }},
		// sshfs: handles are bound within one mount, but inode numbers
		// come from paths, the mark of path-resolved handles.
		{"sshfs: path inodes", []fsopstest.MemOption{fsopstest.WithPathInodes(), fsopstest.WithEPERMForEEXIST()}, func(m *fsopstest.Mem) fsops.FS { return m }},
		{"a FUSE filesystem other than GlusterFS", nil, func(m *fsopstest.Mem) fsops.FS { return typed{m, "fuse.sshfs"} }},
		// A Faulty must not hide what it wraps: a wrapped OS filesystem
		// on sshfs is still refused.
		{"a FUSE filesystem behind a Faulty", nil, func(m *fsopstest.Mem) fsops.FS {
			return &fsopstest.Faulty{FS: typed{m, "fuse.sshfs"}}
		}},
		{"no hard links (sshfs -o disable_hardlink)", nil, func(m *fsopstest.Mem) fsops.FS {
			return &fsopstest.Faulty{FS: m, Inject: func(op fsopstest.Op) *fsopstest.Fault {
				if op.Name == "Link" {
					return &fsopstest.Fault{Err: syscall.ENOSYS}
				}
				return nil
			}}
		}},
	}
	for _, tc := range broken {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opts...)
			err := st.SelfTest(tc.fs(e.mem), dir, proto.Config{})
			if !errors.Is(err, algorithm.ErrUnsupportedFS) || !strings.Contains(err.Error(), dir) {
				t.Fatalf("SelfTest = %v, want ErrUnsupportedFS naming %s", err, dir)
			}
		})
	}
}

// typed is a filesystem that says which kind it is (fsops.Typer).
type typed struct {
	*fsopstest.Mem
	typ string
}

func (f typed) FSType(string) (string, error) { return f.typ, nil }

// rmdirAll is a filesystem whose rmdir removes a directory with entries.
type rmdirAll struct{ *fsopstest.Mem }

func (f rmdirAll) Rmdir(name string) error {
	names, _ := f.ReadDir(name)
	for _, n := range names {
		f.Remove(name + "/" + n)
	}
	return f.Mem.Rmdir(name)
}

// nameBound is a filesystem whose directory handles act by path.
type nameBound struct{ *fsopstest.Mem }

func (f nameBound) OpenDir(name string) (fsops.Dir, error) {
	if _, err := f.Mem.OpenDir(name); err != nil {
		return nil, err
	}
	return pathDir{f.Mem, name}, nil
}

type pathDir struct {
	m    *fsopstest.Mem
	path string
}

func (d pathDir) Path() string                  { return d.path }
func (d pathDir) Stat() (fsops.FileInfo, error) { return d.m.Lstat(d.path) }
func (d pathDir) CreateExcl(n string, b []byte, p fs.FileMode) error {
	_, err := d.m.CreateExcl(d.path+"/"+n, b, p)
	return err
}
func (d pathDir) ReadFile(n string, l int) ([]byte, fsops.FileInfo, error) {
	return d.m.ReadFile(d.path+"/"+n, l)
}
func (d pathDir) Chtimes(n string, a, m time.Time) error { return d.m.Chtimes(d.path+"/"+n, a, m) }
func (d pathDir) Remove(n string) error                  { return d.m.Remove(d.path + "/" + n) }
func (d pathDir) ReadDir() ([]string, error)             { return d.m.ReadDir(d.path) }
func (d pathDir) Close() error                           { return nil }

// TestStrictUsersEmptyDirectoryIsNotRemoved: an empty directory at the
// lock path without our mark is a user's, not an interrupted release,
// whether it was made a moment ago or long ago and whatever the waiter's
// wall clock says: ErrNotLock naming it, by Acquire and again by a later
// acquisition; it stays, unchanged.
func TestStrictUsersEmptyDirectoryIsNotRemoved(t *testing.T) {
	forRenames(t, func(t *testing.T, opts ...fsopstest.MemOption) {
		for _, tc := range []struct {
			name   string
			age    time.Duration
			offset time.Duration // of the waiter's wall clock
		}{
			{"young", 0, 0},
			{"old", 10*time.Second + time.Millisecond, 0}, // 10 lifetimes of 1 s
			{"an hour old", time.Hour, 0},
			{"young, clock 5 h ahead", 0, 5 * time.Hour},
			{"an hour old, clock 5 h behind", time.Hour, -5 * time.Hour},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t, opts...)
				e.mem.MkdirAll(path, 0o755)
				e.clk.Advance(tc.age)
				refuseUsersEmptyDir(t, e, tc.offset)
			})
		}
	})
}

func refuseUsersEmptyDir(t *testing.T, e *env, offset time.Duration) {
	t.Helper()
	for range 2 {
		lk := e.strict("a", time.Second)
		now := e.now()
		now.Wall = now.Wall.Add(offset)
		_, err := lk.Acquire(now)
		if !errors.Is(err, proto.ErrNotLock) || !strings.Contains(err.Error(), path+" is an empty directory that nfslease did not make") {
			t.Fatalf("Acquire over a user's empty directory = %v, want ErrNotLock naming it", err)
		}
		lk.Close(e.now())
		fi, err := e.mem.Lstat(path)
		if err != nil || !fi.Mode.IsDir() {
			t.Fatalf("the directory is gone: %v", err)
		}
		if names, _ := e.mem.ReadDir(path); len(names) > 0 {
			t.Fatalf("the directory now holds %q", names)
		}
	}
	for _, n := range e.files() {
		if n != "a.lock" && !strings.Contains(n, ".token.") {
			t.Errorf("left behind: %s", n)
		}
	}
}

// TestStrictUsersEmptyDirectoryRefusedAfterFailedRename: a first rename
// that fails before the server (EIO, ESTALE, a timeout) has looked at
// nothing, so the next attempt still refuses a user's empty directory at
// the lock path rather than removing it.
func TestStrictUsersEmptyDirectoryRefusedAfterFailedRename(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EIO, syscall.ESTALE, syscall.ETIMEDOUT} {
		t.Run(errno.Error(), func(t *testing.T) {
			forRenames(t, func(t *testing.T, opts ...fsopstest.MemOption) {
				e := newEnv(t, opts...)
				e.mem.MkdirAll(path, 0o755)
				e.inject = once("Rename", "", func(fsopstest.Op) *fsopstest.Fault { return &fsopstest.Fault{Err: errno} })
				lk := e.strict("a", time.Second)
				var err error
				for i := 0; i < 3 && !errors.Is(err, proto.ErrNotLock); i++ {
					_, err = lk.Acquire(e.now())
				}
				if !errors.Is(err, proto.ErrNotLock) {
					t.Errorf("Acquire over a user's empty directory after a failed rename = %v, want ErrNotLock", err)
				}
				lk.Close(e.now())
				if fi, err := e.mem.Lstat(path); err != nil || !fi.Mode.IsDir() {
					t.Fatalf("the user's directory is gone: %v", err)
				}
			})
		})
	}
}
