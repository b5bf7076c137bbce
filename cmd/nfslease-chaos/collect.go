//go:build linux

package main

import (
	"fmt"
	"strconv"
	"strings"
)

// stats counts what the workers reported and the parent did.
type stats struct {
	acquisitions, breaks, kills, holderKills, pauses, partitions int
	lost, releasedLost, releaseErrs, acqErrs, crashes, stuck     int
	firstErrs                                                    []string
	holderKillAt                                                 []int64
}

// interval is one critical section: [start, end] on CLOCK_MONOTONIC.
type interval struct {
	id, pid    int
	tok        uint64
	start, end int64
	why        string // done, lost, term, killed
}

// collect takes in one message from a worker: a line it printed ("enter",
// "exit", "released", "broke", "acqerr"), or its death, which ends its
// critical section if it was in one.
func (k *campaign) collect(m msg) {
	st := &k.st
	c := k.children[m.id]
	if m.dead {
		k.tracef("w%d pid %d dead: %s", c.id, c.pid, m.status)
		c.dead = true
		k.alive--
		if c.inside {
			k.ivs = append(k.ivs, interval{c.id, c.pid, c.tok, c.start, m.at, "killed"})
			c.inside = false
		}
		if !c.killed && !(c.termed && m.status == "<nil>") {
			st.crashes++
			st.firstErrs = appendErr(st.firstErrs, fmt.Sprintf("worker %d (pid %d) ended: %s", c.id, c.pid, m.status))
		}
		return
	}
	k.tracef("w%d pid %d %s", c.id, c.pid, m.line)
	f := strings.Fields(m.line)
	if len(f) == 0 {
		return
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
		k.ivs = append(k.ivs, interval{c.id, c.pid, c.tok, c.start, at, f[2]})
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
	default:
		bad()
	}
}

func appendErr(errs []string, e string) []string {
	if len(errs) < 10 {
		errs = append(errs, e)
	}
	return errs
}
