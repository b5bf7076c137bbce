package lease_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// memSnapshot describes every entry under root of mem: name, type, mode,
// inode, size, mtime and content.
func memSnapshot(t *testing.T, mem *fsopstest.Mem, root string) []string {
	t.Helper()
	var out []string
	var walk func(d string)
	walk = func(d string) {
		names, err := mem.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := d + "/" + n
			fi, err := mem.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			s := fmt.Sprintf("%s %v ino=%d size=%d mtime=%v ctime=%v", p, fi.Mode, fi.Ino, fi.Size, fi.ModTime.UnixNano(), fi.Ctime.UnixNano())
			if fi.Mode.IsRegular() {
				data, _, err := mem.ReadFile(p, 1<<16)
				if err != nil {
					t.Fatal(err)
				}
				s += " " + strconv.Quote(string(data))
			}
			out = append(out, s)
			if fi.Mode.IsDir() {
				walk(p)
			}
		}
	}
	walk(root)
	return out
}

// readOnlyOps are the filesystem calls that change nothing.
var readOnlyOps = []string{"Lstat", "ReadFile", "ReadDir", "OpenDir", "Dir.Stat", "Dir.ReadFile", "Dir.ReadDir"}

// inspectNoChange runs Inspect and checks that it called nothing but
// read-only filesystem calls and left every file as it was.
func inspectNoChange(t *testing.T, w *world, path string, opts ...lease.Option) (lease.Info, error) {
	t.Helper()
	before := memSnapshot(t, w.mem, dir)
	var mu sync.Mutex
	var writes []string
	w.inject(func(op fsopstest.Op) *fsopstest.Fault {
		if !slices.Contains(readOnlyOps, op.Name) {
			mu.Lock()
			writes = append(writes, op.Name+" "+op.Path)
			mu.Unlock()
		}
		return nil
	})
	info, err := lease.Inspect(path, append([]lease.Option{lease.WithFS(w.fs), lease.WithClock(w.clk), lease.WithIdentity("test", 1)}, opts...)...)
	w.inject(nil)
	if len(writes) > 0 {
		t.Errorf("Inspect made calls that change things: %q", writes)
	}
	if after := memSnapshot(t, w.mem, dir); !slices.Equal(before, after) {
		t.Errorf("Inspect changed the directory:\nbefore %q\nafter  %q", before, after)
	}
	return info, err
}

// holdDead makes a lock at path with proto for a holder that never
// refreshes or releases it (a crashed process).
func holdDead(t *testing.T, w *world, prot algorithm.Protocol, path string, host string, pid int) {
	t.Helper()
	lk, err := prot.New(w.mem, path, proto.Config{Lifetime: 15 * time.Second, Hostname: host, Pid: pid})
	if err != nil {
		t.Fatal(err)
	}
	if att, err := lk.Acquire(proto.Instant{Wall: w.clk.Now()}); err != nil || !att.Acquired {
		t.Fatalf("acquire = %+v, %v", att, err)
	}
}

func TestInspectUnlocked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		info, err := inspectNoChange(t, w, dir+"/a.lock")
		if err != nil {
			t.Fatal(err)
		}
		if info.State != lease.Unlocked || info.String() != dir+"/a.lock: unlocked" {
			t.Errorf("Inspect = %+v (%v), want unlocked", info, info)
		}
	})
}

func TestInspectHeld(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		path := dir + "/a.lock"
		_, release, err := lease.Acquire(t.Context(), path, w.opts(lease.WithIdentity("build-7", 4242))...)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		w.advance(2700 * time.Millisecond) // the refresh at 3s has not happened yet
		info, err := inspectNoChange(t, w, path)
		if err != nil {
			t.Fatal(err)
		}
		want := lease.Info{Path: path, State: lease.Held, At: w.clk.Now(), Protocol: f.prot.Name(), Host: "build-7", Pid: 4242,
			Expires: epoch.Add(15 * time.Second), Lifetime: 15 * time.Second, Token: 1}
		if info != want {
			t.Errorf("Inspect = %+v\nwant      %+v", info, want)
		}
		wantS := fmt.Sprintf("%s: held by pid 4242 on build-7 (%s, lifetime 15s), expires in 12.3s", path, f.prot.Name())
		if info.String() != wantS {
			t.Errorf("String = %q, want %q", info, wantS)
		}
		// Our own lease is Ours.
		info, err = inspectNoChange(t, w, path, lease.WithIdentity("build-7", 4242))
		if err != nil || info.State != lease.Ours {
			t.Errorf("Inspect by the holder = %v, %v; want Ours", info, err)
		}
		if s := info.String(); !strings.Contains(s, "held by this process") {
			t.Errorf("String = %q", s)
		}
	})
}

// A dead holder's Strict lock is Held (one look cannot prove it stale),
// with its expiry in the past; a Flufl one is Stale once its expiry plus
// the skew allowance has passed.
func TestInspectDeadHolder(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		path := dir + "/a.lock"
		holdDead(t, w, f.prot, path, "gone", 7)
		w.clk.Advance(24 * time.Second) // expiry +9s: within the 10s allowance
		info, err := inspectNoChange(t, w, path)
		if err != nil || info.State != lease.Held {
			t.Fatalf("Inspect 9s after expiry = %v, %v; want held", info, err)
		}
		w.clk.Advance(time.Second)
		info, err = inspectNoChange(t, w, path)
		if err != nil {
			t.Fatal(err)
		}
		want := lease.Held
		if f.prot == algorithm.Flufl {
			want = lease.Stale
		}
		if info.State != want {
			t.Errorf("Inspect 10s after expiry: %v, want state %v", info, want)
		}
		if s := info.String(); !strings.HasSuffix(s, "expired 10s ago") {
			t.Errorf("String = %q, want it to say expired 10s ago", s)
		}
		t.Log(info)
	})
}

func TestInspectNotALock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		if err := w.mem.WriteFile(dir+"/file.lock", []byte("hello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := w.mem.MkdirAll(dir+"/dir.lock/sub", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := w.mem.MkdirAll(dir+"/rec.lock", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := w.mem.WriteFile(dir+"/rec.lock/owner", []byte("not a record"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := w.mem.Symlink("/etc/passwd", dir+"/sym.lock"); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"file.lock", "dir.lock", "rec.lock", "sym.lock"} {
			path := dir + "/" + name
			_, err := inspectNoChange(t, w, path)
			if !errors.Is(err, algorithm.ErrNotLock) || !strings.Contains(err.Error(), path) {
				t.Errorf("Inspect %s = %v, want ErrNotLock naming the path", name, err)
			}
		}
	})
}

func TestInspectUnreadable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		holdDead(t, w, algorithm.Flufl, dir+"/a.lock", "h", 1)
		w.inject(eioOn("ReadFile"))
		defer w.inject(nil)
		_, err := lease.Inspect(dir+"/a.lock", lease.WithFS(w.fs), lease.WithClock(w.clk))
		if err == nil || !strings.Contains(err.Error(), dir+"/a.lock") || errors.Is(err, algorithm.ErrNotLock) {
			t.Errorf("Inspect with EIO = %v, want an error naming the path", err)
		}
	})
}

// Inspect on the real filesystem, with the default options.
func TestInspectOS(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.lock")
	_, release, err := lease.Acquire(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	info, err := lease.Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.State != lease.Ours || info.Pid != os.Getpid() || info.Protocol != "strict" {
		t.Errorf("Inspect of our own lock = %+v", info)
	}
	t.Log(info)
}
