//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/nfs3"
)

// child is one worker process, as the parent knows it.
type child struct {
	id     int
	pid    int
	client int // index of its mount or NFS front port
	cmd    *exec.Cmd
	inside bool // between its enter and exit lines
	start  int64
	tok    uint64
	killed bool // we sent SIGKILL
	termed bool // we sent SIGTERM
	dead   bool
	nfs    nfsCounts // its NFS client's counters, as last reported
}

// msg is a line from a worker, or the news of its death (dead, at).
type msg struct {
	id     int
	line   string
	dead   bool
	at     int64
	status string
}

// runner is one run: the worker processes, the faults in progress and
// what the workers reported.
type runner struct {
	cfg       *config
	exe       string
	runDir    string
	fsys      fsops.FS // the parent's view of the shared filesystem
	base      string   // the lock's directory in that view
	rng       *rand.Rand
	trace     *bufio.Writer
	t0        int64
	proxy     *proxy // NFS only
	export    string // NFS only: the export path
	mountAddr string // NFS only: the server's MOUNT service, not proxied

	msgs     chan msg
	wg       sync.WaitGroup // the readers of the workers' output
	children []*child
	alive    int
	pending  []resume
	st       stats
	ivs      []interval
}

func (r *runner) tracef(format string, args ...any) {
	fmt.Fprintf(r.trace, "%10.3f ", float64(mono()-r.t0)/1e9)
	fmt.Fprintf(r.trace, format+"\n", args...)
}

// run makes the lock's directory, runs the workers under faults for the
// configured time, stops them, checks what they reported and prints the
// figures.
func run(cfg *config) (ok bool, err error) {
	r := &runner{cfg: cfg, msgs: make(chan msg, 1024), t0: mono()}
	if r.exe, err = os.Executable(); err != nil {
		return false, err
	}
	r.runDir = fmt.Sprintf("%s-%d", cfg.protocol, os.Getpid())
	r.rng = rand.New(rand.NewPCG(cfg.seed, 0x6e66736c65617365))
	if cfg.nfs != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		nfsys, err := nfs3.Dial(ctx, cfg.nfs, nfs3.WithoutCache(), nfs3.Soft(), nfs3.WithTimeout(2*time.Second, 3))
		cancel()
		if err != nil {
			return false, err
		}
		defer nfsys.Close()
		r.fsys, r.base = nfsys, path.Join("/chaos", r.runDir)
		i := strings.Index(cfg.nfs, ":/")
		r.export = cfg.nfs[i+1:] // Dial checked the target
		var up string
		r.mountAddr, up = nfsys.Addrs()
		if r.proxy, err = newProxy(up, cfg.nfsClients, cfg.faults, cfg.seed); err != nil {
			return false, err
		}
		defer r.proxy.close()
	} else {
		r.fsys, r.base = fsops.OS(), filepath.Join(cfg.mounts[0], "chaos", r.runDir)
	}
	if err := mkdirAll(r.fsys, r.base); err != nil {
		return false, err
	}
	defer func() {
		if rerr := removeAll(r.fsys, r.base); rerr != nil && err == nil {
			err = rerr
		}
	}()
	if cfg.trace != "" {
		f, err := os.Create(cfg.trace)
		if err != nil {
			return false, err
		}
		r.trace = bufio.NewWriter(f)
		defer func() {
			if ferr := r.trace.Flush(); ferr != nil && err == nil {
				err = ferr
			}
			if cerr := f.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}()
	} else {
		r.trace = bufio.NewWriter(io.Discard)
	}
	r.tracef("seed %d mounts %v nfs %q protocol %s lifetime %v", cfg.seed, cfg.mounts, cfg.nfs, cfg.protocol, cfg.lifetime)
	// Whatever happens, nothing stays stopped and every child is killed
	// and reaped.
	defer r.cleanup()

	for i := range cfg.workers {
		if err := r.start(i % cfg.clients()); err != nil {
			return false, err
		}
	}
	ran, err := r.inject()
	if err != nil {
		return false, err
	}
	r.stop()

	left, err := leftovers(r.fsys, r.base)
	if err != nil {
		return false, err
	}
	return r.report(ran, left), nil
}

// cleanup resumes whatever is paused or partitioned, kills every live
// worker and joins the readers of their output.
func (r *runner) cleanup() {
	for _, p := range r.pending {
		r.cont(p)
	}
	r.pending = nil
	for _, c := range r.children {
		if !c.dead {
			_ = c.cmd.Process.Kill()
		}
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range r.msgs { // drain so that the readers can finish
		}
	}()
	r.wg.Wait()
	close(r.msgs)
	<-drained
}

// start starts a worker on the given client.
func (r *runner) start(client int) error {
	cfg := r.cfg
	c := &child{id: len(r.children), client: client}
	wc := workerConfig{
		Protocol: cfg.protocol,
		Lifetime: cfg.lifetime,
		HoldMin:  cfg.holdMin,
		HoldMax:  cfg.holdMax,
		IdleMax:  cfg.idleMax,
		LongP:    cfg.longP,
		Seed:     r.rng.Uint64(),
	}
	where := ""
	if r.proxy != nil {
		wc.Path = path.Join(r.base, "job.lock")
		wc.NFS = r.proxy.addr(client) + ":" + r.export
		wc.NFSTimeo = cfg.nfsTimeo
		wc.NFSMount = r.mountAddr
		where = wc.NFS
	} else {
		wc.Path = filepath.Join(cfg.mounts[client], "chaos", r.runDir, "job.lock")
		where = cfg.mounts[client]
	}
	js, err := json.Marshal(wc)
	if err != nil {
		return err
	}
	cmd := exec.Command(r.exe)
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
	r.children = append(r.children, c)
	r.alive++
	r.tracef("w%d pid %d start on %s", c.id, c.pid, where)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			r.msgs <- msg{id: c.id, line: sc.Text()}
		}
		werr := cmd.Wait() // after the last read, as exec requires
		r.msgs <- msg{id: c.id, dead: true, at: mono(), status: fmt.Sprint(werr)}
	}()
	return nil
}

// stop resumes everything, asks every worker to finish (they report exit
// and release), and waits; it kills what does not end.
func (r *runner) stop() {
	for _, p := range r.pending {
		r.cont(p)
	}
	r.pending = nil
	for _, c := range r.children {
		if !c.dead && !c.killed {
			c.termed = true
			_ = c.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	grace := time.After(r.cfg.lifetime + 15*time.Second)
	for r.alive > 0 {
		select {
		case m := <-r.msgs:
			r.handle(m)
		case <-grace:
			for _, c := range r.children {
				if !c.dead && !c.killed {
					r.st.stuck++
					c.killed = true
					_ = c.cmd.Process.Kill()
				}
			}
			grace = nil
		}
	}
}

// mkdirAll makes dir and its parents through fsys.
func mkdirAll(fsys fsops.FS, dir string) error {
	p := ""
	if filepath.IsAbs(dir) {
		p = "/"
	}
	for _, c := range strings.Split(strings.Trim(dir, "/"), "/") {
		p = filepath.Join(p, c)
		if err := fsys.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// removeAll removes p and everything under it through fsys.
func removeAll(fsys fsops.FS, p string) error {
	fi, err := fsys.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode.IsDir() {
		return fsys.Remove(p)
	}
	names, err := fsys.ReadDir(p)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := removeAll(fsys, filepath.Join(p, n)); err != nil {
			return err
		}
	}
	return fsys.Rmdir(p)
}
