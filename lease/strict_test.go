package lease_test

import (
	"errors"
	"testing"
	"testing/synctest"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/lease"
)

// The tests in this file run the lease shell over the Strict protocol,
// the default.

func TestStrictIsTheDefault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t)
		opts := []lease.Option{lease.WithFS(w.fs), lease.WithClock(w.clk)}
		_, release, err := lease.Acquire(t.Context(), dir+"/a.lock", opts...)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := w.mem.Lstat(dir + "/a.lock"); err != nil || !fi.Mode.IsDir() {
			t.Errorf("lock path: %+v, %v; want a generation directory", fi, err)
		}
		if err := release(); err != nil {
			t.Fatal(err)
		}
		w.wantEmpty()
	})
}

func TestStrictSelfTestFailureIsClear(t *testing.T) {
	w := newWorld(t)
	_, _, err := lease.Acquire(t.Context(), dir+"/a.lock", lease.WithFS(rmdirAnything{w.mem}), lease.WithClock(w.clk))
	if !errors.Is(err, algorithm.ErrUnsupportedFS) {
		t.Fatalf("Acquire = %v, want ErrUnsupportedFS", err)
	}
	t.Log(err)
	w.wantEmpty()
}

// rmdirAnything is a filesystem whose rmdir removes directories with
// entries, which Strict cannot be safe on.
type rmdirAnything struct{ *fsopstest.Mem }

var _ fsops.FS = rmdirAnything{}

func (f rmdirAnything) Rmdir(name string) error {
	names, _ := f.ReadDir(name)
	for _, n := range names {
		f.Remove(name + "/" + n)
	}
	return f.Mem.Rmdir(name)
}
