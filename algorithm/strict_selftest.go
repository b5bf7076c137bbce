package algorithm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// boundHandleFUSE reports whether the FUSE filesystem of type typ is
// known to bind handles to the file rather than resolve a path at each
// call: GlusterFS's FUSE client identifies files by their GFID.
func boundHandleFUSE(typ string) bool { return typ == "fuse.glusterfs" }

// SelfTest checks, in a scratch directory it creates in dir and removes
// again, the semantics Strict relies on: rename(2) of a directory onto a
// non-empty one fails and changes nothing; rmdir(2) of a non-empty
// directory fails; a directory onto an empty one replaces it; and a
// directory handle stays bound to its directory, so that a call through it
// cannot reach a new directory created at the old name, which it can only
// check within one mount: it also refuses FUSE filesystems other than
// GlusterFS, where the FS tells its type (fsops.Typer), and filesystems
// whose hard links show different inode numbers or that have none (the
// marks of handles that resolve paths at each call, as sshfs's do). It
// returns an error wrapping ErrUnsupportedFS if one fails, and other errors
// (no permission, no space, EIO) as they come.
func (strictProtocol) SelfTest(fsys fsops.FS, dir string, cfg proto.Config) (err error) {
	random := make([]byte, 8)
	if _, err := io.ReadFull(randOf(cfg), random); err != nil {
		return fmt.Errorf("algorithm: reading randomness: %w", err)
	}
	scratch := filepath.Join(dir, ".nfslease-selftest."+hex.EncodeToString(random))
	st := &selfTest{fs: fsys, dir: dir, a: scratch + "/a", b: scratch + "/b", c: scratch + "/c"}
	if err := st.fuseType(); err != nil {
		return err
	}
	if err := fsys.Mkdir(scratch, 0o700); err != nil {
		return fmt.Errorf("algorithm: strict protocol self-test in %s: %w", dir, err)
	}
	defer func() {
		// Clean up whatever the steps left, best effort, in any order.
		a, b, c := st.a, st.b, st.c
		for _, f := range []string{a + "/x", b + "/x", c + "/x", b + "/y", b + "/z"} {
			_ = fsys.Remove(f)
		}
		for _, d := range []string{a, b, c, scratch} {
			_ = fsys.Rmdir(d)
		}
		if _, lerr := fsys.Lstat(scratch); lerr == nil && err == nil {
			err = fmt.Errorf("algorithm: strict protocol self-test could not remove %s", scratch)
		}
	}()
	for _, check := range []func() error{st.noReplaceNonEmpty, st.boundHandle, st.hardLinkInodes, st.replaceEmpty} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// selfTest is one run of Strict's self-test: the checks run in order in
// the scratch directories a, b and c, each starting from what the one
// before left.
type selfTest struct {
	fs      fsops.FS
	dir     string // the directory tested
	a, b, c string // scratch directories
}

// unsupported is the error for a semantic the filesystem lacks; got is
// what the call returned, if anything.
func (st *selfTest) unsupported(what string, got error) error {
	if got != nil {
		what += " (" + got.Error() + ")"
	}
	return fmt.Errorf("algorithm: the filesystem of %s cannot run the strict protocol: %s: %w; use algorithm.Flufl there",
		st.dir, what, proto.ErrUnsupportedFS)
}

// step wraps the error of a call that should simply succeed.
func (st *selfTest) step(err error) error {
	if err != nil {
		return fmt.Errorf("algorithm: strict protocol self-test in %s: %w", st.dir, err)
	}
	return nil
}

// fuseType refuses a FUSE filesystem other than GlusterFS, where the FS
// can tell its type (fsops.Typer).
func (st *selfTest) fuseType() error {
	if t, ok := st.fs.(fsops.Typer); ok {
		if typ, err := t.FSType(st.dir); err == nil && strings.HasPrefix(typ, "fuse") && !boundHandleFUSE(typ) {
			return st.unsupported("it is a FUSE filesystem ("+typ+"), whose directory handles may resolve paths at each call; only GlusterFS's are known to stay bound", nil)
		}
	}
	return nil
}

// noReplaceNonEmpty: rename of a directory onto a non-empty one fails and
// changes nothing, and rmdir of a non-empty directory fails. It leaves a
// empty, and b holding x.
func (st *selfTest) noReplaceNonEmpty() error {
	fsys, a, b := st.fs, st.a, st.b
	for _, d := range []string{a, b} {
		if err := st.step(fsys.Mkdir(d, 0o700)); err != nil {
			return err
		}
	}
	if err := st.step(fsys.CreateExcl(b+"/x", []byte("b"), 0o600)); err != nil {
		return err
	}
	if err := fsys.Rename(a, b); err == nil {
		return st.unsupported("rename of a directory onto a non-empty one succeeded", err)
	}
	if data, _, err := fsys.ReadFile(b+"/x", 16); err != nil || string(data) != "b" {
		return st.unsupported("a failed rename of a directory changed its target", err)
	}
	if err := fsys.Rmdir(b); err == nil {
		return st.unsupported("rmdir of a non-empty directory succeeded", err)
	}
	return nil
}

// boundHandle: a handle on b stays bound to it once b is removed, so that
// a call through it cannot reach a new directory created at b's name. It
// leaves b a new directory holding y.
func (st *selfTest) boundHandle() error {
	fsys, b := st.fs, st.b
	h, err := fsys.OpenDir(b)
	if errors.Is(err, errors.ErrUnsupported) {
		return st.unsupported("directory handles are not supported on this platform", err)
	}
	if err := st.step(err); err != nil {
		return err
	}
	defer h.Close()
	if err := st.step(h.Remove("x")); err != nil {
		return err
	}
	if err := st.step(fsys.Rmdir(b)); err != nil {
		return err
	}
	if err := st.step(fsys.Mkdir(b, 0o700)); err != nil {
		return err
	}
	if err := st.step(fsys.CreateExcl(b+"/y", []byte("new"), 0o600)); err != nil {
		return err
	}
	if err := h.Remove("y"); err == nil {
		return st.unsupported("a call through the handle of a removed directory reached the new directory at its name", nil)
	}
	if data, _, err := fsys.ReadFile(b+"/y", 16); err != nil || string(data) != "new" {
		return st.unsupported("a call through the handle of a removed directory changed the new directory at its name", err)
	}
	return nil
}

// hardLinkInodes: two hard links of one file show one inode number.
//
// A FUSE filesystem that speaks paths to its server (sshfs, and others on
// libfuse's high-level API) resolves a handle's path again at each call: a
// handle of this mount then reaches a directory that another client has
// put at that name since. Within one mount it cannot be seen (the mount's
// own renames and removals update its table), so boundHandle passes. Two
// heuristics catch it: the kind of filesystem, where the FS can tell
// (fuseType), and inode numbers, which such filesystems usually derive
// from paths, so that two hard links of one file show different ones. A
// filesystem without hard links cannot be checked, and is refused.
func (st *selfTest) hardLinkInodes() error {
	fsys, b := st.fs, st.b
	switch err := fsys.Link(b+"/y", b+"/z"); {
	case errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.EPERM), errors.Is(err, errors.ErrUnsupported),
		errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EMLINK):
		return st.unsupported("hard links fail, so it cannot be checked that directory handles stay bound to their directory", err)
	case err != nil:
		return st.step(err)
	}
	fy, erry := fsys.Lstat(b + "/y")
	fz, errz := fsys.Lstat(b + "/z")
	_ = fsys.Remove(b + "/z")
	if err := st.step(errors.Join(erry, errz)); err != nil {
		return err
	}
	if !fsops.SameFile(fy, fz) {
		return st.unsupported("two hard links of one file show different inode numbers, the mark of a filesystem that resolves paths at each call (sshfs): a directory handle there can reach a newer generation at its name", nil)
	}
	return nil
}

// replaceEmpty: rename of a directory onto an empty one replaces it.
func (st *selfTest) replaceEmpty() error {
	fsys, a, c := st.fs, st.a, st.c
	if err := st.step(fsys.Mkdir(c, 0o700)); err != nil {
		return err
	}
	if err := st.step(fsys.CreateExcl(a+"/x", []byte("a"), 0o600)); err != nil {
		return err
	}
	if err := fsys.Rename(a, c); err != nil {
		return st.unsupported("rename of a directory onto an empty one failed", err)
	}
	if data, _, err := fsys.ReadFile(c+"/x", 16); err != nil || string(data) != "a" {
		return st.unsupported("rename of a directory onto an empty one did not move it", err)
	}
	return nil
}
