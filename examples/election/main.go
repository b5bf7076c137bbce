// Command election elects a leader among three processes with lease.Lead,
// kills the leader with SIGKILL, and measures how long the others take to
// elect a new one.
//
// The parent starts three copies of itself as candidates on a lock in a
// new temporary directory. Each candidate runs lease.Lead and prints a
// line when it starts leading. Once a leader has led for a moment, the
// parent kills it; a crashed leader's lock cannot be released, so the
// others take over once they have watched it unchanged for its lifetime
// plus the one-second stale margin. The parent prints the failover time, from
// the kill to the new leader's OnStartedLeading, then stops the others
// (SIGTERM: they release and exit) and removes the directory.
//
//	go run ./examples/election [-lifetime 2s]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/lease"
)

const (
	roleEnv     = "NFSLEASE_ELECTION_ROLE" // "candidate" in the children
	pathEnv     = "NFSLEASE_ELECTION_PATH"
	lifetimeEnv = "NFSLEASE_ELECTION_LIFETIME"
	nameEnv     = "NFSLEASE_ELECTION_NAME"
)

func main() {
	if os.Getenv(roleEnv) == "candidate" {
		if err := candidate(); err != nil {
			fmt.Fprintln(os.Stderr, "candidate:", err)
			os.Exit(1)
		}
		return
	}
	lifetime := flag.Duration("lifetime", 2*time.Second, "lease lifetime")
	flag.Parse()
	if err := run(*lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "election:", err)
		os.Exit(1)
	}
}

// candidate campaigns until SIGTERM, reporting on stdout:
//
//	leading <name> <pid> <unix nanoseconds>
//	stopped <name>
func candidate() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	lifetime, err := time.ParseDuration(os.Getenv(lifetimeEnv))
	if err != nil {
		return err
	}
	name := os.Getenv(nameEnv)
	cb := lease.LeaderCallbacks{
		OnStartedLeading: func() {
			fmt.Printf("leading %s %d %d\n", name, os.Getpid(), time.Now().UnixNano())
		},
		OnStoppedLeading: func() { fmt.Printf("stopped %s\n", name) },
	}
	err = lease.Lead(ctx, os.Getenv(pathEnv), func(leading context.Context) error {
		<-leading.Done() // lead until lost or told to stop
		return nil
	}, lease.WithLifetime(lifetime), lease.WithLeaderCallbacks(cb))
	if errors.Is(err, context.Canceled) {
		return nil // SIGTERM: released, done
	}
	return err
}

type line struct {
	child int
	text  string
}

func run(lifetime time.Duration) (err error) {
	dir, err := os.MkdirTemp("", "nfslease-election-")
	if err != nil {
		return err
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	path := filepath.Join(dir, "leader.lock")
	exe, err := os.Executable()
	if err != nil {
		return err
	}

	const n = 3
	lines := make(chan line, 64)
	var cmds []*exec.Cmd
	defer func() {
		// Stop the survivors gracefully (they release), then reap all.
		for _, c := range cmds {
			_ = c.Process.Signal(syscall.SIGTERM)
		}
		for _, c := range cmds {
			done := make(chan struct{})
			go func() { _ = c.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(lifetime + 5*time.Second):
				_ = c.Process.Kill()
				<-done
			}
		}
	}()
	for i := range n {
		name := fmt.Sprintf("c%d", i+1)
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), roleEnv+"=candidate", pathEnv+"="+path, lifetimeEnv+"="+lifetime.String(), nameEnv+"="+name)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		cmds = append(cmds, cmd)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- line{i, sc.Text()}
			}
		}()
		fmt.Printf("started candidate %s (pid %d)\n", name, cmd.Process.Pid)
	}

	// waitLeader returns the next candidate to start leading, and when.
	waitLeader := func(timeout time.Duration) (int, string, time.Time, error) {
		deadline := time.After(timeout)
		for {
			select {
			case l := <-lines:
				f := strings.Fields(l.text)
				if len(f) == 4 && f[0] == "leading" {
					ns, err := strconv.ParseInt(f[3], 10, 64)
					if err != nil {
						return 0, "", time.Time{}, fmt.Errorf("bad line %q", l.text)
					}
					return l.child, f[1] + " (pid " + f[2] + ")", time.Unix(0, ns), nil
				}
			case <-deadline:
				return 0, "", time.Time{}, fmt.Errorf("no leader within %v", timeout)
			}
		}
	}

	first, who, _, err := waitLeader(30 * time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("leader: %s\n", who)
	time.Sleep(time.Second) // let it lead for a moment
	if err := cmds[first].Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	killed := time.Now()
	_ = cmds[first].Wait()
	cmds = append(cmds[:first:first], cmds[first+1:]...)
	fmt.Printf("killed %s with SIGKILL\n", who)

	next, who, at, err := waitLeader(lifetime*3 + 30*time.Second)
	if err != nil {
		return err
	}
	if next == first {
		return errors.New("the killed leader leads again")
	}
	fmt.Printf("new leader: %s\n", who)
	fmt.Printf("failover: %v (lifetime %v)\n", at.Sub(killed).Round(time.Millisecond), lifetime)
	return nil
}
