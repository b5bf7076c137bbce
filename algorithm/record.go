package algorithm

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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
//
// gen is 128 random bits in lower-case hex: it names the generation, and
// no two acquisitions ever share one. host is sanitised as for Flufl
// claims. Readers reject anything else, so that a foreign file at the lock
// path is reported, never removed.
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
}

var errBadRecord = errors.New("malformed owner record")

func (r owner) String() string {
	return fmt.Sprintf("%s\ngen %s\nhost %s\npid %d\nlifetime_ms %d\n",
		recordMagic, r.Gen, r.Host, r.Pid, r.Lifetime.Milliseconds())
}

// parseOwner parses an owner record, strictly.
func parseOwner(data []byte) (owner, error) {
	if len(data) == 0 || len(data) > maxRecordLen || !bytes.HasSuffix(data, []byte("\n")) {
		return owner{}, errBadRecord
	}
	lines := strings.Split(string(data[:len(data)-1]), "\n")
	if len(lines) != 5 || lines[0] != recordMagic {
		return owner{}, errBadRecord
	}
	var r owner
	for i, key := range []string{"gen", "host", "pid", "lifetime_ms"} {
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
		}
	}
	return r, nil
}
