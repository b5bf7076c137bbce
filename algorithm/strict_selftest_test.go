package algorithm_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
)

// nth returns an injector that answers the n-th call (from 1) named name
// with err, before or after the call is applied, and counts in *hit the
// faults it injected.
func nth(name string, n int, err error, after bool, hit *int) func(fsopstest.Op) *fsopstest.Fault {
	seen := 0
	return func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name != name {
			return nil
		}
		if seen++; seen != n {
			return nil
		}
		*hit++
		return &fsopstest.Fault{Err: err, After: after}
	}
}

// TestStrictSelfTestReplayedCalls: a call that NFS applied and answered
// with the error of its replay (the reply was lost and the duplicate
// request cache missed) is recognised by reading back. The self-test
// passes, as it does on the same filesystem without the fault, and leaves
// nothing behind.
func TestStrictSelfTestReplayedCalls(t *testing.T) {
	st := algorithm.Strict.(proto.SelfTester)
	tests := []struct {
		name string
		op   string
		n    int
		err  error
	}{
		{"first Dir.Remove answered ENOENT", "Dir.Remove", 1, syscall.ENOENT},
		{"second Rmdir answered ENOENT", "Rmdir", 2, syscall.ENOENT},
		{"first Mkdir answered EEXIST", "Mkdir", 1, syscall.EEXIST},
		{"second Rename answered ENOENT", "Rename", 2, syscall.ENOENT},
	}
	for _, tt := range tests {
		run := func(t *testing.T) (*env, error) {
			e := newEnv(t)
			hit := 0
			e.inject = nth(tt.op, tt.n, tt.err, true, &hit)
			err := st.SelfTest(e.fs, dir, proto.Config{})
			if hit != 1 {
				t.Fatalf("the fault was injected %d times, want once: the self-test's calls changed", hit)
			}
			return e, err
		}
		t.Run(tt.name+"/passes", func(t *testing.T) {
			if _, err := run(t); err != nil {
				t.Fatalf("SelfTest = %v, want nil", err)
			}
		})
		t.Run(tt.name+"/leaves nothing", func(t *testing.T) {
			e, err := run(t)
			if names := e.files(); len(names) != 0 {
				t.Errorf("self-test (%v) left %q", err, names)
			}
		})
	}
}

// replayErr is the error a replay of a call named op answers with, and
// false for calls whose replay changes nothing.
func replayErr(op string) (error, bool) {
	switch op {
	case "Mkdir", "CreateExcl", "Link", "Dir.CreateExcl":
		return syscall.EEXIST, true
	case "Remove", "Rmdir", "Rename", "Dir.Remove":
		return syscall.ENOENT, true
	}
	return nil, false
}

// TestStrictSelfTestFaultSweep faults each call of a self-test in turn:
// answered with EIO before it is applied (a lost request), with EIO after
// (a lost reply), or, for a call that changes the namespace, with the
// error of its replay after. A fault after is recognised by reading back
// and the self-test passes; a fault before passes or gives a transient
// error. Never ErrUnsupportedFS, and never anything left behind.
func TestStrictSelfTestFaultSweep(t *testing.T) {
	st := algorithm.Strict.(proto.SelfTester)
	var ops []fsopstest.Op
	// A fixed source of randomness, so that every run makes the same
	// calls on the same names.
	cfg := func() proto.Config { return proto.Config{Rand: strings.NewReader(strings.Repeat("r", 64))} }
	{
		e := newEnv(t)
		e.inject = func(op fsopstest.Op) *fsopstest.Fault { ops = append(ops, op); return nil }
		if err := st.SelfTest(e.fs, dir, cfg()); err != nil {
			t.Fatal(err)
		}
	}
	if len(ops) < 20 {
		t.Fatalf("the self-test made %d calls: too few to be the whole test", len(ops))
	}
	type kind struct {
		name  string
		err   error
		after bool
	}
	for i, op := range ops {
		kinds := []kind{{"EIO before", syscall.EIO, false}, {"EIO after", syscall.EIO, true}}
		if err, ok := replayErr(op.Name); ok {
			kinds = append(kinds, kind{"replayed", err, true})
		}
		for _, k := range kinds {
			rel := strings.TrimPrefix(op.Path, dir+"/")
			t.Run(fmt.Sprintf("%02d %s %s/%s", i, op.Name, rel, k.name), func(t *testing.T) {
				e := newEnv(t)
				calls, hit := 0, 0
				e.inject = func(o fsopstest.Op) *fsopstest.Fault {
					if calls++; calls-1 != i {
						return nil
					}
					if o != op {
						t.Errorf("call %d is %+v, want %+v as without faults", i, o, op)
					}
					hit++
					return &fsopstest.Fault{Err: k.err, After: k.after}
				}
				err := st.SelfTest(e.fs, dir, cfg())
				if hit != 1 {
					t.Fatalf("the fault was injected %d times, want once", hit)
				}
				switch {
				case errors.Is(err, algorithm.ErrUnsupportedFS):
					t.Errorf("SelfTest = %v, want no ErrUnsupportedFS", err)
				case err != nil && k.after:
					t.Errorf("SelfTest = %v, want nil: the call was applied", err)
				case err != nil && !proto.Transient(err):
					t.Errorf("SelfTest = %v, want nil or a transient error", err)
				case err != nil && !strings.Contains(err.Error(), dir):
					t.Errorf("SelfTest = %v, want it to name %s", err, dir)
				}
				if names := e.files(); len(names) != 0 {
					t.Errorf("self-test (%v) left %q", err, names)
				}
			})
		}
	}
}

// TestStrictSelfTestRefusesDespiteReplies: a filesystem that lacks a
// semantic is refused even when the call that shows it is answered with an
// error (reading back, not the reply, decides), and leaves nothing behind.
func TestStrictSelfTestRefusesDespiteReplies(t *testing.T) {
	st := algorithm.Strict.(proto.SelfTester)
	tests := []struct {
		name string
		opts []fsopstest.MemOption
		fs   func(*fsopstest.Mem) fsops.FS
		op   string // the call faulted, the n-th of its name
		n    int
		err  error
		// after: the call is applied and answered with err; before:
		// answered with err and not applied.
		after bool
	}{
		{"rename replaces a non-empty directory, answered ENOENT", nil,
			func(m *fsopstest.Mem) fsops.FS { return renameReplaces{m} }, "Rename", 1, syscall.ENOENT, true},
		{"rmdir removes a non-empty directory, answered ENOENT", nil,
			func(m *fsopstest.Mem) fsops.FS { return rmdirAll{m} }, "Rmdir", 1, syscall.ENOENT, true},
		{"handles follow the name, remove answered ENOENT", nil,
			func(m *fsopstest.Mem) fsops.FS { return nameBound{m} }, "Dir.Remove", 2, syscall.ENOENT, true},
		{"sshfs: path inodes, link answered EPERM", []fsopstest.MemOption{fsopstest.WithPathInodes(), fsopstest.WithEPERMForEEXIST()},
			func(m *fsopstest.Mem) fsops.FS { return m }, "Link", 1, syscall.EPERM, true},
		{"no rename onto an empty directory", nil,
			func(m *fsopstest.Mem) fsops.FS { return noReplaceDir{m} }, "", 0, nil, false},
		{"rename onto an empty directory fails with ENOENT", nil,
			func(m *fsopstest.Mem) fsops.FS { return m }, "Rename", 2, syscall.ENOENT, false},
		{"no hard links, answered ENOSYS", nil,
			func(m *fsopstest.Mem) fsops.FS { return m }, "Link", 1, syscall.ENOSYS, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, tt.opts...)
			hit := 0
			fsys := &fsopstest.Faulty{FS: tt.fs(e.mem), Inject: nth(tt.op, tt.n, tt.err, tt.after, &hit)}
			err := st.SelfTest(fsys, dir, proto.Config{})
			if tt.op != "" && hit != 1 {
				t.Fatalf("the fault was injected %d times, want once", hit)
			}
			if !errors.Is(err, algorithm.ErrUnsupportedFS) || !strings.Contains(err.Error(), dir) {
				t.Errorf("SelfTest = %v, want ErrUnsupportedFS naming %s", err, dir)
			}
			if names := e.files(); len(names) != 0 {
				t.Errorf("self-test (%v) left %q", err, names)
			}
		})
	}
}

// TestStrictSelfTestTransientIsNotUnsupported: a transient error of a
// call whose outcome decides a check is returned as a transient error,
// naming the directory, and not as ErrUnsupportedFS.
func TestStrictSelfTestTransientIsNotUnsupported(t *testing.T) {
	st := algorithm.Strict.(proto.SelfTester)
	for _, tt := range []struct {
		name string
		op   string
		n    int
	}{
		{"rename onto an empty directory", "Rename", 2},
		{"link", "Link", 1},
		{"mkdir of the scratch directory", "Mkdir", 1},
		{"remove through the handle", "Dir.Remove", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			hit := 0
			e.inject = nth(tt.op, tt.n, syscall.ESTALE, false, &hit)
			err := st.SelfTest(e.fs, dir, proto.Config{})
			if hit != 1 {
				t.Fatalf("the fault was injected %d times, want once", hit)
			}
			if !proto.Transient(err) || errors.Is(err, algorithm.ErrUnsupportedFS) || !strings.Contains(err.Error(), dir) {
				t.Errorf("SelfTest = %v, want a transient error naming %s, not ErrUnsupportedFS", err, dir)
			}
			if names := e.files(); len(names) != 0 {
				t.Errorf("self-test (%v) left %q", err, names)
			}
		})
	}
}

// renameReplaces is a filesystem whose rename of a directory onto a
// non-empty one empties the target and replaces it.
type renameReplaces struct{ *fsopstest.Mem }

func (f renameReplaces) Rename(oldname, newname string) error {
	if fi, err := f.Lstat(newname); err == nil && fi.Mode.IsDir() {
		names, _ := f.ReadDir(newname)
		for _, n := range names {
			f.Remove(filepath.Join(newname, n))
		}
	}
	return f.Mem.Rename(oldname, newname)
}

// noReplaceDir is a filesystem whose rename of a directory onto an
// existing one always fails.
type noReplaceDir struct{ *fsopstest.Mem }

func (f noReplaceDir) Rename(oldname, newname string) error {
	if fi, err := f.Lstat(newname); err == nil && fi.Mode.IsDir() {
		return fmt.Errorf("rename %s %s: %w", oldname, newname, syscall.EEXIST)
	}
	return f.Mem.Rename(oldname, newname)
}

// TestStrictSelfTestLateDuplicates: on NFS a call can be executed again
// long after its reply (a late duplicate that the server's duplicate
// request cache missed: docs/nfs.md). Each case applies such a duplicate
// of an earlier call just before a later one; the self-test still passes
// on a filesystem that has every semantic, and leaves nothing behind.
func TestStrictSelfTestLateDuplicates(t *testing.T) {
	st := algorithm.Strict.(proto.SelfTester)
	scratch := dir + "/.nfslease-selftest.7272727272727272" // hex of "rrrrrrrr"
	a, b := scratch+"/a", scratch+"/b"
	tests := []struct {
		name   string
		op     string // before the n-th call named op on path,
		path   string
		n      int
		replay func(m *fsopstest.Mem) error // this is executed
	}{
		{"rename of a onto b, once b is removed", "Mkdir", b, 2,
			func(m *fsopstest.Mem) error { return m.Rename(a, b) }},
		{"create of b/x, after its removal through the handle", "Rmdir", b, 2,
			func(m *fsopstest.Mem) error { _, err := m.CreateExcl(b+"/x", []byte("b"), 0o600); return err }},
		{"rmdir of b, once b is made again", "CreateExcl", b + "/y", 1,
			func(m *fsopstest.Mem) error { return m.Rmdir(b) }},
		{"create of b/y, during the cleanup", "Rmdir", b, 3,
			func(m *fsopstest.Mem) error { _, err := m.CreateExcl(b+"/y", []byte("new"), 0o600); return err }},
		{"mkdir of b, during the cleanup", "Rmdir", scratch, 1,
			func(m *fsopstest.Mem) error { return m.Mkdir(b, 0o700) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			seen, replayed := 0, false
			e.inject = func(op fsopstest.Op) *fsopstest.Fault {
				if op.Name != tt.op || op.Path != tt.path {
					return nil
				}
				if seen++; seen == tt.n {
					if err := tt.replay(e.mem); err != nil {
						t.Errorf("the late duplicate failed: %v", err)
					}
					replayed = true
				}
				return nil
			}
			err := st.SelfTest(e.fs, dir, proto.Config{Rand: strings.NewReader("rrrrrrrr")})
			if !replayed {
				t.Fatalf("no call %d named %s on %s: the self-test's calls changed", tt.n, tt.op, tt.path)
			}
			if err != nil {
				t.Errorf("SelfTest = %v, want nil", err)
			}
			if names := e.files(); len(names) != 0 {
				t.Errorf("self-test (%v) left %q", err, names)
			}
		})
	}
}
