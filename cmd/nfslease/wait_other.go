//go:build unix && !linux

package main

import "os/exec"

// waitExit waits for the command and reaps it. Without waitid(WNOWAIT) the
// group id may in principle be reused between this and a last SIGKILL to
// the group after a lost lease (docs/cli.md).
func waitExit(cmd *exec.Cmd) error { return cmd.Wait() }

// reap returns what waitExit found.
func reap(_ *exec.Cmd, err error) error { return err }
