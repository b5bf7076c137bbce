//go:build !unix

// Command nfslease needs a Unix system (process groups, signals); see
// docs/cli.md.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "nfslease: this command needs a Unix system")
	os.Exit(71)
}
