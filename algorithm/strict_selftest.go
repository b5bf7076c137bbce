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
// cannot reach a new directory created at the old name. It returns an
// error wrapping ErrUnsupportedFS if one fails, and other errors (no
// permission, no space, EIO) as they come.
func (strictProtocol) SelfTest(fsys fsops.FS, dir string, cfg proto.Config) (err error) {
	random := make([]byte, 8)
	if _, err := io.ReadFull(randOf(cfg), random); err != nil {
		return fmt.Errorf("algorithm: reading randomness: %w", err)
	}
	scratch := filepath.Join(dir, ".nfslease-selftest."+hex.EncodeToString(random))
	a, b, c := scratch+"/a", scratch+"/b", scratch+"/c"
	unsupported := func(what string, got error) error {
		if got != nil {
			what += " (" + got.Error() + ")"
		}
		return fmt.Errorf("algorithm: the filesystem of %s cannot run the strict protocol: %s: %w; use algorithm.Flufl there",
			dir, what, proto.ErrUnsupportedFS)
	}
	if t, ok := fsys.(fsops.Typer); ok {
		if typ, err := t.FSType(dir); err == nil && strings.HasPrefix(typ, "fuse") && !boundHandleFUSE(typ) {
			return unsupported("it is a FUSE filesystem ("+typ+"), whose directory handles may resolve paths at each call; only GlusterFS's are known to stay bound", nil)
		}
	}
	if err := fsys.Mkdir(scratch, 0o700); err != nil {
		return fmt.Errorf("algorithm: strict protocol self-test in %s: %w", dir, err)
	}
	defer func() {
		// Clean up whatever the steps left, best effort, in any order.
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
	step := func(err error) error {
		if err != nil {
			return fmt.Errorf("algorithm: strict protocol self-test in %s: %w", dir, err)
		}
		return nil
	}
	for _, d := range []string{a, b} {
		if err := step(fsys.Mkdir(d, 0o700)); err != nil {
			return err
		}
	}
	if err := step(fsys.CreateExcl(b+"/x", []byte("b"), 0o600)); err != nil {
		return err
	}
	if err := fsys.Rename(a, b); err == nil {
		return unsupported("rename of a directory onto a non-empty one succeeded", err)
	}
	if data, _, err := fsys.ReadFile(b+"/x", 16); err != nil || string(data) != "b" {
		return unsupported("a failed rename of a directory changed its target", err)
	}
	if err := fsys.Rmdir(b); err == nil {
		return unsupported("rmdir of a non-empty directory succeeded", err)
	}
	h, err := fsys.OpenDir(b)
	if errors.Is(err, errors.ErrUnsupported) {
		return unsupported("directory handles are not supported on this platform", err)
	}
	if err := step(err); err != nil {
		return err
	}
	defer h.Close()
	if err := step(h.Remove("x")); err != nil {
		return err
	}
	if err := step(fsys.Rmdir(b)); err != nil {
		return err
	}
	if err := step(fsys.Mkdir(b, 0o700)); err != nil {
		return err
	}
	if err := step(fsys.CreateExcl(b+"/y", []byte("new"), 0o600)); err != nil {
		return err
	}
	if err := h.Remove("y"); err == nil {
		return unsupported("a call through the handle of a removed directory reached the new directory at its name", nil)
	}
	if data, _, err := fsys.ReadFile(b+"/y", 16); err != nil || string(data) != "new" {
		return unsupported("a call through the handle of a removed directory changed the new directory at its name", err)
	}
	// A FUSE filesystem that speaks paths to its server (sshfs, and
	// others on libfuse's high-level API) resolves a handle's path again
	// at each call: a handle of this mount then reaches a directory that
	// another client has put at that name since. Within one mount it
	// cannot be seen (the mount's own renames and removals update its
	// table). Two heuristics catch it: the kind of filesystem, where the
	// FS can tell (fsops.Typer), and inode numbers, which such
	// filesystems usually derive from paths, so that two hard links of
	// one file show different ones. A filesystem without hard links
	// cannot be checked, and is refused.
	switch err := fsys.Link(b+"/y", b+"/z"); {
	case errors.Is(err, syscall.ENOSYS), errors.Is(err, syscall.EPERM), errors.Is(err, errors.ErrUnsupported),
		errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EMLINK):
		return unsupported("hard links fail, so it cannot be checked that directory handles stay bound to their directory", err)
	case err != nil:
		return step(err)
	}
	fy, erry := fsys.Lstat(b + "/y")
	fz, errz := fsys.Lstat(b + "/z")
	_ = fsys.Remove(b + "/z")
	if err := step(errors.Join(erry, errz)); err != nil {
		return err
	}
	if !fsops.SameFile(fy, fz) {
		return unsupported("two hard links of one file show different inode numbers, the mark of a filesystem that resolves paths at each call (sshfs): a directory handle there can reach a newer generation at its name", nil)
	}
	if err := step(fsys.Mkdir(c, 0o700)); err != nil {
		return err
	}
	if err := step(fsys.CreateExcl(a+"/x", []byte("a"), 0o600)); err != nil {
		return err
	}
	if err := fsys.Rename(a, c); err != nil {
		return unsupported("rename of a directory onto an empty one failed", err)
	}
	if data, _, err := fsys.ReadFile(c+"/x", 16); err != nil || string(data) != "a" {
		return unsupported("rename of a directory onto an empty one did not move it", err)
	}
	return nil
}
