package main

import (
	"errors"
	"io/fs"
	"os"
	"sort"
	"sync/atomic"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// The operations countFS counts, one counter each. "dir." ops are calls on
// an open directory handle.
var fsOps = []string{
	"CreateExcl", "Link", "Rename", "RenameNoReplace", "Lstat", "ReadFile", "Chtimes", "Remove",
	"ReadDir", "Mkdir", "Rmdir", "OpenDir", "FSType", "WatchDir",
	"dir.Stat", "dir.CreateExcl", "dir.ReadFile", "dir.Chtimes", "dir.Remove",
	"dir.ReadDir", "dir.Close",
}

// counts holds one counter per operation; safe for concurrent use.
type counts struct {
	n map[string]*atomic.Int64 // fixed at construction, read-only after
}

func newCounts() *counts {
	c := &counts{n: make(map[string]*atomic.Int64, len(fsOps))}
	for _, op := range fsOps {
		c.n[op] = new(atomic.Int64)
	}
	return c
}

func (c *counts) add(op string) { c.n[op].Add(1) }

// snapshot returns the current counts (zeros left out).
func (c *counts) snapshot() map[string]int64 {
	m := make(map[string]int64)
	for op, v := range c.n {
		if x := v.Load(); x != 0 {
			m[op] = x
		}
	}
	return m
}

func total(m map[string]int64) int64 {
	var t int64
	for _, v := range m {
		t += v
	}
	return t
}

// diff returns b - a per op.
func diff(a, b map[string]int64) map[string]int64 {
	d := make(map[string]int64)
	for op, v := range b {
		if x := v - a[op]; x != 0 {
			d[op] = x
		}
	}
	return d
}

// sortedOps lists the ops of m, most frequent first.
func sortedOps(m map[string]int64) []string {
	ops := make([]string, 0, len(m))
	for op := range m {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		if m[ops[i]] != m[ops[j]] {
			return m[ops[i]] > m[ops[j]]
		}
		return ops[i] < ops[j]
	})
	return ops
}

// countFS is an fsops.FS that counts every call by operation and passes it
// on. It implements fsops.Typer when the wrapped FS does not, by failing,
// so use newCountFS, which keeps the wrapped FS's Typer.
type countFS struct {
	inner fsops.FS
	c     *counts
}

// typedCountFS is a countFS over an FS that implements fsops.Typer.
type typedCountFS struct{ *countFS }

func (f typedCountFS) FSType(dir string) (string, error) {
	f.c.add("FSType")
	return f.inner.(fsops.Typer).FSType(dir)
}

// watchCountFS is a countFS over an FS that implements fsops.Typer and
// fsops.Watcher (the OS on Linux). A watch counts as one call when it
// starts; the events it delivers are no filesystem calls.
type watchCountFS struct{ typedCountFS }

func (f watchCountFS) WatchDir(dir string) (fsops.DirWatch, error) {
	f.c.add("WatchDir")
	return f.inner.(fsops.Watcher).WatchDir(dir)
}

// newCountFS wraps inner, keeping its optional fsops.Typer and
// fsops.Watcher.
func newCountFS(inner fsops.FS, c *counts) fsops.FS {
	f := &countFS{inner: inner, c: c}
	_, typer := inner.(fsops.Typer)
	_, watcher := inner.(fsops.Watcher)
	switch {
	case typer && watcher:
		return watchCountFS{typedCountFS{f}}
	case typer:
		return typedCountFS{f}
	}
	return f
}

func (f *countFS) CreateExcl(name string, data []byte, perm fs.FileMode) (fsops.FileInfo, error) {
	f.c.add("CreateExcl")
	return f.inner.CreateExcl(name, data, perm)
}
func (f *countFS) Link(o, n string) error   { f.c.add("Link"); return f.inner.Link(o, n) }
func (f *countFS) Rename(o, n string) error { f.c.add("Rename"); return f.inner.Rename(o, n) }

// RenameNoReplace implements fsops.NoReplaceRenamer by asking inner; over
// an FS without it, it answers unsupported and counts nothing, as no call
// reaches a filesystem.
func (f *countFS) RenameNoReplace(o, n string) error {
	r, ok := f.inner.(fsops.NoReplaceRenamer)
	if !ok {
		return &os.LinkError{Op: "renameat2", Old: o, New: n, Err: errors.ErrUnsupported}
	}
	f.c.add("RenameNoReplace")
	return r.RenameNoReplace(o, n)
}

func (f *countFS) Lstat(name string) (fsops.FileInfo, error) {
	f.c.add("Lstat")
	return f.inner.Lstat(name)
}
func (f *countFS) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	f.c.add("ReadFile")
	return f.inner.ReadFile(name, limit)
}
func (f *countFS) Chtimes(name string, a, m time.Time) error {
	f.c.add("Chtimes")
	return f.inner.Chtimes(name, a, m)
}
func (f *countFS) Remove(name string) error { f.c.add("Remove"); return f.inner.Remove(name) }
func (f *countFS) ReadDir(dir string) ([]string, error) {
	f.c.add("ReadDir")
	return f.inner.ReadDir(dir)
}
func (f *countFS) Mkdir(name string, perm fs.FileMode) error {
	f.c.add("Mkdir")
	return f.inner.Mkdir(name, perm)
}
func (f *countFS) Rmdir(name string) error { f.c.add("Rmdir"); return f.inner.Rmdir(name) }
func (f *countFS) OpenDir(name string) (fsops.Dir, error) {
	f.c.add("OpenDir")
	d, err := f.inner.OpenDir(name)
	if err != nil {
		return nil, err
	}
	return &countDir{d, f.c}, nil
}

type countDir struct {
	inner fsops.Dir
	c     *counts
}

func (d *countDir) Path() string { return d.inner.Path() }
func (d *countDir) Stat() (fsops.FileInfo, error) {
	d.c.add("dir.Stat")
	return d.inner.Stat()
}
func (d *countDir) CreateExcl(name string, data []byte, perm fs.FileMode) error {
	d.c.add("dir.CreateExcl")
	return d.inner.CreateExcl(name, data, perm)
}
func (d *countDir) ReadFile(name string, limit int) ([]byte, fsops.FileInfo, error) {
	d.c.add("dir.ReadFile")
	return d.inner.ReadFile(name, limit)
}
func (d *countDir) Chtimes(name string, a, m time.Time) error {
	d.c.add("dir.Chtimes")
	return d.inner.Chtimes(name, a, m)
}
func (d *countDir) Remove(name string) error { d.c.add("dir.Remove"); return d.inner.Remove(name) }
func (d *countDir) ReadDir() ([]string, error) {
	d.c.add("dir.ReadDir")
	return d.inner.ReadDir()
}
func (d *countDir) Close() error { d.c.add("dir.Close"); return d.inner.Close() }
