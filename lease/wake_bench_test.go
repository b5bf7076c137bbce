package lease

import (
	"testing"
)

// BenchmarkRegistryUncontended measures what wake.go adds to an
// uncontended acquire+release cycle: joining and leaving the queue, the
// grant, and the release's look-up (no watch is started: an uncontended
// acquisition never sleeps).
func BenchmarkRegistryUncontended(b *testing.B) {
	cfg, err := newConfig(nil)
	if err != nil {
		b.Fatal(err)
	}
	path := b.TempDir() + "/a.lock"
	for b.Loop() {
		w := joinWaiters(cfg, path, false)
		if err := w.waitTurn(b.Context()); err != nil {
			b.Fatal(err)
		}
		w.granted()
		w.leave()
		released(cfg, path)
	}
}
