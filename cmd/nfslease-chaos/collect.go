//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// interval is one critical section: [start, end] on CLOCK_MONOTONIC.
type interval struct {
	id, pid    int
	tok        uint64
	start, end int64
	why        string // done, lost, term, killed
}

// nfsCounts are a worker's NFS client counters (nfs3.Stats).
type nfsCounts struct {
	retransmits, reconnects, timeouts, lateReplies uint64
}

type stats struct {
	acquisitions, breaks, kills, holderKills, pauses, partitions int
	lost, releasedLost, releaseErrs, acqErrs, crashes, stuck     int
	firstErrs                                                    []string
	holderKillAt                                                 []int64
}

func appendErr(errs []string, e string) []string {
	if len(errs) < 10 {
		errs = append(errs, e)
	}
	return errs
}

// handle takes one report of a worker, or the news of its death.
func (r *runner) handle(m msg) {
	c := r.children[m.id]
	st := &r.st
	if m.dead {
		r.tracef("w%d pid %d dead: %s", c.id, c.pid, m.status)
		c.dead = true
		r.alive--
		if c.inside {
			r.ivs = append(r.ivs, interval{c.id, c.pid, c.tok, c.start, m.at, "killed"})
			c.inside = false
		}
		if !c.killed && !(c.termed && m.status == "<nil>") {
			st.crashes++
			st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d (pid %d) ended: %s", c.id, c.pid, m.status))
		}
		return
	}
	f := strings.Fields(m.line)
	if len(f) == 0 {
		return
	}
	if f[0] != "nfs" {
		r.tracef("w%d pid %d %s", c.id, c.pid, m.line)
	}
	bad := func() {
		st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d: unexpected line %q", c.id, m.line))
		st.crashes++
	}
	switch f[0] {
	case "enter":
		if len(f) != 3 || c.inside {
			bad()
			return
		}
		tok, err1 := strconv.ParseUint(f[1], 10, 64)
		at, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			bad()
			return
		}
		c.inside, c.tok, c.start = true, tok, at
		st.acquisitions++
	case "exit":
		if len(f) != 3 || !c.inside {
			bad()
			return
		}
		at, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			bad()
			return
		}
		r.ivs = append(r.ivs, interval{c.id, c.pid, c.tok, c.start, at, f[2]})
		c.inside = false
		if f[2] == "lost" {
			st.lost++
		}
	case "released":
		switch {
		case len(f) == 2 && f[1] == "ok":
		case len(f) == 2 && f[1] == "lost":
			st.releasedLost++
		default:
			st.releaseErrs++
			st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d: %s", c.id, m.line))
		}
	case "broke":
		st.breaks++
	case "acqerr":
		st.acqErrs++
		st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d: %s", c.id, m.line))
	case "nfs":
		var v [4]uint64
		if len(f) != 5 {
			bad()
			return
		}
		for i := range v {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				bad()
				return
			}
			v[i] = n
		}
		c.nfs = nfsCounts{v[0], v[1], v[2], v[3]}
	default:
		bad()
	}
}

// report checks the intervals and prints the figures of the run; it
// returns whether the run passed.
func (r *runner) report(ran time.Duration, left string) bool {
	cfg, st := r.cfg, &r.st
	overlaps, tokViol, details := check(r.ivs)
	takeAvg, takeMax := takeovers(st.holderKillAt, r.ivs)
	nfsFigures := ""
	exercised := true // the NFS faults asked for happened
	if r.proxy != nil {
		var n nfsCounts
		for _, c := range r.children {
			n.retransmits += c.nfs.retransmits
			n.reconnects += c.nfs.reconnects
			n.timeouts += c.nfs.timeouts
			n.lateReplies += c.nfs.lateReplies
		}
		ps := &r.proxy.stats
		if n.retransmits == 0 || (cfg.faults.Resets > 0 && ps.resets.Load() == 0) {
			exercised = false
			st.firstErrs = appendErr(st.firstErrs, "the NFS faults were not exercised: no retransmission, or no reset although resets were asked for")
		}
		nfsFigures = fmt.Sprintf(" retransmits=%d reconnects=%d late-replies=%d resets=%d dropped-requests=%d dropped-replies=%d duplicates=%d delayed=%d blackholed=%d",
			n.retransmits, n.reconnects, n.lateReplies, ps.resets.Load(), ps.droppedRequests.Load(), ps.droppedReplies.Load(),
			ps.duplicates.Load(), ps.delayed.Load(), ps.blackholed.Load())
	}
	fmt.Printf("chaos: fs=%s protocol=%s workers=%d mounts=%d duration=%v lifetime=%v acquisitions=%d (%.1f/s) breaks=%d kills=%d (holders %d, takeover avg %v max %v) pauses=%d partitions=%d lost=%d released-lost=%d acquire-errors=%d release-errors=%d crashes=%d stuck=%d%s overlaps=%d token-violations=%d leftover-files=%s\n",
		cfg.fsName, cfg.protocol, cfg.workers, cfg.clients(), ran.Round(time.Second), cfg.lifetime,
		st.acquisitions, float64(st.acquisitions)/ran.Seconds(), st.breaks, st.kills, st.holderKills,
		takeAvg, takeMax, st.pauses, st.partitions, st.lost, st.releasedLost, st.acqErrs, st.releaseErrs,
		st.crashes, st.stuck, nfsFigures, overlaps, tokViol, left)
	for _, e := range st.firstErrs {
		fmt.Println("  " + e)
	}
	for _, d := range details {
		fmt.Println("  violation: " + d)
	}
	violations := overlaps > 0 || (tokViol > 0 && !cfg.tokensReportOnly)
	if violations && cfg.overlapsReportOnly {
		fmt.Printf("chaos: REPORTED (not failed, -overlaps-report-only) fs=%s protocol=%s seed=%d overlaps=%d token-violations=%d\n", cfg.fsName, cfg.protocol, cfg.seed, overlaps, tokViol)
		violations = false
	}
	ok := !violations && st.acquisitions > 0 && exercised
	if !ok {
		fmt.Printf("chaos: FAIL fs=%s protocol=%s seed=%d\n", cfg.fsName, cfg.protocol, cfg.seed)
	}
	return ok
}
