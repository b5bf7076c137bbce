package algorithm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
//
// Like the protocol's steps, it never trusts the error of a call that
// changes the namespace: on NFS such a call can be applied and answered
// with the error of its replay (EEXIST, ENOENT). It establishes each
// step's outcome by reading back, and judges the filesystem only on what
// it read. A transient error (proto.Transient) it cannot resolve so is
// returned as it came, never as ErrUnsupportedFS. It removes the scratch
// directory on every path, retrying transient errors; a late duplicate of
// its mkdir executed after it returned can still make it again (empty).
func (strictProtocol) SelfTest(fsys fsops.FS, dir string, cfg proto.Config) (err error) {
	random := make([]byte, 8)
	if _, err := io.ReadFull(randOf(cfg), random); err != nil {
		return fmt.Errorf("algorithm: reading randomness: %w", err)
	}
	scratch := filepath.Join(dir, ".nfslease-selftest."+hex.EncodeToString(random))
	st := &selfTest{fs: fsys, dir: dir, scratch: scratch, a: scratch + "/a", b: scratch + "/b", c: scratch + "/c", d: scratch + "/d"}
	if err := st.fuseType(); err != nil {
		return err
	}
	defer func() { err = st.cleanup(err) }()
	if err := st.mkdirScratch(); err != nil {
		return err
	}
	for _, check := range []func() error{st.noReplaceNonEmpty, st.boundHandle, st.hardLinkInodes, st.replaceEmpty} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// scratchState is what is known of the scratch directory.
type scratchState int

const (
	scratchAbsent  scratchState = iota // not made (or not ours): nothing to remove
	scratchUnknown                     // our mkdir may have been applied: an empty directory at most
	scratchMade                        // ours: the steps may have filled it
)

// selfTest is one run of Strict's self-test: the checks run in order in
// the scratch directories a, b, c and d, each starting from what the one
// before left.
//
// On NFS a call can also be executed again long after its reply (a late
// duplicate the server's duplicate request cache missed), so no check
// relies on a name that an earlier check's calls may still change, but
// where it must: replaceEmpty renames d, not a, which a late rename of a
// onto b, once b is removed, moves away.
type selfTest struct {
	fs         fsops.FS
	dir        string // the directory tested
	scratch    string // the scratch directory, in dir
	state      scratchState
	a, b, c, d string // scratch directories, in scratch
}

// cleanup removes what the steps may have left in the scratch directory,
// whatever they returned (err), and then the scratch directory itself.
// Everything in it is ours: we made it, and no one else uses its random
// name. rmdir removes nothing but an empty directory.
//
// The steps' own names go first; whatever is still there then (a late
// duplicate of an earlier call, executed again, may have made it) is
// found by listing, for a few rounds.
func (st *selfTest) cleanup(err error) error {
	fsys := st.fs
	switch st.state {
	case scratchAbsent:
		return err
	case scratchMade:
		a, b, c, d := st.a, st.b, st.c, st.d
		for _, f := range []string{a + "/x", b + "/x", c + "/x", d + "/x", b + "/y", b + "/z"} {
			_ = retry(func() error { return fsys.Remove(f) })
		}
		for _, d := range []string{a, b, c, d} {
			_ = retry(func() error { return fsys.Rmdir(d) })
		}
	}
	for round := 0; ; round++ {
		rerr := retry(func() error { return fsys.Rmdir(st.scratch) })
		if rerr == nil || errors.Is(rerr, fs.ErrNotExist) || st.state != scratchMade || round == 3 {
			break
		}
		st.removeAll(st.scratch, 2)
	}
	if _, lerr := st.lstat(st.scratch); lerr == nil && err == nil {
		err = fmt.Errorf("algorithm: strict protocol self-test could not remove %s", st.scratch)
	}
	return err
}

// removeAll removes, best effort, what the directory d in the scratch
// directory holds, down to depth levels.
func (st *selfTest) removeAll(d string, depth int) {
	names, err := retry1(func() ([]string, error) { return st.fs.ReadDir(d) })
	if err != nil {
		return
	}
	for _, n := range names {
		p := d + "/" + n
		fi, err := st.lstat(p)
		switch {
		case err != nil:
		case fi.Mode.IsDir() && depth > 1:
			st.removeAll(p, depth-1)
			_ = retry(func() error { return st.fs.Rmdir(p) })
		case !fi.Mode.IsDir():
			_ = retry(func() error { return st.fs.Remove(p) })
		}
	}
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

// unread is the error for a call (whose error was callErr, if any) whose
// outcome could not be read back (readErr). The call's error is returned,
// unless the read failed transiently and the call did not: then only the
// read's error is wrapped, since it decides whether to retry.
func (st *selfTest) unread(callErr, readErr error) error {
	switch {
	case callErr == nil:
		return st.step(readErr)
	case proto.Transient(readErr) && !proto.Transient(callErr):
		return st.step(fmt.Errorf("%v; reading back: %w", callErr, readErr))
	}
	return st.step(callErr)
}

// settle decides a call that changes the namespace by reading back: nil if
// it succeeded or applied reports that it was applied (answered with the
// error of a replay, or with a transient one), the call's error if it was
// not applied, and the read's error if the outcome cannot be read.
func (st *selfTest) settle(callErr error, applied func() (bool, error)) error {
	if callErr == nil {
		return nil
	}
	ok, err := applied()
	switch {
	case err != nil:
		return st.unread(callErr, err)
	case ok:
		return nil
	}
	return st.step(callErr)
}

// The reads that establish outcomes change nothing, so they are retried
// while they fail transiently.

func (st *selfTest) lstat(name string) (fi fsops.FileInfo, err error) {
	err = retry(func() error { fi, err = st.fs.Lstat(name); return err })
	return fi, err
}

func (st *selfTest) readFile(name string) (data []byte, err error) {
	err = retry(func() error { data, _, err = st.fs.ReadFile(name, 16); return err })
	return data, err
}

// exists reports whether something is at name.
func (st *selfTest) exists(name string) (bool, error) {
	switch _, err := st.lstat(name); {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// holds reports whether the file name holds data.
func (st *selfTest) holds(name, data string) (bool, error) {
	switch got, err := st.readFile(name); {
	case err == nil:
		return string(got) == data, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// isDir reports whether a directory is at name.
func (st *selfTest) isDir(name string) (bool, error) {
	switch fi, err := st.lstat(name); {
	case err == nil:
		return fi.Mode.IsDir(), nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// mkdir makes the scratch subdirectory d.
func (st *selfTest) mkdir(d string) error {
	return st.settle(st.fs.Mkdir(d, 0o700), func() (bool, error) { return st.isDir(d) })
}

// create creates the file name holding data.
func (st *selfTest) create(name, data string) error {
	_, err := st.fs.CreateExcl(name, []byte(data), 0o600)
	return st.settle(err, func() (bool, error) { return st.holds(name, data) })
}

// mkdirScratch makes the scratch directory. Its name is random: an empty
// directory there is our own mkdir, applied and answered with an error;
// one with entries is not ours, and is left alone.
func (st *selfTest) mkdirScratch() error {
	merr := st.fs.Mkdir(st.scratch, 0o700)
	if merr == nil {
		st.state = scratchMade
		return nil
	}
	st.state = scratchUnknown
	ok, err := st.isDir(st.scratch)
	if err != nil {
		return st.unread(merr, err)
	}
	if !ok {
		st.state = scratchAbsent
		return st.step(merr)
	}
	names, err := retry1(func() ([]string, error) { return st.fs.ReadDir(st.scratch) })
	switch {
	case err != nil:
		return st.unread(merr, err)
	case len(names) > 0:
		st.state = scratchAbsent
		return st.step(merr)
	}
	st.state = scratchMade
	return nil
}

// retry1 is retry for a call with one result besides its error.
func retry1[T any](fn func() (T, error)) (v T, err error) {
	err = retry(func() error { v, err = fn(); return err })
	return v, err
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
//
// Whether the rename and the rmdir failed is read back from x: a call
// applied and answered with the error of its replay has still replaced or
// removed it.
func (st *selfTest) noReplaceNonEmpty() error {
	fsys, a, b := st.fs, st.a, st.b
	for _, d := range []string{a, b} {
		if err := st.mkdir(d); err != nil {
			return err
		}
	}
	if err := st.create(b+"/x", "b"); err != nil {
		return err
	}
	if err := fsys.Rename(a, b); err == nil {
		return st.unsupported("rename of a directory onto a non-empty one succeeded", err)
	}
	if data, err := st.readFile(b + "/x"); err != nil || string(data) != "b" {
		if proto.Transient(err) {
			return st.step(err)
		}
		return st.unsupported("a failed rename of a directory changed its target", err)
	}
	rerr := fsys.Rmdir(b)
	if rerr == nil {
		return st.unsupported("rmdir of a non-empty directory succeeded", nil)
	}
	switch ok, err := st.holds(b+"/x", "b"); {
	case err != nil:
		return st.step(err)
	case !ok:
		// Applied, and answered with an error.
		return st.unsupported("rmdir of a non-empty directory succeeded", nil)
	}
	return nil
}

// boundHandle: a handle on b stays bound to it once b is removed, so that
// a call through it cannot reach a new directory created at b's name. It
// leaves b a new directory holding y.
func (st *selfTest) boundHandle() error {
	fsys, b := st.fs, st.b
	h, err := retry1(func() (fsops.Dir, error) { return fsys.OpenDir(b) })
	if errors.Is(err, errors.ErrUnsupported) {
		return st.unsupported("directory handles are not supported on this platform", err)
	}
	if err := st.step(err); err != nil {
		return err
	}
	defer h.Close()
	gone := func(name string) func() (bool, error) {
		return func() (bool, error) { ok, err := st.exists(name); return !ok, err }
	}
	if err := st.settle(h.Remove("x"), gone(b+"/x")); err != nil {
		return err
	}
	// A late duplicate of the create of x, executed again, can put it
	// back: then it is removed again, a few times.
	err = fsys.Rmdir(b)
	for range 3 {
		if err == nil || !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrExist) {
			break
		}
		if again, rerr := st.exists(b + "/x"); rerr != nil || !again {
			break
		}
		_ = retry(func() error { return h.Remove("x") })
		err = fsys.Rmdir(b)
	}
	if err := st.settle(err, gone(b)); err != nil {
		return err
	}
	// A late duplicate of the rmdir can remove the new directory before
	// y is in it: then it is made again, a few times.
	for i := 0; ; i++ {
		if err := st.mkdir(b); err != nil {
			return err
		}
		err := st.create(b+"/y", "new")
		if err == nil {
			break
		}
		if there, rerr := st.exists(b); i == 2 || !errors.Is(err, fs.ErrNotExist) || rerr != nil || there {
			return err
		}
	}
	// Whether the call reached the new directory is read back from y: a
	// removal applied and answered with the error of its replay has still
	// removed it.
	if err := h.Remove("y"); err == nil {
		return st.unsupported("a call through the handle of a removed directory reached the new directory at its name", nil)
	}
	if data, err := st.readFile(b + "/y"); err != nil || string(data) != "new" {
		if proto.Transient(err) {
			return st.step(err)
		}
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
	if lerr := fsys.Link(b+"/y", b+"/z"); lerr != nil {
		// A link applied and answered with the error of its replay
		// (EEXIST, or EPERM on sshfs) is there: go on and check it.
		switch ok, err := st.exists(b + "/z"); {
		case err != nil:
			return st.unread(lerr, err)
		case ok:
		case errors.Is(lerr, syscall.ENOSYS), errors.Is(lerr, syscall.EPERM), errors.Is(lerr, errors.ErrUnsupported),
			errors.Is(lerr, syscall.EOPNOTSUPP), errors.Is(lerr, syscall.EMLINK):
			return st.unsupported("hard links fail, so it cannot be checked that directory handles stay bound to their directory", lerr)
		default:
			return st.step(lerr)
		}
	}
	fy, erry := st.lstat(b + "/y")
	fz, errz := st.lstat(b + "/z")
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
// Whether it did is read back from c: a rename applied and answered with
// the error of its replay (ENOENT) has moved d there.
func (st *selfTest) replaceEmpty() error {
	fsys, c, d := st.fs, st.c, st.d
	for _, dir := range []string{c, d} {
		if err := st.mkdir(dir); err != nil {
			return err
		}
	}
	if err := st.create(d+"/x", "a"); err != nil {
		return err
	}
	rerr := fsys.Rename(d, c)
	data, err := st.readFile(c + "/x")
	switch {
	case err == nil && string(data) == "a":
		return nil
	case proto.Transient(err):
		return st.unread(rerr, err)
	case rerr == nil:
		return st.unsupported("rename of a directory onto an empty one did not move it", err)
	case proto.Transient(rerr):
		return st.step(rerr)
	}
	return st.unsupported("rename of a directory onto an empty one failed", rerr)
}
