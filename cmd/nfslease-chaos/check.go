//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/lease"
)

// check returns the number of overlapping pairs of intervals and of token
// violations (a token seen twice, or an interval whose token is not above
// that of an interval that ended before it started), with details.
func check(ivs []interval) (overlaps, tokViol int, details []string) {
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].start < ivs[j].start })
	seen := make(map[uint64]int)
	desc := func(v interval) string {
		return fmt.Sprintf("w%d(pid %d tok %d [%d,%d] %s)", v.id, v.pid, v.tok, v.start, v.end, v.why)
	}
	note := func(s string) {
		if len(details) < 20 {
			details = append(details, s)
		}
	}
	for i, v := range ivs {
		if j, dup := seen[v.tok]; dup {
			tokViol++
			note("token reused: " + desc(ivs[j]) + " and " + desc(v))
		}
		seen[v.tok] = i
		var maxEnded uint64 // the largest token of an interval that ended before v started
		ended := false
		for _, u := range ivs[:i] {
			if u.end > v.start {
				overlaps++
				note(fmt.Sprintf("overlap %.3f ms: %s and %s", float64(min(u.end, v.end)-v.start)/1e6, desc(u), desc(v)))
				continue
			}
			ended = true
			maxEnded = max(maxEnded, u.tok)
		}
		if ended && v.tok <= maxEnded {
			tokViol++
			note(fmt.Sprintf("token %d not above %d of an earlier holder: %s", v.tok, maxEnded, desc(v)))
		}
	}
	return overlaps, tokViol, details
}

// takeovers returns the mean and longest time from the SIGKILL of a holder
// to the next holder's entry.
func takeovers(kills []int64, ivs []interval) (avg, longest time.Duration) {
	var sum time.Duration
	n := 0
	for _, k := range kills {
		next := int64(-1)
		for _, v := range ivs {
			if v.start > k && (next < 0 || v.start < next) {
				next = v.start
			}
		}
		if next < 0 {
			continue
		}
		d := time.Duration(next - k)
		sum += d
		longest = max(longest, d)
		n++
	}
	if n > 0 {
		avg = sum / time.Duration(n)
	}
	return avg.Round(time.Millisecond), longest.Round(time.Millisecond)
}

// leftovers describes what is left in the lock directory, by kind.
func leftovers(fsys fsops.FS, dir string) (string, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return "", err
	}
	counts := map[string]int{}
	for _, n := range names {
		var kind string
		switch {
		case n == "job.lock":
			kind = "lock"
		case strings.HasPrefix(n, ".job.lock.token."):
			kind = "token"
		case strings.HasPrefix(n, ".job.lock.stage."):
			kind = "stage"
		case strings.HasPrefix(n, ".job.lock.gc."):
			kind = "gc"
		case strings.HasPrefix(n, "job.lock|") && strings.HasSuffix(n, ".break"):
			kind = "tomb"
		case strings.HasPrefix(n, "job.lock|"):
			kind = "claim"
		case strings.HasPrefix(n, ".nfslease-selftest."):
			kind = "selftest"
		case strings.HasPrefix(n, ".fuse_hidden"):
			kind = "fuse_hidden"
		default:
			kind = "other"
		}
		counts[kind]++
	}
	if len(counts) == 0 {
		return "none", nil
	}
	var parts []string
	for k, n := range counts {
		parts = append(parts, fmt.Sprintf("%s:%d", k, n))
	}
	sort.Strings(parts)
	return strings.Join(parts, ","), nil
}

// checkUnsupported checks that the protocol refuses the filesystem of the
// first mount: TryAcquire must fail with algorithm.ErrUnsupportedFS,
// naming the directory, and leave nothing behind.
func checkUnsupported(cfg *config) error {
	dir := filepath.Join(cfg.mounts[0], "chaos", fmt.Sprintf("unsupported-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	proto := algorithm.Flufl
	if cfg.protocol == "strict" {
		proto = algorithm.Strict
	}
	_, release, err := lease.TryAcquire(context.Background(), filepath.Join(dir, "job.lock"), lease.WithProtocol(proto), lease.WithLifetime(cfg.lifetime))
	if err == nil {
		_ = release()
		return fmt.Errorf("%s on %s: acquired, want algorithm.ErrUnsupportedFS", cfg.protocol, cfg.fsName)
	}
	if !errors.Is(err, algorithm.ErrUnsupportedFS) || !strings.Contains(err.Error(), dir) {
		return fmt.Errorf("%s on %s: %v, want algorithm.ErrUnsupportedFS naming %s", cfg.protocol, cfg.fsName, err, dir)
	}
	names, rerr := os.ReadDir(dir)
	if rerr != nil {
		return rerr
	}
	if len(names) != 0 {
		return fmt.Errorf("%s on %s: refused, but left %d files in %s", cfg.protocol, cfg.fsName, len(names), dir)
	}
	fmt.Printf("chaos: fs=%s protocol=%s refused as it should be: %v\n", cfg.fsName, cfg.protocol, err)
	return nil
}
