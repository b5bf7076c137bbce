package algorithm_test

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/fsopstest"
)

// TestNewRejectsDirectoryNames: a path whose last element is "." or ".."
// names a directory. filepath.Abs would clean "/locks/x/." to the lock
// "/locks/x" in the parent directory.
func TestNewRejectsDirectoryNames(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{dir + "/.", dir + "/..", dir + "/a.lock/.", dir + "/a.lock/..", ".", "..", "a/.", "a/.."} {
		_, err := algorithm.Flufl.New(e.fs, p, algorithm.Config{Lifetime: time.Second})
		if !errors.Is(err, algorithm.ErrBadPath) {
			t.Errorf("New(%q) = %v, want ErrBadPath", p, err)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("New(%q): error %q does not name the path", p, err)
		}
	}
	if len(e.files()) != 0 {
		t.Errorf("files = %q", e.files())
	}
}

// TestClaimCreateLostReply: the create of our claim is applied but its
// reply is lost (EIO after). The attempt fails transiently; Close removes
// the claim it cannot be sure of, and a retry adopts it.
func TestClaimCreateLostReply(t *testing.T) {
	t.Run("close", func(t *testing.T) {
		e := newEnv(t)
		e.inject = func(op fsopstest.Op) *fsopstest.Fault {
			if op.Name == "CreateExcl" {
				return &fsopstest.Fault{After: true}
			}
			return nil
		}
		lk := e.lock("h", 10*time.Second)
		if _, err := lk.Acquire(e.now()); !algorithm.Transient(err) {
			t.Fatalf("Acquire = %v, want a transient error", err)
		}
		if len(e.files()) != 1 {
			t.Fatalf("files = %q, want the claim the lost reply left", e.files())
		}
		e.inject = nil
		if err := lk.Close(e.now()); err != nil {
			t.Fatal(err)
		}
		if len(e.files()) != 0 {
			t.Errorf("files after Close = %q, want none", e.files())
		}
	})
	t.Run("retry", func(t *testing.T) {
		e := newEnv(t)
		n := 0
		e.inject = func(op fsopstest.Op) *fsopstest.Fault {
			if op.Name == "CreateExcl" && n == 0 {
				n++
				return &fsopstest.Fault{After: true}
			}
			return nil
		}
		lk := e.lock("h", 10*time.Second)
		if _, err := lk.Acquire(e.now()); !algorithm.Transient(err) {
			t.Fatalf("Acquire = %v, want a transient error", err)
		}
		e.mustAcquire(lk)
		if err := lk.Release(); err != nil {
			t.Fatal(err)
		}
		if len(e.files()) != 0 {
			t.Errorf("files after Release = %q, want none", e.files())
		}
	})
}

type fixedRand struct{}

func (fixedRand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 0xcd
	}
	return len(p), nil
}

// TestUnsureClaimNotOurs: after an ambiguous create failure, Close removes
// the file at our claim name only if it holds our claim.
func TestUnsureClaimNotOurs(t *testing.T) {
	e := newEnv(t)
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name == "CreateExcl" {
			return &fsopstest.Fault{} // EIO, not applied
		}
		return nil
	}
	lk, err := algorithm.Flufl.New(e.fs, path, algorithm.Config{Lifetime: 10 * time.Second, Hostname: "h", Pid: 1, Rand: fixedRand{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lk.Acquire(e.now()); !algorithm.Transient(err) {
		t.Fatalf("Acquire = %v, want a transient error", err)
	}
	claim := path + "|h|1|nfslease1.l10000.rcdcdcdcdcdcdcdcd"
	if err := e.mem.WriteFile(claim, []byte("someone else's"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.inject = nil
	if err := lk.Close(e.now()); err != nil {
		t.Fatal(err)
	}
	if data, _, err := e.mem.ReadFile(claim, 100); err != nil || string(data) != "someone else's" {
		t.Errorf("file at our claim name = %q, %v; want it untouched", data, err)
	}
}

// TestLinkLostRequest: a link that fails with a transient error and leaves
// no lock is reported as that error, not as a lock that is held (TryAcquire
// said "held by another holder" for a lock that did not exist).
func TestLinkLostRequest(t *testing.T) {
	e := newEnv(t)
	e.inject = func(op fsopstest.Op) *fsopstest.Fault {
		if op.Name == "Link" {
			return &fsopstest.Fault{Err: syscall.ESTALE}
		}
		return nil
	}
	lk := e.lock("h", 10*time.Second)
	att, err := lk.Acquire(e.now())
	if !errors.Is(err, syscall.ESTALE) || !algorithm.Transient(err) || att.Holder != nil {
		t.Fatalf("Acquire = %+v, %v; want a transient ESTALE error and no holder", att, err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path", err)
	}
	e.inject = nil
	e.mustAcquire(lk)
	if err := lk.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.mem.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lock after release: %v", err)
	}
}
