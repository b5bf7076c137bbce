package lease_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

func TestTokenOf(t *testing.T) {
	forEach(t, func(t *testing.T, w *world, f flavour) {
		if tok, ok := lease.TokenOf(context.Background()); ok || tok != 0 {
			t.Errorf("TokenOf(Background) = %d, %v; want 0, false", tok, ok)
		}
		var log eventLog
		var got []uint64
		for i := range 3 {
			try := lease.Acquire
			if i == 1 {
				try = lease.TryAcquire
			}
			held, release, err := try(t.Context(), dir+"/a.lock", w.opts(lease.WithEventHook(log.hook))...)
			if err != nil {
				t.Fatal(err)
			}
			tok, ok := lease.TokenOf(held)
			if !ok {
				t.Fatal("TokenOf(held) reports no token")
			}
			derived, cancel := context.WithCancel(context.WithValue(held, otherKey{}, 1))
			if dtok, ok := lease.TokenOf(derived); !ok || dtok != tok {
				t.Errorf("TokenOf(derived from held) = %d, %v; want %d, true", dtok, ok, tok)
			}
			cancel()
			got = append(got, tok)
			if err := release(); err != nil {
				t.Fatal(err)
			}
			if tok2, ok := lease.TokenOf(held); !ok || tok2 != tok {
				t.Errorf("TokenOf(held) after release = %d, %v; want %d, true", tok2, ok, tok)
			}
		}
		if !slices.Equal(got, []uint64{1, 2, 3}) {
			t.Errorf("tokens = %v, want [1 2 3]", got)
		}
		for _, e := range log.take() {
			if e.Kind != lease.EventBrokeStale && e.Token == 0 {
				t.Errorf("event %v has no token", e.Kind)
			}
		}
		w.wantEmpty()
	})
}

// TestMintFailsTransiently: a mint that fails transiently through every
// try (EIO) gives the lock back cleanly. TryAcquire then fails with the
// cause; Acquire acquires again like any waiter, and gives up only when
// its context ends, saying why. Only the counter stays.
func TestMintFailsTransiently(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails int  // mints that fail (-1: all)
		try   bool // TryAcquire instead of Acquire
	}{
		{"TryAcquire", -1, true},
		{"Acquire, the filesystem recovers", 8, false}, // two acquisitions' worth of tries
		{"Acquire, the context ends first", -1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEach(t, func(t *testing.T, w *world, f flavour) {
				var mu sync.Mutex
				failed := 0
				w.inject(func(op fsopstest.Op) *fsopstest.Fault {
					if op.Name != "Rename" || filepath.Base(op.Path2) == "a.lock" {
						return nil
					}
					if _, ok := proto.ParseTokenName(filepath.Base(op.Path2), "a.lock"); !ok {
						return nil
					}
					mu.Lock()
					defer mu.Unlock()
					if tc.fails >= 0 && failed >= tc.fails {
						return nil
					}
					failed++
					return &fsopstest.Fault{Err: syscall.EIO}
				})
				if tc.try {
					_, _, err := lease.TryAcquire(t.Context(), dir+"/a.lock", w.opts()...)
					if !errors.Is(err, syscall.EIO) {
						t.Fatalf("TryAcquire = %v, want an EIO minting the token", err)
					}
					w.inject(nil)
					w.wantEmpty()
					return
				}
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				r := w.acquireAdvancing(ctx, dir+"/a.lock", func(advanced time.Duration) {
					if advanced == time.Minute {
						cancel()
					}
				}, w.opts()...)
				mu.Lock()
				n := failed
				mu.Unlock()
				if tc.fails >= 0 {
					if r.err != nil {
						t.Fatalf("Acquire = %v, want a lease once the filesystem recovers", r.err)
					}
					if n != tc.fails {
						t.Errorf("%d mints failed, want %d: the test did not run its case", n, tc.fails)
					}
					if tok, ok := lease.TokenOf(r.held); !ok || tok == 0 {
						t.Errorf("TokenOf = %d, %v; want a token", tok, ok)
					}
					if err := r.release(); err != nil {
						t.Fatalf("release: %v", err)
					}
				} else if !errors.Is(r.err, syscall.EIO) || !errors.Is(r.err, context.Canceled) {
					t.Fatalf("Acquire = %v, want it to give up when its context ends, naming the EIO", r.err)
				}
				w.inject(nil)
				w.wantEmpty()
			})
		})
	}
}

// Each acquisition carries a fencing token, larger than every earlier
// one on the same lock path: a resource that remembers the largest token
// it has accepted can refuse a holder that lost its lease without knowing.
func ExampleTokenOf() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "nightly.lock")

	var highest uint64 // kept by the resource, not the lock holder
	write := func(held context.Context, what string) error {
		tok, ok := lease.TokenOf(held)
		if !ok || tok <= highest {
			return fmt.Errorf("%s: refused (token %d, highest seen %d)", what, tok, highest)
		}
		highest = tok
		fmt.Printf("%s: accepted with token %d\n", what, tok)
		return nil
	}

	for _, job := range []string{"first", "second"} {
		held, release, err := lease.Acquire(context.Background(), path)
		if err != nil {
			fmt.Println(err)
			return
		}
		_ = write(held, job)
		if err := write(held, job+" again"); err != nil {
			fmt.Println(err)
		}
		_ = release()
	}
	_, ok := lease.TokenOf(context.Background())
	fmt.Println("a context that is not a lease has a token:", ok)
	// Output:
	// first: accepted with token 1
	// first again: refused (token 1, highest seen 1)
	// second: accepted with token 2
	// second again: refused (token 2, highest seen 2)
	// a context that is not a lease has a token: false
}

// TestLostWhileMinting: the lock is broken between the acquisition and
// the check after the mint. Acquire acquires again, with a new token;
// TryAcquire reports the loss.
func TestLostWhileMinting(t *testing.T) {
	for _, prot := range []algorithm.Protocol{algorithm.Strict, algorithm.Flufl} {
		for _, try := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/try=%v", prot.Name(), try), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					w := newWorld(t)
					w.prot = prot
					done := false
					w.inject(func(op fsopstest.Op) *fsopstest.Fault {
						if done || op.Name != "Rename" || filepath.Base(op.Path2) != proto.TokenName("a.lock", 1) {
							return nil
						}
						done = true
						// Someone removes the lock just before our mint.
						if err := w.mem.Remove(dir + "/a.lock"); err != nil {
							_ = w.mem.Remove(dir + "/a.lock/owner")
							_ = w.mem.Rmdir(dir + "/a.lock")
						}
						return nil
					})
					acquire := lease.Acquire
					if try {
						acquire = lease.TryAcquire
					}
					held, release, err := acquire(t.Context(), dir+"/a.lock", w.opts()...)
					if try {
						if !errors.Is(err, algorithm.ErrNotHeld) {
							t.Fatalf("TryAcquire = %v, want ErrNotHeld", err)
						}
						w.wantEmpty()
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if tok, _ := lease.TokenOf(held); tok != 2 {
						t.Errorf("token = %d, want 2 (token 1 was minted by the lost acquisition)", tok)
					}
					if err := release(); err != nil {
						t.Fatal(err)
					}
					w.wantEmpty()
				})
			})
		}
	}
}

// otherKey is a context key of the test's own.
type otherKey struct{}
