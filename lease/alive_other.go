//go:build !unix

package lease

// pidAlive is unknown where there is no kill(2): leftover claim files of
// crashed processes are then removed after the longer wait.
var pidAlive func(pid int) bool
