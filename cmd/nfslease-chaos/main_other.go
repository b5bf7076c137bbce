//go:build !linux

// Command nfslease-chaos needs Linux: CLOCK_MONOTONIC shared by processes,
// SIGSTOP/SIGCONT, FUSE mounts.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "nfslease-chaos: Linux only")
	os.Exit(1)
}
