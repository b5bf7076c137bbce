package nfs3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
)

// The conformance suite against a real NFS server: NFSLEASE_NFS names the
// export (".ci/sharedfs.sh up nfs" prints it). Without it the tests skip,
// or fail when NFSLEASE_REQUIRE_NFS=1 (as in .ci/run).

func nfsTarget(t testing.TB) string {
	t.Helper()
	target := os.Getenv("NFSLEASE_NFS")
	if target == "" {
		if os.Getenv("NFSLEASE_REQUIRE_NFS") == "1" {
			t.Fatal("NFSLEASE_NFS is not set and NFSLEASE_REQUIRE_NFS=1: run .ci/sharedfs.sh up nfs")
		}
		t.Skip("NFSLEASE_NFS is not set (.ci/sharedfs.sh up nfs prints it)")
	}
	return target
}

func dial(t testing.TB, opts ...Option) *FS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	f, err := Dial(ctx, nfsTarget(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// scratch makes a fresh directory at the export's root and removes it,
// with everything in it, at the end of the test.
func scratch(t testing.TB, f *FS) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	dir := "/nfs3test-" + hex.EncodeToString(b)
	if err := f.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := removeAll(f, dir); err != nil {
			t.Errorf("cleaning up %s: %v", dir, err)
		}
	})
	return dir
}

func removeAll(f *FS, p string) error {
	fi, err := f.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode.IsDir() {
		return f.Remove(p)
	}
	names, err := f.ReadDir(p)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := removeAll(f, p+"/"+n); err != nil {
			return err
		}
	}
	return f.Rmdir(p)
}

// nfsSetup makes the suite's fixtures over NFS through the client under
// test, with other procedures than its methods use (CREATE UNCHECKED,
// SYMLINK, MKNOD), as a test on a kernel mount makes its fixtures through
// the same kernel client: its caches see them. (Another client's changes
// stay invisible to a cached client for up to acdirmin; that is NFS, and
// tested separately.)
type nfsSetup struct{ f *FS }

func (s nfsSetup) MkdirAll(dir string, perm fs.FileMode) error {
	p := ""
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		p += "/" + c
		if err := s.f.Mkdir(p, perm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// WriteFile creates or truncates name (CREATE UNCHECKED with size 0)
// and writes data.
func (s nfsSetup) WriteFile(name string, data []byte, perm fs.FileMode) error {
	dir, base, err := s.f.parent(name)
	if err == nil {
		var d *decoder
		var st nfsStatus
		d, st, err = s.f.call(procCreate, func(e *encoder) {
			e.diropargs(dir, base)
			e.u32(createUnchecked)
			e.sattr(sattr{mode: modePtr(perm)})
		})
		s.changed(dir, base)
		if err = status(st, err); err == nil {
			fh := d.postOpFH()
			if fh == nil {
				err = syscall.EIO
			} else {
				err = s.f.setattr(fh, sattr{size: new(uint64)})
			}
			if err == nil {
				err = s.f.write(fh, data)
			}
		}
	}
	if err != nil {
		return pathErr("open", name, err)
	}
	return nil
}

// changed forgets what the client under test cached of dir and name: a
// fixture is made with that client, as a local test makes fixtures through
// the same kernel.
func (s nfsSetup) changed(dir []byte, base string) {
	s.f.cache.dropName(dir, base)
	s.f.cache.forget(dir)
}

func (s nfsSetup) Symlink(target, link string) error {
	dir, base, err := s.f.parent(link)
	if err == nil {
		_, st, cerr := s.f.call(procSymlink, func(e *encoder) {
			e.diropargs(dir, base)
			e.sattr(sattr{mode: modePtr(0o777)})
			e.string(target)
		})
		s.changed(dir, base)
		err = status(st, cerr)
	}
	if err != nil {
		return pathErr("symlink", link, err)
	}
	return nil
}

func (s nfsSetup) Mkfifo(name string) error {
	dir, base, err := s.f.parent(name)
	if err == nil {
		_, st, cerr := s.f.call(procMknod, func(e *encoder) {
			e.diropargs(dir, base)
			e.u32(nf3Fifo)
			e.sattr(sattr{mode: modePtr(0o644)})
		})
		s.changed(dir, base)
		err = status(st, cerr)
	}
	if err != nil {
		return pathErr("mkfifo", name, err)
	}
	return nil
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"cached", nil},                   // what a default Linux mount gives
		{"raw", []Option{WithoutCache()}}, // the server as it is
	} {
		t.Run(tc.name, func(t *testing.T) {
			under := dial(t, tc.opts...)
			fsopstest.TestFS(t, func(t *testing.T) (fsops.FS, fsopstest.Setup, string) {
				return under, nfsSetup{under}, scratch(t, under)
			})
		})
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in, host, port, export string
		bad                    bool
	}{
		{in: "10.0.0.1:/export", host: "10.0.0.1", export: "/export"},
		{in: "server:2049:/a/b", host: "server", port: "2049", export: "/a/b"},
		{in: "[::1]:2049:/x", host: "::1", port: "2049", export: "/x"},
		{in: "[::1]:/x", host: "::1", export: "/x"},
		{in: "host", bad: true},
		{in: ":/x", bad: true},
		{in: "h:0:/x", bad: true},
		{in: "h:99999:/x", bad: true},
	} {
		h, p, e, err := parseTarget(tc.in)
		if (err != nil) != tc.bad || h != tc.host || p != tc.port || e != tc.export {
			t.Errorf("parseTarget(%q) = %q, %q, %q, %v", tc.in, h, p, e, err)
		}
	}
}
