package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type failoverResult struct {
	System   string    `json:"system"`
	Where    string    `json:"where"` // "ext4", or "sshfs: /a -> /b"
	Lifetime string    `json:"lifetime"`
	Secs     []float64 `json:"failover_s"` // SIGKILL of the holder to the waiter's acquisition
	Median   float64   `json:"median_s"`
	Err      string    `json:"error,omitempty"`
	Notes    []string  `json:"notes,omitempty"` // failures after the acquisition
}

// runFailover: a holder process acquires the lock (through dirA), a waiter
// process starts waiting (through dirB, the same directory or another mount
// of it), the holder is SIGKILLed and reaped, and the time until the waiter
// holds the lock is measured, reps times.
func runFailover(t *tools, s system, where, dirA, dirB string, lifetime time.Duration, reps int) *failoverResult {
	r := &failoverResult{System: s.key, Where: where, Lifetime: lifetime.String()}
	if ok, why := t.has(s); !ok {
		r.Err = why
		return r
	}
	for i := range reps {
		sub := fmt.Sprintf("failover-%s-%d-%d", s.key, os.Getpid(), i)
		if err := os.Mkdir(filepath.Join(dirA, sub), 0o755); err != nil {
			r.Err = err.Error()
			return r
		}
		secs, err := failoverOnce(t, s, filepath.Join(dirA, sub, s.lock), filepath.Join(dirB, sub, s.lock), lifetime)
		_ = os.RemoveAll(filepath.Join(dirA, sub))
		if err != nil && secs == 0 {
			r.Err = err.Error()
			return r
		}
		if err != nil {
			r.Notes = append(r.Notes, err.Error())
		}
		r.Secs = append(r.Secs, secs)
		logf("failover %s %s: %.2f s", s.key, where, secs)
	}
	sorted := append([]float64(nil), r.Secs...)
	sort.Float64s(sorted)
	r.Median = median(sorted)
	return r
}

func failoverCmd(t *tools, s system, role, path string, lifetime time.Duration) *exec.Cmd {
	switch s.key {
	case sysC.key:
		return exec.Command(t.lockdrv, role, path)
	case sysPy.key:
		return exec.Command(t.python, t.pydrv, role, path, strconv.FormatFloat(lifetime.Seconds(), 'f', -1, 64))
	}
	return exec.Command(self(), "worker", role, "-system", s.key, "-path", path, "-lifetime", lifetime.String())
}

// expect reads lines from sc until one starts with word, and returns its
// CLOCK_MONOTONIC stamp; it gives up after timeout.
func expect(sc *bufio.Scanner, word string, timeout time.Duration) (int64, error) {
	type res struct {
		ns  int64
		err error
	}
	ch := make(chan res, 1)
	go func() {
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && f[0] == word {
				ns, err := strconv.ParseInt(f[1], 10, 64)
				ch <- res{ns, err}
				return
			}
		}
		ch <- res{0, fmt.Errorf("no %q line (%v)", word, sc.Err())}
	}()
	select {
	case x := <-ch:
		return x.ns, x.err
	case <-time.After(timeout):
		return 0, fmt.Errorf("no %q line within %v", word, timeout)
	}
}

// tailWriter keeps the last line written to it, and copies everything to
// os.Stderr.
type tailWriter struct {
	mu   sync.Mutex
	last string
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if l := strings.TrimSpace(string(p)); l != "" {
		w.last = l[strings.LastIndex(l, "\n")+1:]
	}
	return os.Stderr.Write(p)
}

func (w *tailWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// startPiped starts cmd with its stdout readable line by line; the last
// line of its stderr goes into errors (errTail).
func startPiped(cmd *exec.Cmd) (*bufio.Scanner, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = new(tailWriter)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return bufio.NewScanner(out), nil
}

func errTail(cmd *exec.Cmd) string {
	if w, ok := cmd.Stderr.(*tailWriter); ok {
		return w.String()
	}
	return ""
}

// mountType is the type of the filesystem mounted where path is, from
// /proc/self/mounts ("fuse.sshfs", "ext4", ...).
func mountType(path string) string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return fsTypeName(path)
	}
	best, typ := -1, fsTypeName(path)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		if m := f[1]; (path == m || strings.HasPrefix(path, strings.TrimSuffix(m, "/")+"/")) && len(m) > best {
			best, typ = len(m), f[2]
		}
	}
	return typ
}

func failoverOnce(t *tools, s system, pathA, pathB string, lifetime time.Duration) (float64, error) {
	holder := failoverCmd(t, s, "hold", pathA, lifetime)
	hout, err := startPiped(holder)
	if err != nil {
		return 0, err
	}
	killHolder := func() {
		if holder.ProcessState == nil {
			_ = holder.Process.Kill()
			_ = holder.Wait() // reaped: its pid is gone, as after a crash
		}
	}
	defer killHolder()
	if _, err := expect(hout, "held", 30*time.Second); err != nil {
		return 0, fmt.Errorf("holder: %w: %s", err, errTail(holder))
	}
	waiter := failoverCmd(t, s, "wait", pathB, lifetime)
	wout, err := startPiped(waiter)
	if err != nil {
		return 0, err
	}
	defer func() {
		if waiter.ProcessState == nil {
			_ = waiter.Process.Kill()
			_ = waiter.Wait()
		}
	}()
	if _, err := expect(wout, "start", 30*time.Second); err != nil {
		return 0, fmt.Errorf("waiter: %w: %s", err, errTail(waiter))
	}
	time.Sleep(600 * time.Millisecond) // the waiter has looked, and seen a refresh
	kill := mono()
	killHolder()
	acq, err := expect(wout, "acq", 5*time.Minute)
	if err != nil {
		return 0, fmt.Errorf("waiter: %w: %s", err, errTail(waiter))
	}
	secs := float64(acq-kill) / 1e9
	if err := waiter.Wait(); err != nil {
		// It acquired: the time stands, and the failure after it is noted.
		return secs, fmt.Errorf("waiter, after acquiring: %w: %s", err, errTail(waiter))
	}
	return secs, nil
}
