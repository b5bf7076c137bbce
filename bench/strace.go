package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// fsSyscalls are the syscalls counted as filesystem calls: those that act on
// names or file descriptors of files. The rest (futex, mmap, clone, signal
// handling, the runtime's timers) are reported only in the total.
var fsSyscalls = map[string]bool{}

func init() {
	for _, s := range strings.Fields(`open openat openat2 creat close close_range read pread64 readv write pwrite64 writev
		fstat newfstatat stat lstat statx fstatat64 statfs fstatfs link linkat unlink unlinkat rename renameat renameat2
		mkdir mkdirat rmdir utime utimes utimensat futimesat getdents getdents64 fcntl flock fsync fdatasync lseek
		readlink readlinkat access faccessat faccessat2 chmod fchmod fchmodat fchown fchownat ftruncate symlink symlinkat
		inotify_add_watch inotify_rm_watch`) {
		fsSyscalls[s] = true
	}
}

type straceResult struct {
	System string             `json:"system"`
	FS     string             `json:"fs"`
	FSOps  float64            `json:"fs_calls_per_cycle"`
	All    float64            `json:"all_calls_per_cycle"`
	By     map[string]float64 `json:"by_syscall"`
	Err    string             `json:"error,omitempty"`
}

// straceCycle counts the syscalls per cycle of system s with strace -f -c:
// one run of n1 cycles and one of n2, and the difference per cycle, so
// that start-up and warm-up calls cancel out.
func straceCycle(t *tools, s system, d fsDir, tmp string, n1, n2 int) *straceResult {
	r := &straceResult{System: s.key, FS: d.Name}
	if t.strace == "" {
		r.Err = t.why["strace"]
		return r
	}
	if ok, why := t.has(s); !ok {
		r.Err = why
		return r
	}
	path := filepath.Join(d.Path, s.lock)
	var counts [2]map[string]int64
	for i, n := range []int{n1, n2} {
		var argv []string
		switch s.key {
		case sysC.key:
			argv = []string{t.lockdrv, "cycle", path, strconv.Itoa(n)}
		case sysPy.key:
			argv = []string{t.python, t.pydrv, "cycle", path, strconv.Itoa(n)}
		default:
			argv = []string{self(), "worker", "cycle", "-system", s.key, "-path", path, "-n", strconv.Itoa(n)}
		}
		out := filepath.Join(tmp, fmt.Sprintf("strace-%s-%s-%d.txt", s.key, d.Name, n))
		cmd := exec.Command(t.strace, append([]string{"-f", "-c", "-o", out, "--"}, argv...)...)
		cmd.Stderr = os.Stderr
		if b, err := cmd.Output(); err != nil {
			r.Err = fmt.Sprintf("%v: %v (%s)", argv, err, b)
			return r
		}
		m, err := parseStraceSummary(out)
		if err != nil {
			r.Err = err.Error()
			return r
		}
		counts[i] = m
	}
	r.By = map[string]float64{}
	for sc, v := range counts[1] {
		per := float64(v-counts[0][sc]) / float64(n2-n1)
		if per < 0.005 && per > -0.005 {
			continue
		}
		r.By[sc] = per
		r.All += per
		if fsSyscalls[sc] {
			r.FSOps += per
		}
	}
	return r
}

// parseStraceSummary reads the table of strace -c: syscall -> calls.
func parseStraceSummary(path string) (map[string]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// % time, seconds, usecs/call, calls, [errors], syscall
		if len(fields) < 5 || strings.HasPrefix(fields[0], "-") || fields[0] == "%" {
			continue
		}
		name := fields[len(fields)-1]
		if name == "total" {
			continue
		}
		n, err := strconv.ParseInt(fields[3], 10, 64)
		if err != nil {
			continue
		}
		m[name] += n
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: no strace summary", path)
	}
	return m, sc.Err()
}
