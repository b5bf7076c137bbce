//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// campaign is the state of one chaos run in the parent: the workers it
// spawned, the faults pending, and what it collected. Only run's goroutine
// touches it, apart from the readers, which only send on msgs.
type campaign struct {
	cfg    *config
	exe    string // this binary, re-executed as the workers
	runDir string // the run's directory name under <mount>/chaos
	tracef func(format string, args ...any)
	rng    *rand.Rand

	msgs     chan msg       // worker lines and deaths, from the readers
	readers  sync.WaitGroup // one per child: its stdout reader
	children []*child
	alive    int

	pending []resume    // SIGCONTs due (inject.go)
	resumeT *time.Timer // fires at the earliest of pending

	st  stats      // counts (collect.go)
	ivs []interval // critical sections (collect.go)
}

// child is one worker process, as the parent knows it.
type child struct {
	id     int
	pid    int
	mount  int
	cmd    *exec.Cmd
	inside bool // between its enter and exit lines
	start  int64
	tok    uint64
	killed bool // we sent SIGKILL
	termed bool // we sent SIGTERM
	dead   bool
}

// msg is a line from a worker, or the news of its death (dead, at).
type msg struct {
	id     int
	line   string
	dead   bool
	at     int64
	status string
}

// spawn starts a worker on mount, and a reader that forwards its lines to
// msgs and then the news of its death.
func (k *campaign) spawn(mount int) error {
	cfg := k.cfg
	c := &child{id: len(k.children), mount: mount}
	wc := workerConfig{
		Path:     filepath.Join(cfg.mounts[mount], "chaos", k.runDir, "job.lock"),
		Protocol: cfg.protocol,
		Lifetime: cfg.lifetime,
		HoldMin:  cfg.holdMin,
		HoldMax:  cfg.holdMax,
		IdleMax:  cfg.idleMax,
		LongP:    cfg.longP,
		Seed:     k.rng.Uint64(),
	}
	js, err := json.Marshal(wc)
	if err != nil {
		return err
	}
	cmd := exec.Command(k.exe)
	cmd.Env = append(os.Environ(), workerEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	c.cmd, c.pid = cmd, cmd.Process.Pid
	k.children = append(k.children, c)
	k.alive++
	k.tracef("w%d pid %d start on %s", c.id, c.pid, cfg.mounts[mount])
	k.readers.Add(1)
	go func() {
		defer k.readers.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			k.msgs <- msg{id: c.id, line: sc.Text()}
		}
		werr := cmd.Wait() // after the last read, as exec requires
		k.msgs <- msg{id: c.id, dead: true, at: mono(), status: fmt.Sprint(werr)}
	}()
	return nil
}

// reap makes sure, whatever happened, that nothing stays stopped and that
// every child is killed and reaped and every reader has finished.
func (k *campaign) reap() {
	for _, r := range k.pending {
		cont(r)
	}
	for _, c := range k.children {
		if !c.dead {
			_ = c.cmd.Process.Kill()
		}
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range k.msgs { // drain so that the readers can finish
		}
	}()
	k.readers.Wait()
	close(k.msgs)
	<-drained
}
