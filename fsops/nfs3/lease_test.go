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

// Close-to-open across clients: a file another client replaced is read
// afresh, although the reader's name cache still maps the name to the old
// file (its GETATTR answers ESTALE and the name is looked up again).
func TestCloseToOpenAcrossClients(t *testing.T) {
	a, b := dial(t), dial(t)
	dir := scratch(t, b)
	p := dir + "/f"
	if _, err := b.CreateExcl(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if data, _, err := a.ReadFile(p, 100); err != nil || string(data) != "old" {
		t.Fatalf("first read = %q, %v", data, err)
	}
	if err := b.Remove(p); err != nil {
		t.Fatal(err)
	}
	if _, err := b.CreateExcl(p, []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := a.Stats().Calls["LOOKUP"]
	if data, _, err := a.ReadFile(p, 100); err != nil || string(data) != "new" {
		t.Fatalf("read after the other client replaced the file = %q, %v; want %q", data, err, "new")
	}
	if a.Stats().Calls["LOOKUP"] == before {
		t.Error("the name was not looked up again")
	}
}

// A path through a directory another client replaced: the cached handle
// is stale, and the call is made again with the caches dropped, as Linux's
// VFS retries after ESTALE.
func TestStaleDirectoryRetried(t *testing.T) {
	a, b := dial(t), dial(t)
	dir := scratch(t, b)
	d := dir + "/d"
	if err := b.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadDir(d); err != nil { // a caches d's handle
		t.Fatal(err)
	}
	if err := b.Rmdir(d); err != nil {
		t.Fatal(err)
	}
	if err := b.Mkdir(d, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateExcl(d+"/f", []byte("x"), 0o644); err != nil {
		t.Fatalf("CreateExcl through a replaced directory: %v", err)
	}
	if data, _, err := b.ReadFile(d+"/f", 10); err != nil || string(data) != "x" {
		t.Errorf("the new directory holds %q, %v", data, err)
	}
}
