package lease

// WithIdentity sets the host name and pid written into claims, so that
// tests can tell holders apart.
var WithIdentity = withIdentity

// WithProcs sets the process table the lease records its identity from
// and judges local holders by.
var WithProcs = withProcs

// Released wakes this process's waiters for the lock at path as a release
// by a lease with opts would (wake.go).
func Released(path string, opts ...Option) {
	cfg, err := newConfig(opts)
	if err != nil {
		panic(err)
	}
	released(cfg, path)
}

// RegistryCounts reports the registry's queues, directory watches, and
// the subscribers of those watches (wake.go).
func RegistryCounts() (queues, watches, subscribers int) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for _, dw := range reg.dirs {
		subscribers += dw.refs
	}
	return len(reg.queues), len(reg.dirs), subscribers
}

// OnGrid is onGrid, the refresh timer's alignment (lease.go).
var OnGrid = onGrid
