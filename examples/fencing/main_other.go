//go:build !unix

// Command fencing needs SIGSTOP to freeze a writer: it runs on Unix only.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "fencing: this example needs Unix signals (SIGSTOP, SIGCONT)")
	os.Exit(1)
}
