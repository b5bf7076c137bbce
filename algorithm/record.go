package algorithm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// The owner record of a Strict lock: a small text file, one "key value"
// per line, in this order:
//
//	nfslease-strict 1
//	gen 9f86d081884c7d659a2feaa0c55ad015
//	host build-7.example.com
//	pid 4242
//	lifetime_ms 15000
//	boot_id 6f1c4c2e8b0c4c5e9f3a1d2e3f4a5b6c
//	pid_ns 4026531836
//	start_ticks 77379
//
// gen is 128 random bits in lower-case hex: it names the generation, and
// no two acquisitions ever share one. host is sanitised as for Flufl
// claims. The last three lines, all or none, identify the holder's process
// on its machine (see liveness.go): the kernel's boot id without dashes,
// the inode of its pid namespace and its start time in clock ticks after
// boot. Records written without them (older versions, systems without
// /proc) have five lines. Readers reject anything else, so that a foreign
// file at the lock path is reported, never removed.
const recordMagic = "nfslease-strict 1"

// maxRecordLen bounds an owner record; a real one is under 200 bytes.
const maxRecordLen = 1024

// genLen is the length of a generation id in hex.
const genLen = 32

type owner struct {
	Gen      string
	Host     string
	Pid      int
	Lifetime time.Duration

	// The holder's process identity: all known, or all zero.
	BootID string
	PidNS  uint64
	Start  uint64
}

// proc returns the process identity the record holds; its fields are zero
// (unknown) if the record holds none.
func (r owner) proc() fsops.ProcID {
	if r.BootID == "" {
		return fsops.ProcID{}
	}
	return fsops.ProcID{BootID: r.BootID, PidNS: r.PidNS, Pid: r.Pid, Start: r.Start}
}

// withProc returns r recording the identity id if it is complete and names
// r's pid, and r without an identity otherwise.
func (r owner) withProc(id fsops.ProcID) owner {
	r.BootID, r.PidNS, r.Start = "", 0, 0
	if id.Known() && id.Pid == r.Pid {
		r.BootID, r.PidNS, r.Start = id.BootID, id.PidNS, id.Start
	}
	return r
}

var errBadRecord = errors.New("malformed owner record")

func (r owner) String() string {
	s := fmt.Sprintf("%s\ngen %s\nhost %s\npid %d\nlifetime_ms %d\n",
		recordMagic, r.Gen, r.Host, r.Pid, r.Lifetime.Milliseconds())
	if r.BootID != "" {
		s += fmt.Sprintf("boot_id %s\npid_ns %d\nstart_ticks %d\n", r.BootID, r.PidNS, r.Start)
	}
	return s
}

// parseOwner parses an owner record, strictly.
func parseOwner(data []byte) (owner, error) {
	if len(data) == 0 || len(data) > maxRecordLen || !bytes.HasSuffix(data, []byte("\n")) {
		return owner{}, errBadRecord
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	keys := []string{"gen", "host", "pid", "lifetime_ms", "boot_id", "pid_ns", "start_ticks"}
	switch {
	case lines[0] != recordMagic:
		return owner{}, errBadRecord
	case len(lines) == 5:
		keys = keys[:4] // no process identity: unknown
	case len(lines) != 8:
		return owner{}, errBadRecord
	}
	var r owner
	for i, key := range keys {
		k, v, ok := strings.Cut(lines[i+1], " ")
		if !ok || k != key || v == "" {
			return owner{}, errBadRecord
		}
		switch key {
		case "gen":
			if len(v) != genLen || strings.ToLower(v) != v {
				return owner{}, errBadRecord
			}
			if _, err := hex.DecodeString(v); err != nil {
				return owner{}, errBadRecord
			}
			r.Gen = v
		case "host":
			if proto.RecordedHost(v) != v {
				return owner{}, errBadRecord
			}
			r.Host = v
		case "pid":
			pid, err := strconv.Atoi(v)
			if err != nil || pid < 0 || strconv.Itoa(pid) != v {
				return owner{}, errBadRecord
			}
			r.Pid = pid
		case "lifetime_ms":
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms <= 0 || ms > maxRecordedLifetime.Milliseconds() || strconv.FormatInt(ms, 10) != v {
				return owner{}, errBadRecord
			}
			r.Lifetime = time.Duration(ms) * time.Millisecond
		case "boot_id":
			if !fsops.ValidBootID(v) {
				return owner{}, errBadRecord
			}
			r.BootID = v
		case "pid_ns", "start_ticks":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 || strconv.FormatUint(n, 10) != v {
				return owner{}, errBadRecord
			}
			if key == "pid_ns" {
				r.PidNS = n
			} else {
				r.Start = n
			}
		}
	}
	return r, nil
}
