package lease_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// inTime is the deadline check of a protocol-level Release whose hold is
// valid throughout.
func inTime() bool { return true }

// benchDirs are the filesystems the cycle benchmarks run on: the default
// temporary directory (ext4 on the project's machines) and /dev/shm
// (tmpfs), where it exists.
func benchDirs(b *testing.B) map[string]string {
	dirs := map[string]string{"tmpdir": b.TempDir()}
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		d, err := os.MkdirTemp("/dev/shm", "nfslease-bench-")
		if err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			dirs["shm"] = d
		}
	}
	return dirs
}

// BenchmarkCycle measures uncontended acquire+release cycles of each
// protocol through the public API (including the self-test cache lookup,
// starting and joining the refresher goroutine), and through the protocol
// steps alone.
func BenchmarkCycle(b *testing.B) {
	for name, dir := range benchDirs(b) {
		path := filepath.Join(dir, "bench.lock")
		for _, prot := range []algorithm.Protocol{algorithm.Strict, algorithm.Flufl} {
			b.Run(prot.Name()+"/lease/"+name, func(b *testing.B) {
				ctx := context.Background()
				for b.Loop() {
					_, release, err := lease.Acquire(ctx, path, lease.WithProtocol(prot))
					if err != nil {
						b.Fatal(err)
					}
					if err := release(); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
			})
			b.Run(prot.Name()+"/algorithm/"+name, func(b *testing.B) {
				cfg := proto.Config{Lifetime: 15 * time.Second, Hostname: "bench", Pid: os.Getpid()}
				for b.Loop() {
					lk, err := prot.New(fsops.OS(), path, cfg)
					if err != nil {
						b.Fatal(err)
					}
					if att, err := lk.Acquire(proto.Instant{Wall: time.Now()}); err != nil || !att.Acquired {
						b.Fatal(att, err)
					}
					if err := lk.Release(inTime); err != nil {
						b.Fatal(err)
					}
					if err := lk.Close(proto.Instant{}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cycles/s")
			})
		}
	}
}

// BenchmarkCycleHook compares the uncontended cycle of each protocol on
// /dev/shm (where the filesystem costs least, so the hook's share is
// largest) without and with a trivial event hook that counts events.
func BenchmarkCycleHook(b *testing.B) {
	dir := b.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "nfslease-bench-"); err == nil {
			b.Cleanup(func() { os.RemoveAll(d) })
			dir = d
		}
	}
	path := filepath.Join(dir, "bench.lock")
	for _, prot := range []algorithm.Protocol{algorithm.Strict, algorithm.Flufl} {
		for _, hooked := range []bool{false, true} {
			name := prot.Name() + "/nohook"
			opts := []lease.Option{lease.WithProtocol(prot)}
			var n atomic.Int64
			if hooked {
				name = prot.Name() + "/hook"
				opts = append(opts, lease.WithEventHook(func(lease.Event) { n.Add(1) }))
			}
			b.Run(name, func(b *testing.B) {
				ctx := context.Background()
				for b.Loop() {
					_, release, err := lease.Acquire(ctx, path, opts...)
					if err != nil {
						b.Fatal(err)
					}
					if err := release(); err != nil {
						b.Fatal(err)
					}
				}
				if hooked && n.Load() < int64(2*b.N) {
					b.Fatalf("%d events for %d cycles", n.Load(), b.N)
				}
			})
		}
	}
}
