package main

import (
	"math/rand/v2"
	"path/filepath"
	"sort"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// fsDir is a benchmark directory on one kind of filesystem.
type fsDir struct {
	Name string // "ext4", "tmpfs", ...
	Path string
}

type cycleResult struct {
	System string    `json:"system"`
	FS     string    `json:"fs"`
	Median float64   `json:"median_us"` // µs per cycle, median of the rounds
	Min    float64   `json:"min_us"`
	Max    float64   `json:"max_us"`
	Batch  int       `json:"batch"`
	Rounds []float64 `json:"rounds_us"`
	Err    string    `json:"error,omitempty"`
}

// runCycles measures the uncontended cycle of every system on every
// directory, interleaved: each round runs one batch of every (system,
// directory) pair in a fresh random order, so that noise lands on all.
func runCycles(dirs []fsDir, t *tools, rounds int, batchTime time.Duration) []*cycleResult {
	type job struct {
		res *cycleResult
		c   cycler
	}
	var jobs []*job
	var results []*cycleResult
	for _, d := range dirs {
		for _, s := range cycleSystems {
			r := &cycleResult{System: s.key, FS: d.Name}
			results = append(results, r)
			c, err := newCycler(s, filepath.Join(d.Path, s.lock), t, nil)
			if err != nil {
				r.Err = err.Error()
				continue
			}
			// Warm up (the self-test, page cache, interpreter), then size
			// the batch to about batchTime.
			if _, err := c.run(20); err != nil {
				r.Err = err.Error()
				_ = c.close()
				continue
			}
			el, err := c.run(50)
			if err != nil {
				r.Err = err.Error()
				_ = c.close()
				continue
			}
			per := el / 50
			r.Batch = max(20, min(20000, int(batchTime/max(per, time.Microsecond))))
			jobs = append(jobs, &job{r, c})
		}
	}
	for round := range rounds {
		order := rand.Perm(len(jobs))
		for _, i := range order {
			j := jobs[i]
			if j.res.Err != "" {
				continue
			}
			el, err := j.c.run(j.res.Batch)
			if err != nil {
				j.res.Err = err.Error()
				continue
			}
			j.res.Rounds = append(j.res.Rounds, float64(el.Nanoseconds())/1e3/float64(j.res.Batch))
		}
		logf("cycle: round %d/%d done", round+1, rounds)
	}
	for _, j := range jobs {
		if err := j.c.close(); err != nil && j.res.Err == "" {
			j.res.Err = err.Error()
		}
		if len(j.res.Rounds) > 0 {
			s := append([]float64(nil), j.res.Rounds...)
			sort.Float64s(s)
			j.res.Median = median(s)
			j.res.Min, j.res.Max = s[0], s[len(s)-1]
		}
	}
	return results
}

// countCycle counts the fsops.FS calls of an nfslease system's cycle,
// through a counting wrapper of fsops.OS(): n cycles after one warm-up
// cycle (which runs the once-per-process self-test), by op.
func countCycle(s system, path string, n int) (map[string]float64, error) {
	c := newCounts()
	cy, err := newCycler(s, path, nil, newCountFS(fsops.OS(), c))
	if err != nil {
		return nil, err
	}
	if _, err := cy.run(1); err != nil {
		return nil, err
	}
	before := c.snapshot()
	if _, err := cy.run(n); err != nil {
		return nil, err
	}
	d := diff(before, c.snapshot())
	per := map[string]float64{}
	for op, v := range d {
		per[op] = float64(v) / float64(n)
	}
	return per, nil
}

// median of sorted s.
func median(s []float64) float64 {
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// quantile of sorted s, nearest rank.
func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return 0
	}
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(len(s)-1, i))]
}
