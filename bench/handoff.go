package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

type handoffResult struct {
	System   string    `json:"system"`
	FS       string    `json:"fs"`
	Procs    int       `json:"processes"`
	Hold     string    `json:"hold"`
	Idle     string    `json:"idle"`
	Duration string    `json:"duration"`
	Acqs     int       `json:"acquisitions"`
	Handoffs int       `json:"handoffs"`
	Retakes  int       `json:"retakes"` // the releaser took it again next while another process waited
	Share    float64   `json:"retake_share"`
	P50      float64   `json:"handoff_p50_ms"`
	P99      float64   `json:"handoff_p99_ms"`
	Max      float64   `json:"handoff_max_ms"`
	WaitP50  float64   `json:"wait_p50_ms"` // from a process starting to wait to its acquisition
	WaitP99  float64   `json:"wait_p99_ms"`
	WaitMax  float64   `json:"wait_max_ms"` // including waits still going on at the end (counted to the end)
	Pending  int       `json:"waiting_at_end"`
	Lat      []float64 `json:"handoffs_ms"`
	Waits    []float64 `json:"waits_ms"` // those pending at the end counted to the end
	Overlaps int       `json:"overlaps"` // acquisitions before the previous holder's release began: must be 0
	Err      string    `json:"error,omitempty"`
}

type hrec struct {
	w            int
	ws, acq, rel int64
}

// runHandoff runs procs processes of system s on one lock in dir, each
// acquiring, holding for hold, releasing and idling for idle, for dur, and
// measures the handoffs (a release by one process to the next acquisition
// by another) from the CLOCK_MONOTONIC stamps the workers print.
//
// exe is the binary of nfslease's workers: "" for this one; another
// (-baseline) labels the result <system>-baseline.
//
// With more than one path in d (mounts of one shared filesystem), worker i
// uses the lock through d[i % len(d)].
func runHandoff(t *tools, s system, exe string, d []fsDir, procs int, hold, idle, dur time.Duration) *handoffResult {
	key := s.key
	if exe == "" {
		exe = self()
	} else {
		key += "-baseline"
	}
	r := &handoffResult{System: key, FS: d[0].Name, Procs: procs, Hold: hold.String(), Idle: idle.String(), Duration: dur.String()}
	if ok, why := t.has(s); !ok {
		r.Err = why
		return r
	}
	start := mono() + (800 * time.Millisecond).Nanoseconds()
	end := start + dur.Nanoseconds()
	num := func(x int64) string { return strconv.FormatInt(x, 10) }
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	var errs []*tailWriter
	for i := range procs {
		path := filepath.Join(d[i%len(d)].Path, "handoff-"+s.lock)
		var cmd *exec.Cmd
		switch s.key {
		case sysC.key:
			cmd = exec.Command(t.lockdrv, "handoff", path, num(hold.Nanoseconds()), num(idle.Nanoseconds()), num(start), num(end))
		case sysPy.key:
			cmd = exec.Command(t.python, t.pydrv, "handoff", path, num(hold.Nanoseconds()), num(idle.Nanoseconds()), num(start), num(end))
		default:
			cmd = exec.Command(exe, "worker", "handoff", "-system", s.key, "-path", path,
				"-hold", hold.String(), "-idle", idle.String(), "-start", num(start), "-end", num(end))
		}
		b, tw := new(bytes.Buffer), new(tailWriter)
		cmd.Stdout, cmd.Stderr = b, tw
		if err := cmd.Start(); err != nil {
			r.Err = err.Error()
			break
		}
		cmds, outs, errs = append(cmds, cmd), append(outs, b), append(errs, tw)
	}
	// Workers stop at end; a waiter asleep in its backoff (liblockfile:
	// 5 s) finishes its sleep first. Those still running long after are
	// killed, by pid.
	type exit struct {
		i   int
		err error
	}
	done := make(chan exit, len(cmds))
	for i, c := range cmds {
		go func() { done <- exit{i, c.Wait()} }()
	}
	exited := make([]bool, len(cmds))
	timeout := time.After(time.Duration(end-mono()) + 20*time.Second)
	for range cmds {
		var e exit
		select {
		case e = <-done:
		case <-timeout:
			for i, c := range cmds {
				if !exited[i] {
					_ = c.Process.Kill()
				}
			}
			if r.Err == "" {
				r.Err = "workers did not stop; killed"
			}
			e = <-done
		}
		exited[e.i] = true
		if e.err != nil && r.Err == "" {
			r.Err = fmt.Sprintf("worker: %v: %s", e.err, errs[e.i])
		}
	}
	var recs, pending []hrec
	for w, b := range outs {
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 {
				continue
			}
			var x [3]int64
			for i := range f {
				x[i], _ = strconv.ParseInt(f[i], 10, 64)
			}
			switch {
			case x[1] == 0 || x[1] >= end:
				// Still waiting at the end (a Python waiter's sleep
				// overshoots its timeout; a flock waiter cannot stop).
				pending = append(pending, hrec{w, x[0], 0, 0})
			case x[1] >= start && x[1] < end:
				recs = append(recs, hrec{w, x[0], x[1], x[2]})
			}
		}
	}
	analyzeHandoffs(r, recs, pending, end)
	return r
}

// analyzeHandoffs computes the figures of r from the acquisitions recs and
// the waits still pending at the end.
func analyzeHandoffs(r *handoffResult, recs, pending []hrec, end int64) {
	sort.Slice(recs, func(i, j int) bool { return recs[i].acq < recs[j].acq })
	r.Acqs = len(recs)
	var waits []float64
	for _, x := range recs {
		waits = append(waits, float64(x.acq-x.ws)/1e6)
	}
	for i := 1; i < len(recs); i++ {
		prev, cur := recs[i-1], recs[i]
		if cur.acq < prev.rel {
			r.Overlaps++
		}
		if cur.w != prev.w {
			r.Handoffs++
			r.Lat = append(r.Lat, float64(cur.acq-prev.rel)/1e6)
			continue
		}
		// Did another process wait across this release?
		if waitedAcross(recs, prev) || waitedAcross(pending, prev) {
			r.Retakes++
		}
	}
	if n := r.Handoffs + r.Retakes; n > 0 {
		r.Share = float64(r.Retakes) / float64(n)
	}
	s := append([]float64(nil), r.Lat...)
	sort.Float64s(s)
	if len(s) > 0 {
		r.P50, r.P99, r.Max = quantile(s, 0.5), quantile(s, 0.99), s[len(s)-1]
	}
	sort.Float64s(waits)
	r.WaitP50, r.WaitP99 = quantile(waits, 0.5), quantile(waits, 0.99)
	if len(waits) > 0 {
		r.WaitMax = waits[len(waits)-1]
	}
	r.Pending = len(pending)
	r.Waits = waits
	for _, p := range pending {
		w := float64(end-p.ws) / 1e6
		r.WaitMax = max(r.WaitMax, w)
		r.Waits = append(r.Waits, w)
	}
}

// waitedAcross reports whether a process other than prev's was waiting
// when prev's release began.
func waitedAcross(recs []hrec, prev hrec) bool {
	for _, o := range recs {
		if o.w != prev.w && o.ws <= prev.rel && (o.acq == 0 || o.acq > prev.rel) {
			return true
		}
	}
	return false
}

func (r *handoffResult) String() string {
	return fmt.Sprintf("%s %s n=%d: %d acquisitions, %d handoffs p50 %.2f ms p99 %.2f ms, retakes %d (%.0f%%), wait p50 %.1f ms p99 %.1f ms",
		r.System, r.FS, r.Procs, r.Acqs, r.Handoffs, r.P50, r.P99, r.Retakes, 100*r.Share, r.WaitP50, r.WaitP99)
}
