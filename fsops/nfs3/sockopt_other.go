//go:build !unix

package nfs3

// setReuseAddr does nothing where there are no Unix socket options: a
// reconnection then falls back to a new local port.
func setReuseAddr(uintptr) error { return nil }
