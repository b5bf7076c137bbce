package algorithm

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"syscall"

	"github.com/nfslease/nfslease/internal/proto"
)

// abandoned handles a lock directory without an owner record: a
// generation whose releaser or breaker stopped between removing the record
// and removing the directory. rmdir removes it only if it is empty, and so
// never a live generation. With refuseUnmarked (the first attempt of a
// rename that never replaces), an empty directory without our mark is
// refused rather than removed, as refuseUnmarkedEmptyDir refuses it.
func (l *strictLock) abandoned(refuseUnmarked bool) (proto.Attempt, error) {
	if refuseUnmarked {
		if err := l.unmarkedEmpty(l.obsDir); err != nil {
			l.closeObs()
			return proto.Attempt{}, err
		}
	}
	err := retry(func() error { return l.fs.Rmdir(l.path) })
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		l.closeObs()
		return proto.Attempt{}, nil
	}
	if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, fs.ErrExist) && !errors.Is(err, syscall.EPERM) {
		l.closeObs()
		return proto.Attempt{}, fmt.Errorf("algorithm: removing abandoned lock %s: %w", l.path, err)
	}
	// Not empty: a newer generation took the name (retry), or litter
	// in the old one, or a directory that is not a lock.
	names, derr := l.obsDir.ReadDir()
	d := l.obsDir
	l.obsDir = nil
	defer d.Close()
	l.closeObs()
	if derr != nil || len(names) == 0 {
		return proto.Attempt{}, nil
	}
	for _, n := range names {
		if n == ownerName {
			return proto.Attempt{}, nil // a record appeared: look again
		}
		if !isLitter(n) {
			return proto.Attempt{}, fmt.Errorf("algorithm: lock path %s is a directory with no owner record that holds %q: %w", l.path, n, proto.ErrNotLock)
		}
	}
	// Only NFS or FUSE litter (files still open somewhere when they were
	// removed): remove it through the handle on this generation, which
	// nothing newer can be reached by.
	for _, n := range names {
		_ = d.Remove(n)
	}
	return proto.Attempt{}, nil
}

// isLitter reports whether a name inside a generation directory is a file
// that NFS (silly rename) or FUSE (hidden rename) made of a removed file.
func isLitter(name string) bool {
	return strings.HasPrefix(name, ".nfs") || strings.HasPrefix(name, ".fuse_hidden")
}

// breakStale breaks the generation judged stale, whose version is v: its
// record is removed through the handle bound to that generation (so no
// newer generation can be touched, even by a replayed call), then the
// directory by path, which succeeds only if it is empty, and so never
// removes a newer generation either.
func (l *strictLock) breakStale(v version, h *proto.Holder) (proto.Attempt, error) {
	d := l.obsDir
	// A last look, fresh through open: the holder may have refreshed
	// since our judgement.
	data, ofi, err := d.ReadFile(ownerName, maxRecordLen)
	if err != nil {
		l.closeObs()
		if errors.Is(err, fs.ErrNotExist) || proto.Transient(err) {
			return proto.Attempt{}, nil
		}
		return proto.Attempt{}, fmt.Errorf("algorithm: reading lock %s: %w", l.path, err)
	}
	if fresh := versionOf(data, ofi); fresh != v {
		l.wait().obs = observation{}
		return proto.Attempt{Holder: h, StaleIn: h.Lifetime + proto.StaleMargin}, nil
	}
	var rerr error
	if l.mut(mStrictBreakByPath) {
		rerr = l.fs.Remove(l.path + "/" + ownerName)
	} else {
		rerr = l.removeRetry(d, ownerName)
	}
	if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		l.closeObs()
		return proto.Attempt{}, fmt.Errorf("algorithm: breaking stale lock %s: %w", l.path, rerr)
	}
	// The directory, if empty; a newer generation is never empty.
	_, _ = l.abandoned(false)
	return proto.Attempt{Broke: true, Holder: h}, nil
}

// collectStale removes, at most maxCollect at a time, private directories
// next to the lock that crashed processes left: stages whose record was
// untouched for staleStageAge of their lifetimes, or that have no record
// and have not changed for staleStageAge of ours. Each is first renamed to
// a name only we use, so that its owner cannot rename it to the lock path
// while we empty it. Ages are judged on our wall clock against times other
// hosts wrote: a wrong judgement costs a live waiter only its stage (its
// rename then fails, and it makes a new one), never a lock.
func (l *strictLock) collectStale(now proto.Instant) {
	l.collected = true
	pd, err := l.fs.OpenDir(l.dir)
	if err != nil {
		return
	}
	names, err := pd.ReadDir()
	_ = pd.Close()
	if err != nil {
		return
	}
	n := 0
	for _, name := range names {
		if n >= maxCollect {
			return
		}
		gen, ok := privateGen(name, l.base)
		if !ok || slices.Contains(l.mine, gen) {
			continue
		}
		data, fi, err := l.fs.ReadFile(l.dir+name+"/"+ownerName, maxRecordLen)
		switch {
		case err == nil:
			// A record that does not parse (a waiter killed while
			// writing it leaves it empty or cut short) ages by our
			// lifetime, as a stage with no record does.
			age := staleStageAge * l.cfg.Lifetime
			if rec, err := parseOwner(data); err == nil {
				age = staleStageAge * rec.Lifetime
			}
			if now.Wall.Sub(fi.ModTime) < age {
				continue
			}
		case errors.Is(err, fs.ErrNotExist):
			dfi, err := l.fs.Lstat(l.dir + name)
			if err != nil || !dfi.Mode.IsDir() || now.Wall.Sub(dfi.ModTime) < staleStageAge*l.cfg.Lifetime {
				continue
			}
		default:
			continue
		}
		n++
		l.collect(name)
	}
}

// collect renames the private directory name aside and empties and
// removes it there.
func (l *strictLock) collect(name string) {
	random := make([]byte, genLen/2)
	if _, err := io.ReadFull(l.cfg.Rand, random); err != nil {
		return
	}
	gc := l.dir + "." + l.base + gcInfix + hex.EncodeToString(random)
	if err := l.fs.Rename(l.dir+name, gc); err != nil {
		return
	}
	d, err := l.fs.OpenDir(gc)
	if err != nil {
		return
	}
	if names, err := d.ReadDir(); err == nil {
		for _, n := range names {
			if n == ownerName || isLitter(n) {
				_ = d.Remove(n)
			}
		}
	}
	_ = d.Close()
	_ = l.fs.Rmdir(gc)
}

// privateGen reports whether name is one of the private directories of the
// lock named base, and returns its generation id.
func privateGen(name, base string) (string, bool) {
	prefix := "." + base
	if !strings.HasPrefix(name, prefix) {
		return "", false
	}
	rest := name[len(prefix):]
	for _, infix := range []string{stageInfix, gcInfix} {
		if gen, ok := strings.CutPrefix(rest, infix); ok && len(gen) == genLen {
			if _, err := hex.DecodeString(gen); err == nil && strings.ToLower(gen) == gen {
				return gen, true
			}
		}
	}
	return "", false
}
