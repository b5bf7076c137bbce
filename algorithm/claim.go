package algorithm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// A flufl.lock claim is one string that is at once the claim file's name
// and the content of the claim (and so of the lock file, a hard link to the
// claim):
//
//	<lockpath>|<host>|<pid>|<field4>
//
// flufl.lock writes a random integer in field 4 and never reads it back.
// This package writes a versioned record there instead, which Python
// ignores:
//
//	nfslease1.l<lifetime in ms>.r<16 hex digits of randomness>
//
// Later fields may be added after the random part (".<letter><value>"); a
// reader ignores letters it does not know. Claims of processes that know
// their identity on their machine add it (see identity.go and
// liveness.go):
//
//	nfslease1.l15000.r<16 hex>.b<boot id, 32 hex>.n<pid namespace inode>.s<start time in ticks>

// recordTag starts field 4 of every claim made by this package.
const recordTag = "nfslease1"

// maxClaimLen bounds a lock file's content: a claim is a path, and no path
// is longer than PATH_MAX (4096 on Linux). Anything larger is not a lock.
const maxClaimLen = 4096

// maxRecordedLifetime bounds a recorded lifetime that a waiter will honour.
// A larger value cannot come from this package (options reject it); a waiter
// treats such a record as carrying no lifetime, which only ever makes it
// wait longer (for the wall-clock rule).
const maxRecordedLifetime = 24 * time.Hour

// claim is a parsed claim string.
type claim struct {
	Lock     string        // field 1: the lock path as the holder wrote it
	Host     string        // field 2
	Pid      int           // field 3, parsed
	PidField string        // field 3, raw (Python's int() accepts "007")
	Field4   string        // field 4, raw
	Lifetime time.Duration // from field 4 if it is our record, else 0
	Ours     bool          // field 4 is a record of this package
	Proc     fsops.ProcID  // the holder's process identity, from field 4 and the pid; zero fields if not recorded
}

var errMalformed = errors.New("malformed claim")

// parseFluflClaim parses a Flufl lock file's content.
func parseFluflClaim(data []byte) (claim, error) { return parseClaim(string(data), fluflSep) }

// parseClaim parses a lock or claim file's content with separator sep. It
// accepts exactly what flufl.lock 6.0 and later accept for breaking: four
// fields with an integer third. It does not check that the claim belongs to
// any particular lock; see claimBaseFor.
func parseClaim(content string, sep byte) (claim, error) {
	if len(content) == 0 || len(content) > maxClaimLen {
		return claim{}, errMalformed
	}
	// A claim is a path: no NUL, no newline (flufl.lock writes none).
	if strings.ContainsAny(content, "\x00\n") {
		return claim{}, errMalformed
	}
	f := strings.Split(content, string(sep))
	if len(f) != 4 || f[0] == "" {
		return claim{}, errMalformed
	}
	pid, err := strconv.Atoi(f[2])
	if err != nil || pid < 0 {
		return claim{}, errMalformed
	}
	c := claim{Lock: f[0], Host: f[1], Pid: pid, PidField: f[2], Field4: f[3]}
	c.Lifetime, c.Ours = parseRecord(f[3])
	if c.Ours {
		c.Proc = parseIdentity(f[3], pid)
	}
	return c, nil
}

// parseRecord parses field 4. It returns ok only for a record of this
// package with a usable lifetime.
func parseRecord(s string) (lifetime time.Duration, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 3 || parts[0] != recordTag {
		return 0, false
	}
	var haveL, haveR bool
	for _, p := range parts[1:] {
		if p == "" {
			return 0, false
		}
		switch p[0] {
		case 'l':
			ms, err := strconv.ParseInt(p[1:], 10, 64)
			if err != nil || ms <= 0 || ms > maxRecordedLifetime.Milliseconds() || haveL {
				return 0, false
			}
			lifetime, haveL = time.Duration(ms)*time.Millisecond, true
		case 'r':
			if len(p) < 2 || haveR {
				return 0, false
			}
			haveR = true
		}
	}
	if !haveL || !haveR {
		return 0, false
	}
	return lifetime, true
}

// formatRecord returns field 4 for a claim of ours.
func formatRecord(lifetime time.Duration, random []byte) string {
	return fmt.Sprintf("%s.l%d.r%x", recordTag, lifetime.Milliseconds(), random)
}

// String formats c back into a claim with separator sep.
func (c claim) String(sep byte) string {
	s := string(sep)
	pid := c.PidField
	if pid == "" {
		pid = strconv.Itoa(c.Pid)
	}
	return c.Lock + s + c.Host + s + pid + s + c.Field4
}
