package main

import (
	"fmt"
	"sort"
	"strings"
)

func (res *Results) cycle(sys, fs string) *cycleResult {
	for _, c := range res.Cycles {
		if c.System == sys && c.FS == fs && c.Err == "" && c.Median > 0 {
			return c
		}
	}
	return nil
}

func (res *Results) strace(sys, fs string) *straceResult {
	for _, s := range res.Strace {
		if s.System == sys && s.FS == fs && s.Err == "" {
			return s
		}
	}
	return nil
}

func f1(x float64) string { return fmt.Sprintf("%.1f", x) }
func f2(x float64) string { return fmt.Sprintf("%.2f", x) }

// report renders the results as Markdown tables.
func report(res *Results) string {
	var b strings.Builder
	m := res.Machine
	fmt.Fprintf(&b, "# nfslease benchmark results\n\n")
	fmt.Fprintf(&b, "%s; %d CPUs (%s), kernel %s, %s; load average at start %s; quick=%v; took %s.\n",
		m.Date, m.CPUs, m.Model, m.Kernel, m.Go, m.Load, res.Quick, res.Took)
	var vs []string
	for k, v := range res.Versions {
		vs = append(vs, k+" "+v)
	}
	sort.Strings(vs)
	fmt.Fprintf(&b, "Versions: %s.\n", strings.Join(vs, ", "))
	var ds []string
	for _, d := range res.Dirs {
		ds = append(ds, fmt.Sprintf("%s `%s`", d.Name, d.Path))
	}
	fmt.Fprintf(&b, "Directories: %s.\n\n", strings.Join(ds, ", "))

	if len(res.Cycles) > 0 || len(res.Strace) > 0 {
		fss := []string{}
		for _, d := range res.Dirs {
			fss = append(fss, d.Name)
		}
		fmt.Fprintf(&b, "## Uncontended acquire+release cycle\n\n")
		fmt.Fprintf(&b, "Median µs/cycle of the interleaved rounds; ratios are speed-ups (the other's time over this one's): > 1 is faster. ")
		fmt.Fprintf(&b, "Syscalls per cycle from `strace -f -c` (difference of two run lengths, so start-up cancels); \"fs\" counts the file and directory calls, \"all\" every syscall (Go's runtime, Python's interpreter included).\n\n")
		hdr := []string{"system"}
		for _, fs := range fss {
			hdr = append(hdr, fs+" µs")
		}
		for _, fs := range fss {
			hdr = append(hdr, "vs Python flufl.lock ("+fs+")")
		}
		for _, fs := range fss {
			hdr = append(hdr, "vs floor ("+fs+")")
		}
		hdr = append(hdr, "fs syscalls", "all syscalls", "fsops calls")
		row(&b, hdr...)
		row(&b, strings.Split(strings.Repeat("---,", len(hdr)-1)+"---", ",")...)
		for _, s := range cycleSystems {
			cells := []string{s.label}
			for _, fs := range fss {
				if c := res.cycle(s.key, fs); c != nil {
					cells = append(cells, f1(c.Median))
				} else {
					cells = append(cells, "—")
				}
			}
			for _, fs := range fss {
				c, py := res.cycle(s.key, fs), res.cycle(sysPy.key, fs)
				if c != nil && py != nil {
					cells = append(cells, f2(py.Median/c.Median))
				} else {
					cells = append(cells, "—")
				}
			}
			for _, fs := range fss {
				c := res.cycle(s.key, fs)
				var fl *cycleResult
				if s.floor != "" {
					fl = res.cycle(s.floor, fs)
				}
				if c != nil && fl != nil {
					cells = append(cells, f2(fl.Median/c.Median))
				} else {
					cells = append(cells, "—")
				}
			}
			st := res.strace(s.key, fss[0])
			if st != nil {
				cells = append(cells, f1(st.FSOps), f1(st.All))
			} else {
				cells = append(cells, "—", "—")
			}
			if ops, ok := res.FSOps[s.key+"/"+fss[0]]; ok {
				var t float64
				for _, v := range ops {
					t += v
				}
				cells = append(cells, f1(t))
			} else {
				cells = append(cells, "—")
			}
			row(&b, cells...)
		}
		b.WriteString("\n")
		for _, c := range res.Cycles {
			if c.Err != "" {
				fmt.Fprintf(&b, "* %s on %s not measured: %s\n", c.System, c.FS, c.Err)
			}
		}
		for _, s := range res.Strace {
			if s.Err != "" {
				fmt.Fprintf(&b, "* strace of %s on %s failed: %s\n", s.System, s.FS, s.Err)
			}
		}
		b.WriteString("\n")
	}
	if len(res.FSOps) > 0 {
		fmt.Fprintf(&b, "### nfslease's fsops.FS calls per cycle (counting wrapper)\n\n")
		keys := make([]string, 0, len(res.FSOps))
		for k := range res.FSOps {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ops := res.FSOps[k]
			im := map[string]int64{}
			var t float64
			for op, v := range ops {
				im[op] = int64(v*1000 + 0.5)
				t += v
			}
			var parts []string
			for _, op := range sortedOps(im) {
				parts = append(parts, fmt.Sprintf("%s %.2f", op, ops[op]))
			}
			fmt.Fprintf(&b, "* %s: %.2f — %s\n", k, t, strings.Join(parts, ", "))
		}
		b.WriteString("\n")
	}
	if len(res.Strace) > 0 {
		fmt.Fprintf(&b, "### Syscalls per cycle by name (strace -f -c)\n\n")
		for _, s := range res.Strace {
			if s.Err != "" {
				continue
			}
			im := map[string]int64{}
			for k, v := range s.By {
				im[k] = int64(v*1000 + 0.5)
			}
			var parts []string
			for _, k := range sortedOps(im) {
				parts = append(parts, fmt.Sprintf("%s %.2f", k, s.By[k]))
			}
			fmt.Fprintf(&b, "* %s/%s: fs %.1f, all %.1f — %s\n", s.System, s.FS, s.FSOps, s.All, strings.Join(parts, ", "))
		}
		b.WriteString("\n")
	}
	if len(res.Handoff) > 0 {
		fmt.Fprintf(&b, "## Handoff between processes\n\n")
		fmt.Fprintf(&b, "Each process loops: acquire, hold 20 ms, release, idle 10 ms. A handoff is a release by one process and the next acquisition, by another (CLOCK_MONOTONIC stamps of the workers, from the start of the release call). A re-take is the releasing process acquiring next while another process was waiting. Wait is from a process starting to wait to its acquisition (p50/p99 of the waits that ended in an acquisition; the longest includes the waits still going on at the end, counted to the end). Overlaps (an acquisition before the previous holder's release began) must be 0.\n\n")
		row(&b, "system", "processes", "acquisitions", "handoffs", "p50 ms", "p99 ms", "max ms", "re-takes", "wait p50 ms", "wait p99 ms", "longest wait ms", "waiting at end", "overlaps")
		row(&b, "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---")
		for _, r := range res.Handoff {
			handoffRow(&b, r)
		}
		fmt.Fprintf(&b, "\nRe-takes when the holder loops without idling (4 processes, hold 20 ms, idle 0):\n\n")
		row(&b, "system", "processes", "acquisitions", "handoffs", "p50 ms", "p99 ms", "max ms", "re-takes", "wait p50 ms", "wait p99 ms", "longest wait ms", "waiting at end", "overlaps")
		row(&b, "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---")
		for _, r := range res.Retake {
			handoffRow(&b, r)
		}
		if len(res.SharedHandoff) > 0 {
			fmt.Fprintf(&b, "\nThrough two mounts of a shared filesystem (4 processes, alternating mounts, hold 20 ms, idle 10 ms):\n\n")
			row(&b, "system", "processes", "acquisitions", "handoffs", "p50 ms", "p99 ms", "max ms", "re-takes", "wait p50 ms", "wait p99 ms", "longest wait ms", "waiting at end", "overlaps")
			row(&b, "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---")
			for _, r := range res.SharedHandoff {
				handoffRow(&b, r)
			}
		}
		b.WriteString("\n")
		for _, r := range append(append(append([]*handoffResult{}, res.Handoff...), res.Retake...), res.SharedHandoff...) {
			if r.Err != "" {
				fmt.Fprintf(&b, "* %s, %s, %d processes: %s\n", r.System, r.FS, r.Procs, r.Err)
			}
		}
		b.WriteString("\n")
	}
	if len(res.Failover) > 0 || res.Shared != "" {
		fmt.Fprintf(&b, "## Failover after SIGKILL of the holder (lifetime 2 s)\n\n")
		fmt.Fprintf(&b, "From the SIGKILL (holder reaped at once) to the waiter's acquisition; the waiter had been waiting 0.6 s.\n\n")
		row(&b, "system", "where", "failover s (median)", "runs")
		row(&b, "---", "---", "---", "---")
		for _, r := range res.Failover {
			if r.Err != "" {
				row(&b, sysLabel(r.System), r.Where, "—", r.Err)
				continue
			}
			var xs []string
			for _, x := range r.Secs {
				xs = append(xs, f2(x))
			}
			note := strings.Join(xs, ", ")
			if len(r.Notes) > 0 {
				note += fmt.Sprintf("; %d of %d runs then failed: %s", len(r.Notes), len(r.Secs), r.Notes[0])
			}
			row(&b, sysLabel(r.System), r.Where, f2(r.Median), note)
		}
		if len(res.SharedMounts) == 2 {
			fmt.Fprintf(&b, "\n2nd mount: the holder through `%s`, the waiter through `%s`.\n", res.SharedMounts[0], res.SharedMounts[1])
		}
		if res.Shared != "" {
			fmt.Fprintf(&b, "\nThrough a second mount: skipped, %s.\n", res.Shared)
		}
		b.WriteString("\n")
	}
	if len(res.Many) > 0 || len(res.ManyErr) > 0 {
		fmt.Fprintf(&b, "## Many leases in one process (different paths)\n\n")
		fmt.Fprintf(&b, "%s is the syscalls of refreshing as many leases on the same schedule and nothing else (bench/worker.go, manyFloorWorker); the floor's CPU over a system's is how close it comes.\n\n", floorRefresh)
		row(&b, "system", "leases", "per directory", "held", "lifetime", "refresh every", "acquiring all took s", "lost", "CPU % of one core", "floor's CPU / this CPU", "RSS MiB", "peak RSS MiB", "live heap MiB", "open fds / 1,000 leases", "goroutines")
		row(&b, "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---", "---")
		floors := map[string]float64{}
		for _, r := range res.Many {
			if r.System == floorRefresh {
				floors[r.Refresh] = r.CPUPercent
			}
		}
		for _, r := range res.Many {
			ratio := "—"
			if f, ok := floors[r.Refresh]; ok && r.System != floorRefresh && r.CPUPercent > 0 {
				ratio = f2(f / r.CPUPercent)
			}
			row(&b, r.System, fmt.Sprint(r.Leases), fmt.Sprint(r.PerDir), r.Held, r.Lifetime, r.Refresh, f1(r.AcquireSecs), fmt.Sprint(r.Lost), f2(r.CPUPercent), ratio, f1(r.RSSMiB), f1(r.HWMMiB), f1(r.HeapMiB), f1(r.FDsPer1000), fmt.Sprint(r.Goroutines))
		}
		for k, e := range res.ManyErr {
			fmt.Fprintf(&b, "* %s: %s\n", k, e)
		}
		b.WriteString("\n")
	}
	if len(res.Waiters) > 0 || len(res.WaitErr) > 0 {
		fmt.Fprintf(&b, "## Waiter load on the filesystem (default poll schedule)\n\n")
		fmt.Fprintf(&b, "N waiters in one process on a lock another process holds, counted by a counting fsops.FS after a warm-up; every call would be at least one round trip on NFS.\n\n")
		row(&b, "protocol", "waiters", "calls/s per waiter", "same, whole run", "window s", "calls by op (window, all waiters)")
		row(&b, "---", "---", "---", "---", "---", "---")
		for _, r := range res.Waiters {
			var parts []string
			for _, op := range sortedOps(r.By) {
				parts = append(parts, fmt.Sprintf("%s %d", op, r.By[op]))
			}
			row(&b, r.System, fmt.Sprint(r.Waiters), f2(r.PerWaiterS), f2(r.WholeRun), f1(r.Window), strings.Join(parts, ", "))
		}
		for k, e := range res.WaitErr {
			fmt.Fprintf(&b, "* %s: %s\n", k, e)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func handoffRow(b *strings.Builder, r *handoffResult) {
	if r.Err != "" && r.Acqs == 0 {
		row(b, sysLabel(r.System), fmt.Sprint(r.Procs), "—", "—", "—", "—", "—", "—", "—", "—", "—", "—", "—")
		return
	}
	p := func(x float64) string {
		if r.Handoffs == 0 {
			return "—"
		}
		return f2(x)
	}
	row(b, sysLabel(r.System), fmt.Sprint(r.Procs), fmt.Sprint(r.Acqs), fmt.Sprint(r.Handoffs), p(r.P50), p(r.P99), p(r.Max),
		fmt.Sprintf("%d (%.0f%%)", r.Retakes, 100*r.Share), f1(r.WaitP50), f1(r.WaitP99), f1(r.WaitMax), fmt.Sprint(r.Pending), fmt.Sprint(r.Overlaps))
}

func row(b *strings.Builder, cells ...string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}
