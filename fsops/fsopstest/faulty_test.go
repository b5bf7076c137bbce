package fsopstest

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// TestFaultyPassThrough runs the conformance suite through a Faulty that
// injects nothing, either way it can say so.
func TestFaultyPassThrough(t *testing.T) {
	for name, inject := range map[string]func(Op) *Fault{
		"nil Inject": nil,
		"nil Fault":  func(Op) *Fault { return nil },
	} {
		t.Run(name, func(t *testing.T) {
			TestFS(t, func(t *testing.T) (fsops.FS, Setup, string) {
				m := NewMem(newTestClock())
				mustDo(t, m.MkdirAll("/work", 0o755))
				return &Faulty{FS: m, Inject: inject}, m, "/work"
			})
		})
	}
}

// TestFaultyBeforeAndAfter checks, for every method, that a fault before
// the call leaves the FS alone and a fault after it lets the call apply,
// and that both return the injected error in the FS's error type.
func TestFaultyBeforeAndAfter(t *testing.T) {
	mtime := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		op   Op
		call func(f fsops.FS) error
		// applied reports whether the call took effect; nil for calls
		// that have none.
		applied func(m *Mem) bool
	}{
		{
			Op{Name: "CreateExcl", Path: "/new"},
			func(f fsops.FS) error { _, err := f.CreateExcl("/new", []byte("x"), 0o644); return err },
			func(m *Mem) bool { return m.Exists("/new") },
		},
		{
			Op{Name: "Link", Path: "/a", Path2: "/b"},
			func(f fsops.FS) error { return f.Link("/a", "/b") },
			func(m *Mem) bool { return m.Exists("/b") },
		},
		{
			Op{Name: "Rename", Path: "/a", Path2: "/b"},
			func(f fsops.FS) error { return f.Rename("/a", "/b") },
			func(m *Mem) bool { return !m.Exists("/a") },
		},
		{
			// A rename without replacing is faulted as a Rename.
			Op{Name: "Rename", Path: "/a", Path2: "/b"},
			func(f fsops.FS) error { return f.(fsops.NoReplaceRenamer).RenameNoReplace("/a", "/b") },
			func(m *Mem) bool { return !m.Exists("/a") },
		},
		{
			Op{Name: "Chtimes", Path: "/a"},
			func(f fsops.FS) error { return f.Chtimes("/a", mtime, mtime) },
			func(m *Mem) bool { fi, _ := m.Lstat("/a"); return fi.ModTime.Equal(mtime) },
		},
		{
			Op{Name: "Remove", Path: "/a"},
			func(f fsops.FS) error { return f.Remove("/a") },
			func(m *Mem) bool { return !m.Exists("/a") },
		},
		{
			Op{Name: "Lstat", Path: "/a"},
			func(f fsops.FS) error {
				fi, err := f.Lstat("/a")
				if fi != (fsops.FileInfo{}) {
					t.Errorf("faulted Lstat returned %+v", fi)
				}
				return err
			},
			nil,
		},
		{
			Op{Name: "ReadFile", Path: "/a"},
			func(f fsops.FS) error {
				data, fi, err := f.ReadFile("/a", 10)
				if data != nil || fi != (fsops.FileInfo{}) {
					t.Errorf("faulted ReadFile returned %q, %+v", data, fi)
				}
				return err
			},
			nil,
		},
	}
	for _, tc := range tests {
		for _, after := range []bool{false, true} {
			name := tc.op.Name + "/before"
			if after {
				name = tc.op.Name + "/after"
			}
			t.Run(name, func(t *testing.T) {
				m := NewMem(newTestClock())
				mustDo(t, m.WriteFile("/a", []byte("a"), 0o644))
				var seen []Op
				f := &Faulty{FS: m, Inject: func(op Op) *Fault {
					seen = append(seen, op)
					return &Fault{Err: syscall.EIO, After: after}
				}}
				err := tc.call(f)
				if len(seen) != 1 || seen[0] != tc.op {
					t.Errorf("Inject saw %+v, want just %+v", seen, tc.op)
				}
				if tc.op.Path2 != "" {
					wantLinkError(t, err, tc.op.Path, tc.op.Path2, syscall.EIO)
				} else {
					wantPathError(t, err, tc.op.Path, syscall.EIO)
				}
				if tc.applied != nil && tc.applied(m) != after {
					t.Errorf("call applied: %v, want %v", !after, after)
				}
			})
		}
	}
}

func TestFaultyErrors(t *testing.T) {
	given := &fs.PathError{Op: "open", Path: "/a", Err: syscall.ESTALE}
	custom := errors.New("custom")
	tests := []struct {
		name   string
		err    error
		wantIs error
		wantOp string
	}{
		{"nil is EIO", nil, syscall.EIO, "remove"},
		{"errno", syscall.ENOSPC, syscall.ENOSPC, "remove"},
		{"non-errno", custom, custom, "remove"},
		{"PathError as is", given, syscall.ESTALE, "open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMem(newTestClock())
			f := &Faulty{FS: m, Inject: func(Op) *Fault { return &Fault{Err: tc.err} }}
			err := f.Remove("/a")
			wantPathError(t, err, "/a", tc.wantIs)
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Op != tc.wantOp {
				t.Errorf("Op = %q, want %q", pe.Op, tc.wantOp)
			}
			if tc.err == given && err != given {
				t.Errorf("error = %#v, want the given *fs.PathError itself", err)
			}
		})
	}
}

// TestFaultySelective injects a lost link reply, the case that makes NFS
// lock protocols read back: the link exists although Link failed, and
// other calls are untouched.
func TestFaultySelective(t *testing.T) {
	m := NewMem(newTestClock())
	mustDo(t, m.WriteFile("/claim", []byte("claim"), 0o644))
	f := &Faulty{FS: m, Inject: func(op Op) *Fault {
		if op.Name == "Link" {
			return &Fault{Err: syscall.EIO, After: true}
		}
		return nil
	}}
	if err := f.Link("/claim", "/lock"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Link = %v, want EIO", err)
	}
	data, fi, err := f.ReadFile("/lock", 100)
	if err != nil || string(data) != "claim" || fi.Nlink != 2 {
		t.Errorf("ReadFile of the lock = %q, %+v, %v; want the claim with 2 links", data, fi, err)
	}
}

// typedMem is a Mem that says which kind of filesystem it is.
type typedMem struct {
	*Mem
	typ string
}

func (m typedMem) FSType(string) (string, error) { return m.typ, nil }

// TestFaultyFSType: a Faulty reports the type of the filesystem it wraps,
// unfaulted, and says plainly when that filesystem cannot tell.
func TestFaultyFSType(t *testing.T) {
	inject := func(Op) *Fault { return &Fault{} } // fault every call it can
	f := &Faulty{FS: typedMem{NewMem(newTestClock()), "fuse.sshfs"}, Inject: inject}
	if typ, err := f.FSType("/"); err != nil || typ != "fuse.sshfs" {
		t.Errorf("FSType over a Typer = %q, %v; want fuse.sshfs, nil", typ, err)
	}
	f = &Faulty{FS: NewMem(newTestClock()), Inject: inject}
	if typ, err := f.FSType("/"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("FSType over a Mem = %q, %v; want an error wrapping errors.ErrUnsupported", typ, err)
	}
}

func TestFaultyRenameNoReplace(t *testing.T) {
	// Over an FS without the method: unsupported, nothing changed, no
	// fault consulted.
	m := NewMem(newTestClock())
	mustDo(t, m.WriteFile("/a", []byte("A"), 0o644))
	f := &Faulty{FS: struct{ fsops.FS }{m}, Inject: func(Op) *Fault {
		t.Error("a fault was consulted for an unsupported call")
		return nil
	}}
	if err := f.RenameNoReplace("/a", "/b"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("RenameNoReplace over an FS without it = %v, want an error wrapping errors.ErrUnsupported", err)
	}
	if !m.Exists("/a") || m.Exists("/b") {
		t.Error("an unsupported RenameNoReplace changed the FS")
	}
}
