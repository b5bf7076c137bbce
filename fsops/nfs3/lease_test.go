package nfs3

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/lease"
)

// The library on NFS: two clients standing for two hosts, each with its
// own caches, take turns at one lock, with both protocols; the self-test
// of each protocol runs on the export.
func TestLeaseTwoClients(t *testing.T) {
	for _, p := range []algorithm.Protocol{algorithm.Strict, algorithm.Flufl} {
		t.Run(p.Name(), func(t *testing.T) {
			a, b := dial(t), dial(t)
			dir := scratch(t, a)
			lock := dir + "/job.lock"
			opts := func(f *FS) []lease.Option {
				return []lease.Option{lease.WithFS(f), lease.WithProtocol(p), lease.WithLifetime(2 * time.Second)}
			}
			ctx := context.Background()
			_, relA, err := lease.Acquire(ctx, lock, opts(a)...)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := lease.TryAcquire(ctx, lock, opts(b)...); !errors.Is(err, lease.ErrHeld) {
				t.Fatalf("TryAcquire through the second client while held: %v, want ErrHeld", err)
			}
			if err := relA(); err != nil {
				t.Fatal(err)
			}
			heldB, relB, err := lease.Acquire(ctx, lock, opts(b)...)
			if err != nil {
				t.Fatal(err)
			}
			if heldB.Err() != nil {
				t.Fatal("held cancelled at once")
			}
			if err := relB(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
