//go:build unix

// Command fencing shows why a lease needs a fencing token: a writer that
// was paused after checking its lease writes late, after its lease was
// taken over, and the store refuses the write because its token is
// older than one it has already seen.
//
// The parent process plays the store: it applies writes sent by two
// writer processes, copies of itself, and remembers the largest token it
// has seen. Writer A acquires the lease, writes, checks that its lease is
// still held, and is then frozen (SIGSTOP) just before its next write, as
// a long GC pause or a VM migration would freeze it. Its refresher is
// frozen too, so its lease goes stale, and writer B takes it over with a
// larger token and writes. When A resumes, it sends the write it had
// prepared with its old token; the store rejects it. A lease alone could
// not have stopped that write: A checked its lease before the pause.
//
//	go run ./examples/fencing [-lifetime 2s]
//
// It exits 1 unless the late write was rejected and every other write was
// accepted.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/lease"
)

const (
	roleEnv     = "NFSLEASE_FENCING_ROLE" // "writer" in the children
	pathEnv     = "NFSLEASE_FENCING_PATH"
	lifetimeEnv = "NFSLEASE_FENCING_LIFETIME"
	nameEnv     = "NFSLEASE_FENCING_NAME"
)

func main() {
	if os.Getenv(roleEnv) == "writer" {
		if err := writer(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "writer:", err)
			os.Exit(1)
		}
		return
	}
	lifetime := flag.Duration("lifetime", 2*time.Second, "lease lifetime")
	flag.Parse()
	if err := run(*lifetime); err != nil {
		fmt.Fprintln(os.Stderr, "fencing:", err)
		os.Exit(1)
	}
}

// store is a resource that fences its writers: it refuses a write whose
// token is smaller than the largest token it has accepted. Equal tokens
// are the same holder writing again.
type store struct {
	fence uint64
	log   []string
}

func (s *store) write(token uint64, text string) error {
	if token < s.fence {
		return fmt.Errorf("token %d is older than token %d, already seen", token, s.fence)
	}
	s.fence = token
	s.log = append(s.log, fmt.Sprintf("[token %d] %s", token, text))
	return nil
}

// writer is a child process. It talks to the store in lines: it sends
// "acquired TOKEN", "write TOKEN TEXT" (answered by "ok" or "rejected
// REASON"), "paused" (answered by "go" when it may go on) and "done".
// Writer A pauses before its second write; writer B writes once.
func writer(in io.Reader, out io.Writer) error {
	lifetime, err := time.ParseDuration(os.Getenv(lifetimeEnv))
	if err != nil {
		return err
	}
	name := os.Getenv(nameEnv)
	replies := bufio.NewScanner(in)
	ask := func(format string, args ...any) (string, error) {
		fmt.Fprintf(out, format+"\n", args...)
		if !replies.Scan() {
			return "", fmt.Errorf("store went away: %v", replies.Err())
		}
		return replies.Text(), nil
	}

	held, release, err := lease.Acquire(context.Background(), os.Getenv(pathEnv), lease.WithLifetime(lifetime))
	if err != nil {
		return err
	}
	defer release()
	token, _ := lease.TokenOf(held)
	fmt.Fprintf(out, "acquired %d\n", token)
	if _, err := ask("write %d %s: first write", token, name); err != nil {
		return err
	}
	if name != "A" {
		fmt.Fprintln(out, "done")
		return nil
	}
	// Check the lease, as a careful writer does before each write...
	if held.Err() != nil {
		return fmt.Errorf("lease lost before the second write: %w", context.Cause(held))
	}
	// ... and then get paused before writing (the store freezes us here).
	if _, err := ask("paused"); err != nil {
		return err
	}
	if _, err := ask("write %d %s: second write, prepared before the pause", token, name); err != nil {
		return err
	}
	fmt.Fprintln(out, "done")
	return nil
}

// child is a running writer process.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines *bufio.Scanner
}

func start(exe, name, path string, lifetime time.Duration) (*child, error) {
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), roleEnv+"=writer", pathEnv+"="+path, lifetimeEnv+"="+lifetime.String(), nameEnv+"="+name)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	fmt.Printf("writer %s started (pid %d)\n", name, cmd.Process.Pid)
	return &child{name, cmd, stdin, bufio.NewScanner(stdout)}, nil
}

// next reads the child's next message.
func (c *child) next() (string, error) {
	if !c.lines.Scan() {
		return "", fmt.Errorf("writer %s exited early (%v)", c.name, c.lines.Err())
	}
	return c.lines.Text(), nil
}

// serve applies the child's writes to s until it sends want, a message
// other than "write", and returns that message's argument. rejected
// collects the writes s refused.
func (c *child) serve(s *store, want string, rejected *[]string) (string, error) {
	for {
		msg, err := c.next()
		if err != nil {
			return "", err
		}
		verb, rest, _ := strings.Cut(msg, " ")
		if verb != "write" {
			if verb != want {
				return "", fmt.Errorf("writer %s: got %q, want %q", c.name, msg, want)
			}
			return rest, nil
		}
		tokStr, text, _ := strings.Cut(rest, " ")
		tok, err := strconv.ParseUint(tokStr, 10, 64)
		if err != nil {
			return "", fmt.Errorf("writer %s: bad write %q", c.name, msg)
		}
		reply := "ok"
		if err := s.write(tok, text); err != nil {
			reply = "rejected " + err.Error()
			*rejected = append(*rejected, fmt.Sprintf("[token %d] %s", tok, text))
			fmt.Printf("store: REJECTED write from %s: %v\n", c.name, err)
		} else {
			fmt.Printf("store: accepted write from %s with token %d\n", c.name, tok)
		}
		if _, err := fmt.Fprintln(c.stdin, reply); err != nil {
			return "", err
		}
	}
}

// stop ends the child: it is told to go on if it waits, then reaped.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGCONT)
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

func run(lifetime time.Duration) (err error) {
	dir, err := os.MkdirTemp("", "nfslease-fencing-")
	if err != nil {
		return err
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = rerr
		}
	}()
	path := filepath.Join(dir, "ledger.lock")
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	var (
		s        store
		rejected []string
	)

	a, err := start(exe, "A", path, lifetime)
	if err != nil {
		return err
	}
	defer a.stop()
	tokA, err := a.serve(&s, "acquired", &rejected)
	if err != nil {
		return err
	}
	fmt.Printf("writer A holds the lease with token %s\n", tokA)
	if _, err := a.serve(&s, "paused", &rejected); err != nil {
		return err
	}
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	frozen := time.Now()
	fmt.Println("writer A checked its lease, then froze (SIGSTOP) just before its next write")

	b, err := start(exe, "B", path, lifetime)
	if err != nil {
		return err
	}
	defer b.stop()
	tokB, err := b.serve(&s, "acquired", &rejected)
	if err != nil {
		return err
	}
	fmt.Printf("writer B took the stale lease over with token %s, %v after A froze\n", tokB, time.Since(frozen).Round(time.Millisecond))
	if _, err := b.serve(&s, "done", &rejected); err != nil {
		return err
	}

	fmt.Println("writer A resumes (SIGCONT) and sends the write it prepared")
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(a.stdin, "go"); err != nil {
		return err
	}
	if _, err := a.serve(&s, "done", &rejected); err != nil {
		return err
	}

	fmt.Println("store log:")
	for _, l := range s.log {
		fmt.Println("  " + l)
	}
	want := "[token " + tokA + "] A: second write, prepared before the pause"
	if len(rejected) != 1 || rejected[0] != want || len(s.log) != 2 {
		return errors.New("the store did not fence off exactly the late write of writer A")
	}
	fmt.Printf("fencing: the late write of writer A (token %s) was rejected after writer B wrote with token %s\n", tokA, tokB)
	return nil
}
