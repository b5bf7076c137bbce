//go:build unix

package lease_test

// Hardening tests (issue 5): hostile paths, bad input, full disks and
// other users, on the real filesystem. Every case checks the error (a
// sentinel where one exists, and that the message names the path), that
// nothing that is not ours was deleted or modified, that nothing of ours
// was left behind, and that nothing hangs. docs/security.md states the
// threat model and the documented behaviour of each case.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// requireRootEnv, when set, turns the skip of a test that needs root into
// a failure, so that CI (which runs as root) cannot count a skip as a pass.
const requireRootEnv = "NFSLEASE_REQUIRE_ROOT"

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(requireRootEnv) != "" {
		t.Fatalf("%s is set but the test runs as uid %d, not root", requireRootEnv, os.Geteuid())
	}
	t.Skipf("needs root (set %s to make this a failure)", requireRootEnv)
}

// longAgo is an mtime far in the past: anything with it is "stale" by
// every rule there is.
var longAgo = time.Now().Add(-365 * 24 * time.Hour)

// hctx is a context that ends the test's calls long before go test's own
// timeout would: a hang shows as a deadline error, not a stuck run.
func hctx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fast are options that keep the tests quick, for protocol p.
func fast(p algorithm.Protocol, extra ...lease.Option) []lease.Option {
	return append([]lease.Option{lease.WithLifetime(2 * time.Second), lease.WithProtocol(p)}, extra...)
}

// forBoth runs f as a subtest for each protocol.
func forBoth(t *testing.T, f func(t *testing.T, p algorithm.Protocol)) {
	t.Helper()
	for _, p := range bothProtocols {
		t.Run(p.Name(), func(t *testing.T) { f(t, p) })
	}
}

// strictRecord is a well-formed Strict owner record.
func strictRecord(gen, host string, pid int, lifetimeMs int) string {
	return fmt.Sprintf("nfslease-strict 1\ngen %s\nhost %s\npid %d\nlifetime_ms %d\n", gen, host, pid, lifetimeMs)
}

// staleGen is the generation id of the stale Strict locks the tests plant.
const staleGen = "0123456789abcdef0123456789abcdef"

// mkStrictLock makes a Strict lock directory at lock holding record, a
// year old.
func mkStrictLock(t *testing.T, lock, record string, perm fs.FileMode) {
	t.Helper()
	if err := os.Mkdir(lock, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lock, "owner"), []byte(record), perm); err != nil {
		t.Fatal(err)
	}
	setMtime(t, filepath.Join(lock, "owner"), longAgo)
}

// entry is what snapshot records about one directory entry.
type entry struct {
	mode    fs.FileMode
	size    int64
	mtime   time.Time
	ino     uint64
	content string // regular files up to 64 KiB
	target  string // symbolic links
}

// snapshot describes every entry under root (recursively, without
// following symbolic links), so that a later snapshot shows any file that
// was created, removed, modified or touched.
func snapshot(t *testing.T, root string) map[string]entry {
	t.Helper()
	m := map[string]entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := entry{mode: fi.Mode(), size: fi.Size(), mtime: fi.ModTime(), ino: st.Ino}
		if fi.IsDir() {
			// Creating and removing our files in a directory moves its
			// mtime and may change its size: compare its entries instead.
			e.size, e.mtime = 0, time.Time{}
		}
		switch {
		case fi.Mode().IsRegular() && fi.Size() <= 64<<10:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.content = string(b)
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.target, err = os.Readlink(p); err != nil {
				return err
			}
		}
		rel, _ := filepath.Rel(root, p)
		m[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The fencing-token counter of a lock stays after a release: leave it
	// out, but fail on two of one lock.
	byDir := map[string][]string{}
	for name := range m {
		byDir[filepath.Dir(name)] = append(byDir[filepath.Dir(name)], filepath.Base(name))
	}
	for d, names := range byDir {
		for _, n := range names {
			if !slices.Contains(withoutToken(t, names), n) {
				delete(m, filepath.Join(d, n))
			}
		}
	}
	return m
}

// wantSnapshot fails the test if root differs from before.
func wantSnapshot(t *testing.T, root string, before map[string]entry) {
	t.Helper()
	after := snapshot(t, root)
	for _, name := range slices.Sorted(maps.Keys(before)) {
		a, ok := after[name]
		switch {
		case !ok:
			t.Errorf("%s was removed", name)
		case a != before[name]:
			t.Errorf("%s was changed: before %+v, after %+v", name, before[name], a)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[name]; !ok {
			t.Errorf("%s was left behind", name)
		}
	}
}

// wantNamesPath fails the test if err does not name path.
func wantNamesPath(t *testing.T, err error, path string) {
	t.Helper()
	if err != nil && !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path %s", err, path)
	}
}

// setMtime sets the times of name without following a symbolic link.
func setMtime(t *testing.T, name string, mt time.Time) {
	t.Helper()
	if err := fsops.OS().Chtimes(name, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// hostileDirs makes a lock directory and, beside it, a directory of
// decoys that symbolic links and lock contents point at.
func hostileDirs(t *testing.T) (root, locks, outside string) {
	t.Helper()
	root = t.TempDir()
	locks, outside = filepath.Join(root, "locks"), filepath.Join(root, "outside")
	for _, d := range []string{locks, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(t, filepath.Join(outside, "secret"), []byte("do not touch"))
	return root, locks, outside
}

// TestHostileLockPath puts things that are not a lock of ours at the lock
// path, all of them with an mtime a year old, and checks that Acquire and
// TryAcquire refuse at once with ErrNotLock, naming the path, and leave
// everything as it was: the thing itself, whatever it points at or names,
// and no file of ours.
func TestHostileLockPath(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, lock, outside string)
		only  algorithm.Protocol // nil: both protocols
		// strictTakes: Strict takes this as an abandoned generation
		// (an empty directory) and replaces it (documented).
		strictTakes bool
	}{
		{name: "symlink to a file", setup: func(t *testing.T, lock, outside string) {
			mustSymlink(t, filepath.Join(outside, "secret"), lock)
		}},
		{name: "dangling symlink", setup: func(t *testing.T, lock, outside string) {
			// Following it for writing would create outside/created.
			mustSymlink(t, filepath.Join(outside, "created"), lock)
		}},
		{name: "symlink to a directory", setup: func(t *testing.T, lock, outside string) {
			mustSymlink(t, outside, lock)
		}},
		{name: "symlink to a stale lock elsewhere", only: algorithm.Flufl, setup: func(t *testing.T, lock, outside string) {
			// A well-formed stale lock of this name, reached through a
			// symlink: still not ours to break.
			other := filepath.Join(outside, filepath.Base(lock))
			write(t, other, []byte(other+"|elsewhere|1|2"))
			setMtime(t, other, longAgo)
			mustSymlink(t, other, lock)
		}},
		{name: "symlink to /etc/passwd", setup: func(t *testing.T, lock, outside string) {
			mustSymlink(t, "/etc/passwd", lock)
		}},
		{name: "symlink loop", setup: func(t *testing.T, lock, outside string) {
			mustSymlink(t, lock, lock)
		}},
		{name: "directory", setup: func(t *testing.T, lock, outside string) {
			if err := os.Mkdir(lock, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(lock, "inside"), []byte("x"))
			setMtime(t, filepath.Join(lock, "inside"), longAgo)
		}},
		// Without our mark (the sticky bit): not an interrupted release
		// (those carry it and are replaced:
		// TestStrictAbandonedGenerationIsReplaced).
		{name: "empty directory", setup: func(t *testing.T, lock, outside string) {
			if err := os.Mkdir(lock, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "FIFO", setup: func(t *testing.T, lock, outside string) {
			if err := unix.Mkfifo(lock, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "unix socket file", setup: func(t *testing.T, lock, outside string) {
			fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fd)
			// Bind by a relative name: sun_path is short (104 bytes on
			// some systems), temporary directories may be longer.
			t.Chdir(filepath.Dir(lock))
			if err := unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Base(lock)}); err != nil {
				t.Fatalf("bind a unix socket at %s: %v", lock, err)
			}
		}},
		{name: "unrelated user file", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte("my thesis, final version\n"))
		}},
		{name: "empty file", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, nil)
		}},
		{name: "garbage text", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte("lorem ipsum | dolor | sit | amet | consectetur"))
		}},
		{name: "binary content", setup: func(t *testing.T, lock, outside string) {
			b := make([]byte, 1000)
			for i := range b {
				b[i] = byte(i * 7)
			}
			write(t, lock, b)
		}},
		{name: "binary content with separators", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte(lock+"|h\x00st|1|2"))
		}},
		{name: "claim with a newline", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte(lock+"|host|1|2\n"))
		}},
		{name: "claim with a non-numeric pid", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte(lock+"|host|x1|2"))
		}},
		{name: "claim with a negative pid", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte(lock+"|host|-1|2"))
		}},
		{name: "one byte over the read bound", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, bytes.Repeat([]byte("a"), 4097))
		}},
		{name: "claim-like content over the read bound", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte(lock+"|host|1|"+strings.Repeat("9", 4096)))
		}},
		{name: "1 GiB sparse file", setup: func(t *testing.T, lock, outside string) {
			f, err := os.Create(lock)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(1 << 30); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "content /etc/passwd", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte("/etc/passwd"))
		}},
		{name: "content ../x", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte("../x"))
		}},
		{name: "content naming a decoy", setup: func(t *testing.T, lock, outside string) {
			write(t, lock, []byte(filepath.Join(outside, "secret")))
		}},
		{name: "content naming a decoy of claim form", setup: func(t *testing.T, lock, outside string) {
			decoy := filepath.Join(outside, "secret|host|1|2")
			write(t, decoy, []byte("mine"))
			write(t, lock, []byte(decoy))
		}},
		{name: "claim of another lock name in the same directory", setup: func(t *testing.T, lock, outside string) {
			// Its claim file exists and matches: breaking "our" lock
			// would remove another lock's claim.
			claim := filepath.Join(filepath.Dir(lock), "other.lock|host|1|2")
			write(t, claim, []byte(claim))
			setMtime(t, claim, longAgo)
			write(t, lock, []byte(claim))
		}},
		// Strict: a directory at the lock path that is not one of its
		// generations.
		{name: "symlink to a stale strict lock elsewhere", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			other := filepath.Join(outside, filepath.Base(lock))
			mkStrictLock(t, other, strictRecord(staleGen, "elsewhere", 1, 1000), 0o644)
			mustSymlink(t, other, lock)
		}},
		{name: "directory with a foreign owner", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, "not a record\n", 0o644)
		}},
		{name: "directory with an empty owner", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, "", 0o644)
		}},
		{name: "directory with a binary owner", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			b := make([]byte, 500)
			for i := range b {
				b[i] = byte(i * 7)
			}
			mkStrictLock(t, lock, string(b), 0o644)
		}},
		{name: "directory with an owner naming /etc/passwd", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, "/etc/passwd", 0o644)
		}},
		{name: "directory with an owner naming a decoy", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, filepath.Join(outside, "secret")+"\n", 0o644)
		}},
		{name: "directory with a huge owner", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, strings.Repeat("a", 1025), 0o644)
		}},
		{name: "directory with a record-like owner over the bound", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, strictRecord(staleGen, strings.Repeat("h", 1100), 1, 1000), 0o644)
		}},
		{name: "directory with a 1 GiB sparse owner", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, "", 0o644)
			if err := os.Truncate(filepath.Join(lock, "owner"), 1<<30); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory with a near-valid owner (upper-case gen)", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, strictRecord(strings.ToUpper(staleGen), "h", 1, 1000), 0o644)
		}},
		{name: "directory with a near-valid owner (CRLF)", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, strings.ReplaceAll(strictRecord(staleGen, "h", 1, 1000), "\n", "\r\n"), 0o644)
		}},
		{name: "directory with a near-valid owner (extra line)", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, strictRecord(staleGen, "h", 1, 1000)+"extra 1\n", 0o644)
		}},
		{name: "directory with a near-valid owner (no final newline)", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, strings.TrimSuffix(strictRecord(staleGen, "h", 1, 1000), "\n"), 0o644)
		}},
		{name: "directory with a flufl claim as owner", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			mkStrictLock(t, lock, lock+"|host|1|nfslease1.l2000.r0123456789abcdef", 0o644)
		}},
		{name: "owner is a symlink to a stale record", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			rec := write(t, filepath.Join(outside, "record"), []byte(strictRecord(staleGen, "h", 1, 1000)))
			setMtime(t, rec, longAgo)
			if err := os.Mkdir(lock, 0o755); err != nil {
				t.Fatal(err)
			}
			mustSymlink(t, rec, filepath.Join(lock, "owner"))
		}},
		{name: "owner is a symlink to /etc/passwd", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			if err := os.Mkdir(lock, 0o755); err != nil {
				t.Fatal(err)
			}
			mustSymlink(t, "/etc/passwd", filepath.Join(lock, "owner"))
		}},
		{name: "owner is a dangling symlink", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			if err := os.Mkdir(lock, 0o755); err != nil {
				t.Fatal(err)
			}
			mustSymlink(t, filepath.Join(outside, "created"), filepath.Join(lock, "owner"))
		}},
		{name: "owner is a FIFO", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			if err := os.Mkdir(lock, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := unix.Mkfifo(filepath.Join(lock, "owner"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "owner is a directory", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			if err := os.MkdirAll(filepath.Join(lock, "owner"), 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(lock, "owner", "inside"), []byte("x"))
		}},
		{name: "owner is an empty directory", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			if err := os.MkdirAll(filepath.Join(lock, "owner"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory with only litter-like and other names", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			if err := os.Mkdir(lock, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(lock, ".nfs0000000000000001"), []byte("x"))
			write(t, filepath.Join(lock, "owner.bak"), []byte(strictRecord(staleGen, "h", 1, 1000)))
		}},
		{name: "directory with a stale record and a user's file", only: algorithm.Strict, setup: func(t *testing.T, lock, outside string) {
			// A record that would be stale, beside a file no generation
			// ever holds: not a generation, so its record is not
			// removed either.
			mkStrictLock(t, lock, strictRecord(staleGen, "h", 1, 1000), 0o644)
			write(t, filepath.Join(lock, "data"), []byte("mine"))
			setMtime(t, filepath.Join(lock, "data"), longAgo)
		}},
	}
	for _, p := range bothProtocols {
		for _, tt := range tests {
			if tt.only != nil && tt.only != p {
				continue
			}
			for _, try := range []bool{false, true} {
				name := p.Name() + "/" + tt.name + "/Acquire"
				if try {
					name = p.Name() + "/" + tt.name + "/TryAcquire"
				}
				t.Run(name, func(t *testing.T) {
					root, locks, outside := hostileDirs(t)
					lock := filepath.Join(locks, "a.lock")
					tt.setup(t, lock, outside)
					if _, err := os.Lstat(lock); err == nil {
						setMtime(t, lock, longAgo)
					}
					before := snapshot(t, root)
					acquire := lease.Acquire
					if try {
						acquire = lease.TryAcquire
					}
					start := time.Now()
					_, release, err := acquire(hctx(t), lock, fast(p)...)
					if p == algorithm.Strict && tt.strictTakes {
						// An empty directory is an abandoned generation:
						// replaced, and gone after the release.
						if err != nil {
							t.Fatalf("Acquire over an empty directory = %v", err)
						}
						if err := release(); err != nil {
							t.Fatal(err)
						}
						delete(before, filepath.Join("locks", "a.lock"))
						wantSnapshot(t, root, before)
						return
					}
					if err == nil {
						release()
						t.Fatalf("acquired a lock at %s", lock)
					}
					if !errors.Is(err, algorithm.ErrNotLock) {
						t.Errorf("err = %v, want ErrNotLock", err)
					}
					if took := time.Since(start); took > 2*time.Second {
						t.Errorf("took %v to refuse", took)
					}
					wantNamesPath(t, err, lock)
					wantSnapshot(t, root, before)
				})
			}
		}
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// TestStaleLockNamingElsewhere is a stale lock in flufl.lock's format
// whose claim names a file in another directory. The lock is broken and
// taken, as flufl.lock would, but the named file is never touched:
// flufl.lock removes the claim by the path the lock names; nfslease only
// ever removes a claim file in the lock's own directory.
func TestStaleLockNamingElsewhere(t *testing.T) {
	p := algorithm.Flufl // Flufl-specific: see the Strict cases
	for _, content := range []string{
		"{outside}/a.lock|host|1|2",
		"{outside}/../outside/a.lock|host|1|2",
		"../outside/a.lock|host|1|2",
		"a.lock|host|1|2",
	} {
		t.Run(content, func(t *testing.T) {
			root, locks, outside := hostileDirs(t)
			lock := filepath.Join(locks, "a.lock")
			content = strings.ReplaceAll(content, "{outside}", outside)
			decoy := filepath.Join(outside, "a.lock|host|1|2")
			write(t, decoy, []byte(content)) // the very claim, elsewhere
			write(t, lock, []byte(content))
			setMtime(t, lock, longAgo)
			setMtime(t, decoy, longAgo)
			outsideBefore := snapshot(t, outside)
			_, release, err := lease.Acquire(hctx(t), lock, fast(p)...)
			if err != nil {
				t.Fatalf("Acquire over a stale lock = %v", err)
			}
			if err := release(); err != nil {
				t.Fatal(err)
			}
			wantSnapshot(t, outside, outsideBefore)
			if names := dirNames(t, locks); len(names) != 0 {
				t.Errorf("left in the lock directory: %q", names)
			}
			_ = root
		})
	}
}

// TestSymlinkAtBreakLock plants a symbolic link at the one predictable
// name the protocol creates, "<lock>|break", over a stale lock. Breaking
// must fail with an error naming the path, follow nothing, and leave the
// stale lock, the link and its target alone.
func TestSymlinkAtBreakLock(t *testing.T) {
	p := algorithm.Flufl // Flufl-specific: see the Strict cases
	for _, target := range []string{"secret", "missing"} {
		t.Run(target, func(t *testing.T) {
			root, locks, outside := hostileDirs(t)
			lock := filepath.Join(locks, "a.lock")
			claim := lock + "|host|1|2"
			write(t, claim, []byte(claim))
			if err := os.Link(claim, lock); err != nil {
				t.Fatal(err)
			}
			setMtime(t, lock, longAgo)
			mustSymlink(t, filepath.Join(outside, target), lock+"|break")
			before := snapshot(t, root)
			_, _, err := lease.Acquire(hctx(t), lock, fast(p)...)
			if err == nil || !errors.Is(err, syscall.ELOOP) {
				t.Errorf("Acquire = %v, want an error wrapping ELOOP", err)
			}
			wantNamesPath(t, err, lock)
			wantSnapshot(t, root, before)
		})
	}
}

// fixedRand makes claim names predictable, as an attacker who could guess
// them would see them.
type fixedRand struct{}

func (fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xab
	}
	return len(p), nil
}

// TestSymlinkAtClaimName plants a symbolic link (and, in turn, other
// files) at the name our private file will have: Flufl's claim file, or
// Strict's staging directory ".<base>.stage.<32 hex>". Those names carry
// 64 (Flufl) or 128 (Strict) random bits, so this takes an attacker who
// can predict them; even so the create must fail with fs.ErrExist without
// following the link or touching what is there.
func TestSymlinkAtClaimName(t *testing.T) {
	cfg := proto.Config{Lifetime: 2 * time.Second, Hostname: "host", Pid: 1, Rand: fixedRand{}}
	tests := []struct {
		name  string
		plant func(t *testing.T, claim, outside string)
		// strictAdopts: Strict takes an empty directory at its staging
		// name for its own mkdir replayed by NFS, and uses it
		// (documented in docs/security.md).
		strictAdopts bool
	}{
		{name: "symlink to a file", plant: func(t *testing.T, claim, outside string) {
			mustSymlink(t, filepath.Join(outside, "secret"), claim)
		}},
		{name: "dangling symlink", plant: func(t *testing.T, claim, outside string) {
			mustSymlink(t, filepath.Join(outside, "created"), claim)
		}},
		{name: "symlink to a file holding the claim", plant: func(t *testing.T, claim, outside string) {
			// Following it to check the content would accept it as ours.
			write(t, filepath.Join(outside, "fake"), []byte(claim))
			mustSymlink(t, filepath.Join(outside, "fake"), claim)
		}},
		{name: "symlink to a directory", plant: func(t *testing.T, claim, outside string) {
			mustSymlink(t, outside, claim)
		}},
		{name: "symlink to an empty directory", plant: func(t *testing.T, claim, outside string) {
			if err := os.Mkdir(filepath.Join(outside, "empty"), 0o755); err != nil {
				t.Fatal(err)
			}
			mustSymlink(t, filepath.Join(outside, "empty"), claim)
		}},
		{name: "FIFO", plant: func(t *testing.T, claim, outside string) {
			if err := unix.Mkfifo(claim, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory", strictAdopts: true, plant: func(t *testing.T, claim, outside string) {
			if err := os.Mkdir(claim, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory with a file", plant: func(t *testing.T, claim, outside string) {
			if err := os.Mkdir(claim, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(claim, "data"), []byte("mine"))
		}},
		{name: "directory with an owner file", plant: func(t *testing.T, claim, outside string) {
			if err := os.Mkdir(claim, 0o755); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(claim, "owner"), []byte("not a record"))
		}},
		{name: "other file", plant: func(t *testing.T, claim, outside string) {
			write(t, claim, []byte("not the claim"))
		}},
	}
	forBoth(t, func(t *testing.T, p algorithm.Protocol) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				root, locks, outside := hostileDirs(t)
				lock := filepath.Join(locks, "a.lock")
				lk, err := p.New(fsops.OS(), lock, cfg)
				if err != nil {
					t.Fatal(err)
				}
				claim := lock + "|host|1|nfslease1.l2000.rabababababababab"
				if p == algorithm.Strict {
					claim = filepath.Join(locks, ".a.lock.stage."+strings.Repeat("ab", 16))
				}
				tt.plant(t, claim, outside)
				before := snapshot(t, root)
				now := proto.Instant{Wall: time.Now()}
				att, err := lk.Acquire(now)
				if p == algorithm.Strict && tt.strictAdopts {
					if err != nil || !att.Acquired {
						t.Fatalf("Acquire = %+v, %v; want the empty directory adopted", att, err)
					}
					if err := lk.Release(inTime); err != nil {
						t.Fatal(err)
					}
					delete(before, filepath.Base(filepath.Dir(claim))+"/"+filepath.Base(claim))
					wantSnapshot(t, root, before)
					return
				}
				if err == nil {
					t.Errorf("Acquire = %+v, want an error", att)
				} else if !errors.Is(err, fs.ErrExist) {
					t.Errorf("Acquire = %v, want an error wrapping fs.ErrExist", err)
				}
				wantNamesPath(t, err, lock)
				if err := lk.Close(now); err != nil {
					t.Errorf("Close = %v", err)
				}
				wantSnapshot(t, root, before)
			})
		}
	})
}

// TestSymlinkedLockDirectory: a symbolic link in a directory component is
// followed, as in any path resolution (fsops guarantees no-follow for the
// last component only). The lock and claim files live in the real
// directory; the link is untouched; locks taken through either name
// exclude each other and break each other's stale locks.
func TestSymlinkedLockDirectory(t *testing.T) {
	p := algorithm.Flufl // Flufl-specific: see the Strict cases
	root, locks, _ := hostileDirs(t)
	via := filepath.Join(root, "via")
	mustSymlink(t, locks, via)
	_, release, err := lease.Acquire(hctx(t), filepath.Join(via, "a.lock"), fast(p)...)
	if err != nil {
		t.Fatal(err)
	}
	names := dirNames(t, locks)
	if len(names) != 2 || names[0] != "a.lock" || !strings.HasPrefix(names[1], "a.lock|") {
		t.Errorf("files in the real directory = %q, want the lock and its claim", names)
	}
	data, err := os.ReadFile(filepath.Join(locks, "a.lock"))
	if err != nil || !strings.HasPrefix(string(data), filepath.Join(via, "a.lock")+"|") {
		t.Errorf("lock content = %q, %v; want the claim path as the holder named it", data, err)
	}
	_, _, err = lease.TryAcquire(hctx(t), filepath.Join(locks, "a.lock"), fast(p)...)
	if !errors.Is(err, lease.ErrHeld) {
		t.Errorf("TryAcquire by the real name = %v, want ErrHeld", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(via); err != nil || target != locks {
		t.Errorf("directory link = %q, %v; want it untouched", target, err)
	}
	if names := dirNames(t, locks); len(names) != 0 {
		t.Errorf("left behind: %q", names)
	}
}

// TestLockNames covers the length limit, the separator, odd host names,
// relative paths and ".." components.
func TestLockNames(t *testing.T) {
	// Flufl: with host "h" and pid 1, the claim name is the lock name plus
	// "|h|1|nfslease1.l2000.r" and 16 hex digits (38 bytes), and the
	// private break name adds ".break" (6): 211 is the longest lock name.
	const longest = nameMax - 44
	// Strict: the staging directory ".<name>.stage.<32 hex>" adds 40
	// bytes whatever the host: 215 is the longest lock name.
	const strictLongest = nameMax - 40
	// strictWant is what Strict gives where it differs from Flufl: it
	// has no separator and no host in its names.
	strictWant := map[string]error{
		"one byte too long":          nil,
		"multibyte name too long":    nil, // 212 bytes
		"too long with a long host":  nil,
		"separator in the name":      nil,
		"separator at the end":       nil,
		"separator in the directory": nil,
	}
	tests := []struct {
		name string
		base string // lock file name in the lock directory, or "" for path
		path func(locks string) string
		host string
		want error              // nil: acquired
		only algorithm.Protocol // nil: both
	}{
		{name: "strict longest name", base: strings.Repeat("n", strictLongest), only: algorithm.Strict},
		{name: "strict one byte too long", base: strings.Repeat("n", strictLongest+1), want: syscall.ENAMETOOLONG, only: algorithm.Strict},
		{name: "strict multibyte name too long", base: strings.Repeat("é", 108), want: syscall.ENAMETOOLONG, only: algorithm.Strict},
		{name: "strict longest multibyte name", base: strings.Repeat("é", 107) + "n", only: algorithm.Strict},
		{name: "longest name", base: strings.Repeat("n", longest)},
		{name: "one byte too long", base: strings.Repeat("n", longest+1), want: syscall.ENAMETOOLONG},
		{name: "NAME_MAX", base: strings.Repeat("n", nameMax), want: syscall.ENAMETOOLONG},
		{name: "over NAME_MAX", base: strings.Repeat("n", nameMax+1), want: syscall.ENAMETOOLONG},
		{name: "multibyte name too long", base: strings.Repeat("é", 106), want: syscall.ENAMETOOLONG},
		{name: "longest name with a long host", base: strings.Repeat("n", longest-9), host: strings.Repeat("h", 10)},
		{name: "too long with a long host", base: strings.Repeat("n", longest-8), host: strings.Repeat("h", 10), want: syscall.ENAMETOOLONG},
		{name: "separator in the name", base: "a|b.lock", want: algorithm.ErrBadPath},
		{name: "separator at the end", base: "a.lock|", want: algorithm.ErrBadPath},
		{name: "separator in the directory", path: func(locks string) string {
			d := filepath.Join(locks, "x|y")
			os.Mkdir(d, 0o755)
			return filepath.Join(d, "a.lock")
		}, want: algorithm.ErrBadPath},
		{name: "NUL in the name", base: "a\x00b", want: algorithm.ErrBadPath},
		{name: "trailing slash", path: func(locks string) string { return locks + "/a.lock/" }, want: algorithm.ErrBadPath},
		{name: "the directory itself", path: func(locks string) string { return locks + "/." }, want: algorithm.ErrBadPath},
		{name: "the parent", path: func(locks string) string { return locks + "/.." }, want: algorithm.ErrBadPath},
		{name: "empty path", path: func(string) string { return "" }, want: algorithm.ErrBadPath},
		{name: "dot dot component", path: func(locks string) string {
			os.Mkdir(filepath.Join(locks, "sub"), 0o755)
			return filepath.Join(locks, "sub") + "/../a.lock"
		}},
		{name: "leading and trailing spaces", base: " a.lock "},
		{name: "newline in the name", base: "a\nb.lock"},
		{name: "dash first", base: "-a.lock"},
		{name: "host with the separator", base: "a.lock", host: "evil|host|1|x"},
		{name: "host with slashes", base: "a.lock", host: "../../etc/passwd"},
		{name: "host with spaces and unicode", base: "a.lock", host: "hôte d'essai\t\n"},
		{name: "host with NUL", base: "a.lock", host: "a\x00b"},
		{name: "empty host", base: "a.lock", host: ""},
	}
	forBoth(t, func(t *testing.T, p algorithm.Protocol) {
		for _, tt := range tests {
			if tt.only != nil && tt.only != p {
				continue
			}
			want := tt.want
			if w, ok := strictWant[tt.name]; ok && p == algorithm.Strict {
				want = w
			}
			t.Run(tt.name, func(t *testing.T) {
				root, locks, _ := hostileDirs(t)
				lock := filepath.Join(locks, tt.base)
				if tt.path != nil {
					lock = tt.path(locks)
				}
				host := tt.host
				if tt.name != "empty host" && host == "" {
					host = "h"
				}
				before := snapshot(t, root)
				_, release, err := lease.Acquire(hctx(t), lock, fast(p, lease.WithIdentity(host, 1))...)
				if want != nil {
					if !errors.Is(err, want) {
						t.Fatalf("Acquire(%q) = %v, want %v", lock, err, want)
					}
					wantNamesPath(t, err, lock)
					wantSnapshot(t, root, before)
					return
				}
				if err != nil {
					t.Fatalf("Acquire(%q) = %v", lock, err)
				}
				after := snapshot(t, root)
				var created []string
				for name := range after {
					if _, ok := before[name]; !ok {
						created = append(created, name)
					}
				}
				slices.Sort(created)
				rel, _ := filepath.Rel(root, filepath.Clean(lock))
				switch p {
				case algorithm.Strict:
					// The lock directory and its owner record, nothing else.
					if len(created) != 2 || created[0] != rel || created[1] != filepath.Join(rel, "owner") {
						t.Errorf("created %q, want the lock directory and its owner record", created)
					} else if rec := after[created[1]].content; !strings.HasPrefix(rec, "nfslease-strict 1\n") || strings.Count(rec, "\n") != 5 {
						t.Errorf("owner record %q is not one record of five lines", rec)
					}
				default:
					if len(created) != 2 || created[0] != rel || !strings.HasPrefix(created[1], rel+"|") {
						t.Errorf("created %q, want the lock and its claim in the lock directory", created)
					} else if fields := strings.Split(filepath.Base(created[1]), "|"); len(fields) != 4 {
						t.Errorf("claim name %q has %d fields, want 4", created[1], len(fields))
					}
				}
				if err := release(); err != nil {
					t.Fatal(err)
				}
				wantSnapshot(t, root, before)
			})
		}
	})
}

const nameMax = 255

// TestRelativePath takes a lock by a relative name: the claim records the
// absolute path (Python breakers elsewhere must be able to remove it), and
// a later change of the working directory does not move the lock.
func TestRelativePath(t *testing.T) {
	p := algorithm.Flufl // Flufl-specific: see the Strict cases
	_, locks, outside := hostileDirs(t)
	t.Chdir(locks)
	held, release, err := lease.Acquire(hctx(t), "a.lock", fast(p)...)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(locks, "a.lock"))
	if err != nil || !strings.HasPrefix(string(data), filepath.Join(locks, "a.lock")+"|") {
		t.Errorf("lock content = %q, %v; want an absolute claim path", data, err)
	}
	if err := os.Chdir(outside); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a refresh or two from the new working directory
	if context.Cause(held) != nil {
		t.Errorf("lease lost after chdir: %v", context.Cause(held))
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if names := dirNames(t, locks); len(names) != 0 {
		t.Errorf("left behind: %q", names)
	}
	if names := dirNames(t, outside); len(names) != 1 {
		t.Errorf("files in the new working directory: %q", names)
	}
}

// TestMissingDirectory: no parent directory is created; the error wraps
// fs.ErrNotExist and names the path; Acquire does not wait for the
// directory to appear.
func TestMissingDirectory(t *testing.T) {
	forBoth(t, func(t *testing.T, p algorithm.Protocol) {
		root, locks, _ := hostileDirs(t)
		for _, lock := range []string{
			filepath.Join(locks, "nowhere", "a.lock"),
			filepath.Join(locks, "nowhere", "deeper", "a.lock"),
		} {
			before := snapshot(t, root)
			for _, acquire := range []func(context.Context, string, ...lease.Option) (context.Context, func() error, error){lease.Acquire, lease.TryAcquire} {
				_, _, err := acquire(hctx(t), lock, fast(p)...)
				if !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("Acquire(%q) = %v, want fs.ErrNotExist", lock, err)
				}
				wantNamesPath(t, err, lock)
			}
			wantSnapshot(t, root, before)
		}
		// A regular file where the directory should be.
		notDir := write(t, filepath.Join(locks, "file"), []byte("x"))
		before := snapshot(t, root)
		_, _, err := lease.Acquire(hctx(t), filepath.Join(notDir, "a.lock"), fast(p)...)
		if !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("Acquire under a file = %v, want ENOTDIR", err)
		}
		wantNamesPath(t, err, notDir)
		wantSnapshot(t, root, before)
	})
}

// TestInvalidOptionsNamed checks that each invalid option is refused with
// ErrInvalidOption by a message that names the option and the path, before
// anything touches the filesystem.
func TestInvalidOptionsNamed(t *testing.T) {
	tests := []struct {
		name string
		opts []lease.Option
		says string
	}{
		{"zero lifetime", []lease.Option{lease.WithLifetime(0)}, "lifetime"},
		{"negative lifetime", []lease.Option{lease.WithLifetime(-time.Hour)}, "lifetime"},
		{"lifetime under a second", []lease.Option{lease.WithLifetime(time.Millisecond)}, "lifetime"},
		{"lifetime of a century", []lease.Option{lease.WithLifetime(100 * 365 * 24 * time.Hour)}, "lifetime"},
		{"largest duration", []lease.Option{lease.WithLifetime(1<<63 - 1)}, "lifetime"},
		{"renew deadline equal to lifetime", []lease.Option{lease.WithLifetime(time.Minute), lease.WithRenewDeadline(time.Minute)}, "renew deadline"},
		{"renew deadline over lifetime", []lease.Option{lease.WithRenewDeadline(time.Hour)}, "renew deadline"},
		{"negative renew deadline", []lease.Option{lease.WithRenewDeadline(-time.Second)}, "renew deadline"},
		{"refresh equal to renew deadline", []lease.Option{lease.WithRenewDeadline(8 * time.Second), lease.WithRefreshInterval(8 * time.Second)}, "refresh interval"},
		{"refresh over lifetime", []lease.Option{lease.WithRefreshInterval(time.Minute)}, "refresh interval"},
		{"negative refresh", []lease.Option{lease.WithRefreshInterval(-time.Second)}, "refresh interval"},
		{"largest refresh", []lease.Option{lease.WithRefreshInterval(1<<63 - 1)}, "refresh interval"},
		{"negative poll", []lease.Option{lease.WithPollInterval(-time.Second)}, "poll interval"},
		{"sub-millisecond poll", []lease.Option{lease.WithPollInterval(time.Microsecond)}, "poll interval"},
		{"poll over lifetime", []lease.Option{lease.WithPollInterval(time.Hour)}, "poll interval"},
		{"skew of years", []lease.Option{lease.WithSkewAllowance(10 * 365 * 24 * time.Hour)}, "skew allowance"},
		{"setuid mode", []lease.Option{lease.WithFileMode(fs.ModeSetuid | 0o644)}, "file mode"},
		{"sticky mode", []lease.Option{lease.WithFileMode(fs.ModeSticky | 0o644)}, "file mode"},
		{"symlink mode", []lease.Option{lease.WithFileMode(fs.ModeSymlink | 0o644)}, "file mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, locks, _ := hostileDirs(t)
			lock := filepath.Join(locks, "a.lock")
			before := snapshot(t, root)
			for _, acquire := range []func(context.Context, string, ...lease.Option) (context.Context, func() error, error){lease.Acquire, lease.TryAcquire} {
				_, _, err := acquire(hctx(t), lock, tt.opts...)
				if !errors.Is(err, lease.ErrInvalidOption) {
					t.Fatalf("err = %v, want ErrInvalidOption", err)
				}
				if !strings.Contains(err.Error(), tt.says) {
					t.Errorf("error %q does not say %q", err, tt.says)
				}
				wantNamesPath(t, err, lock)
			}
			wantSnapshot(t, root, before)
		})
	}
}

// TestFileModes: lock and claim files (Flufl), or the owner record
// (Strict), get the documented default 0644, or the WithFileMode bits,
// minus the umask; Strict's lock directory gets the same bits plus search
// permission wherever they grant read.
func TestFileModes(t *testing.T) {
	tests := []struct {
		umask int
		opt   fs.FileMode // 0: default
		want  fs.FileMode
	}{
		{0, 0, 0o644},
		{0o022, 0, 0o644},
		{0o077, 0, 0o600},
		{0, 0o660, 0o660},
		{0o002, 0o666, 0o664},
		{0o022, 0o660, 0o640},
		{0, 0o600, 0o600},
		{0, 0o444, 0o444},
	}
	forBoth(t, func(t *testing.T, p algorithm.Protocol) {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("umask %03o mode %03o", tt.umask, tt.opt), func(t *testing.T) {
				// The umask is process-wide; no test of this package runs in
				// parallel with another.
				old := unix.Umask(tt.umask)
				defer unix.Umask(old)
				_, locks, _ := hostileDirs(t)
				lock := filepath.Join(locks, "a.lock")
				opts := fast(p)
				if tt.opt != 0 {
					opts = append(opts, lease.WithFileMode(tt.opt))
				}
				_, release, err := lease.Acquire(hctx(t), lock, opts...)
				if err != nil {
					t.Fatal(err)
				}
				defer release()
				files := dirNames(t, locks)
				if p == algorithm.Strict {
					// The lock is a directory, with search permission
					// wherever the mode grants read, and write and search
					// permission for its owner (before the umask), and
					// the sticky bit (Strict's mark of its generations)
					// unless the mode grants group or other write; its
					// owner record has the file mode.
					fi, err := os.Lstat(lock)
					if err != nil {
						t.Fatal(err)
					}
					want := fs.ModeDir | tt.want | (tt.want&0o444)>>2 | (0o300 &^ fs.FileMode(tt.umask))
					if requested := cmp.Or(tt.opt, 0o644); requested&0o022 == 0 {
						want |= fs.ModeSticky
					}
					if fi.Mode() != want {
						t.Errorf("lock directory: mode %v, want %v", fi.Mode(), want)
					}
					if !slices.Equal(files, []string{"a.lock"}) {
						t.Errorf("files while held = %q, want the lock directory only", files)
					}
					files = []string{"a.lock/owner"}
				}
				for _, name := range files {
					fi, err := os.Lstat(filepath.Join(locks, name))
					if err != nil {
						t.Fatal(err)
					}
					if fi.Mode() != tt.want {
						t.Errorf("%s: mode %v, want %v", name, fi.Mode(), tt.want)
					}
				}
				if err := release(); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

// TestFaultsLeaveNothing injects errors into the real filesystem: full
// disk, quota, I/O errors, before a call or after it was applied (a lost
// reply). Acquire must return an error naming the path (at ctx's deadline
// for a transient error that persists), and leave nothing of ours behind.
func TestFaultsLeaveNothing(t *testing.T) {
	runFaultCases(t, algorithm.Flufl, []faultCase{
		{name: "ENOSPC creating the claim", op: "CreateExcl", err: syscall.ENOSPC, want: syscall.ENOSPC},
		{name: "EDQUOT creating the claim", op: "CreateExcl", err: syscall.EDQUOT, want: syscall.EDQUOT},
		{name: "EROFS creating the claim", op: "CreateExcl", err: syscall.EROFS, want: syscall.EROFS},
		{name: "EACCES creating the claim", op: "CreateExcl", err: syscall.EACCES, want: fs.ErrPermission},
		{name: "EIO creating the claim, every time", op: "CreateExcl", err: syscall.EIO, want: syscall.EIO, transient: true},
		{name: "EIO after creating the claim, every time", op: "CreateExcl", err: syscall.EIO, after: true, want: syscall.EIO, transient: true},
		{name: "EIO after creating the claim, once", op: "CreateExcl", err: syscall.EIO, after: true, times: 1},
		{name: "ENOSPC touching the claim", op: "Chtimes", err: syscall.ENOSPC, want: syscall.ENOSPC},
		{name: "EIO touching the claim, every time", op: "Chtimes", err: syscall.EIO, want: syscall.EIO, transient: true},
		{name: "EIO touching the claim, once", op: "Chtimes", err: syscall.EIO, times: 1},
		{name: "ENOSPC linking", op: "Link", err: syscall.ENOSPC, want: syscall.ENOSPC},
		{name: "EMLINK linking", op: "Link", err: syscall.EMLINK, want: syscall.EMLINK},
		{name: "EIO after linking, once", op: "Link", err: syscall.EIO, after: true, times: 1},
		{name: "EIO linking, every time", op: "Link", err: syscall.EIO, want: syscall.EIO, transient: true},
		{name: "EIO reading the lock back, every time", op: "ReadFile", err: syscall.EIO, want: syscall.EIO, transient: true, leavesLock: true},
		{name: "EIO removing, every time", op: "Remove", err: syscall.EIO},
	})
}

// TestFaultsLeaveNothingStrict is TestFaultsLeaveNothing for the Strict
// protocol's calls: each fault gives an error naming the path (or, once,
// is retried), and whatever happens nothing of ours is left behind. The
// self-test's own scratch directory is not faulted: its faults are the
// self-test's to report.
func TestFaultsLeaveNothingStrict(t *testing.T) {
	runFaultCases(t, algorithm.Strict, []faultCase{
		{name: "ENOSPC making the stage", op: "Mkdir", err: syscall.ENOSPC, want: syscall.ENOSPC},
		{name: "EROFS making the stage", op: "Mkdir", err: syscall.EROFS, want: syscall.EROFS},
		{name: "EACCES making the stage", op: "Mkdir", err: syscall.EACCES, want: fs.ErrPermission},
		{name: "EIO making the stage, every time", op: "Mkdir", err: syscall.EIO, want: syscall.EIO, transient: true},
		{name: "EIO after making the stage, every time", op: "Mkdir", err: syscall.EIO, after: true, want: syscall.EIO, transient: true},
		{name: "EIO after making the stage, once", op: "Mkdir", err: syscall.EIO, after: true, times: 1},
		{name: "EIO opening the stage, once", op: "OpenDir", err: syscall.EIO, times: 1},
		{name: "ENOSPC writing the record", op: "Dir.CreateExcl", err: syscall.ENOSPC, want: syscall.ENOSPC},
		{name: "EDQUOT writing the record", op: "Dir.CreateExcl", err: syscall.EDQUOT, want: syscall.EDQUOT},
		{name: "EIO writing the record, every time", op: "Dir.CreateExcl", err: syscall.EIO, want: syscall.EIO, transient: true},
		{name: "EIO after writing the record, once", op: "Dir.CreateExcl", err: syscall.EIO, after: true, times: 1},
		{name: "ENOSPC touching the record", op: "Dir.Chtimes", err: syscall.ENOSPC, want: syscall.ENOSPC},
		{name: "EIO touching the record, once", op: "Dir.Chtimes", err: syscall.EIO, times: 1},
		{name: "EIO renaming, every time", op: "Rename", err: syscall.EIO, want: syscall.EIO, transient: true},
		{name: "EIO after renaming, once", op: "Rename", err: syscall.EIO, after: true, times: 1},
		{name: "ENOSPC renaming", op: "Rename", err: syscall.ENOSPC, want: syscall.ENOSPC},
	})
}

// faultCase is one fault of TestFaultsLeaveNothing: calls named op fail
// with err, before or after they are applied.
type faultCase struct {
	name      string
	op        string
	err       error
	after     bool
	times     int   // faults to inject; 0: every call
	want      error // nil: acquired after all
	transient bool  // Acquire retries until ctx ends
	// leavesLock: the lock was linked but can never be read back, so it
	// cannot be proven ours and is not removed: it stays, holding our
	// claim, until a waiter judges it stale (Flufl; documented in
	// docs/security.md).
	leavesLock bool
}

// runFaultCases runs each case through Acquire and TryAcquire with
// protocol p: each fault gives an error naming the path (or is retried),
// and whatever happens nothing of ours is left behind. The self-test's
// own scratch directory is not faulted: its faults are the self-test's to
// report.
func runFaultCases(t *testing.T, p algorithm.Protocol, tests []faultCase) {
	for _, tt := range tests {
		for _, try := range []bool{false, true} {
			name := tt.name + "/Acquire"
			if try {
				name = tt.name + "/TryAcquire"
			}
			t.Run(name, func(t *testing.T) {
				root, locks, _ := hostileDirs(t)
				lock := filepath.Join(locks, "a.lock")
				n := 0
				fsys := &fsopstest.Faulty{FS: fsops.OS(), Inject: func(op fsopstest.Op) *fsopstest.Fault {
					if op.Name != tt.op || strings.Contains(op.Path, ".nfslease-selftest.") || (tt.times > 0 && n >= tt.times) {
						return nil
					}
					n++
					return &fsopstest.Fault{Err: tt.err, After: tt.after}
				}}
				before := snapshot(t, root)
				ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
				defer cancel()
				acquire := lease.Acquire
				if try {
					acquire = lease.TryAcquire
				}
				_, release, err := acquire(ctx, lock, fast(p, lease.WithFS(fsys))...)
				switch {
				case tt.want == nil && err == nil:
					rerr := release()
					if tt.op == "Remove" {
						if rerr == nil {
							t.Errorf("release with every remove failing = nil, want an error")
						}
						wantNamesPath(t, rerr, lock)
						// Our files stay: nothing can remove them.
						return
					}
					if rerr != nil {
						t.Errorf("release = %v", rerr)
					}
				case tt.want == nil:
					if try && tt.times > 0 {
						// A single attempt may meet the one fault.
						if !errors.Is(err, tt.err) {
							t.Errorf("TryAcquire = %v, want nil or %v", err, tt.err)
						}
						break
					}
					t.Fatalf("Acquire = %v, want it acquired", err)
				case err == nil:
					release()
					t.Fatalf("acquired, want %v", tt.want)
				default:
					if !errors.Is(err, tt.want) {
						t.Errorf("err = %v, want %v", err, tt.want)
					}
					if tt.transient && !try && !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("err = %v, want it to wrap context.DeadlineExceeded as well", err)
					}
					wantNamesPath(t, err, lock)
				}
				if n == 0 {
					t.Errorf("no %s call was faulted: the case tests nothing", tt.op)
				}
				if tt.leavesLock {
					data, rerr := os.ReadFile(lock)
					if rerr != nil || !strings.HasPrefix(string(data), lock+"|") {
						t.Fatalf("lock = %q, %v; want our claim left in it", data, rerr)
					}
					// The next waiter takes it over once it is stale.
					start := time.Now()
					_, release, err := lease.Acquire(hctx(t), lock, fast(p)...)
					if err != nil {
						t.Fatalf("Acquire over the lock left behind = %v", err)
					}
					t.Logf("taken over after %v", time.Since(start).Round(time.Millisecond))
					if err := release(); err != nil {
						t.Fatal(err)
					}
				}
				wantSnapshot(t, root, before)
			})
		}
	}
}
