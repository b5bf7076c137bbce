//go:build unix && !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package main

import "os"

// isTerminal reports false: no known terminal ioctl here, so progress is
// printed as plain lines.
func isTerminal(*os.File) bool { return false }
