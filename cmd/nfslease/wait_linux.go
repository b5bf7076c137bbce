package main

import (
	"os/exec"

	"golang.org/x/sys/unix"
)

// waitExit returns once the command has exited, without reaping it: its
// zombie keeps its pid, and so its process group id, from being reused
// until reap, so that a last SIGKILL to the group cannot reach another.
func waitExit(cmd *exec.Cmd) error {
	for {
		var si unix.Siginfo
		err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return nil // any other error: cmd.Wait reports it
		}
	}
}

// reap reaps the command and returns its wait status.
func reap(cmd *exec.Cmd, _ error) error { return cmd.Wait() }
