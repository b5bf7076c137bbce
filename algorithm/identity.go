package algorithm

import (
	"strconv"
	"strings"

	"github.com/nfslease/nfslease/fsops"
)

// The process identity in field 4 of a Flufl claim: three parts after the
// random one, in this order,
//
//	.b<boot id: 32 lower-case hex digits>.n<pid namespace inode>.s<start time in clock ticks>
//
// with the pid taken from field 3. Python flufl.lock never reads field 4,
// and readers of this package ignore letters they do not know, so older
// versions read such claims as before. A claim with any part missing,
// repeated or malformed records no identity (all unknown); it is a lock
// all the same.

// formatIdentity returns the parts of field 4 that record id, or "" if id
// is incomplete.
func formatIdentity(id fsops.ProcID) string {
	if !id.Known() {
		return ""
	}
	return ".b" + id.BootID + ".n" + strconv.FormatUint(id.PidNS, 10) + ".s" + strconv.FormatUint(id.Start, 10)
}

// parseIdentity returns the identity recorded in field4, a record of this
// package, of the process with pid. Fields it cannot find are zero.
func parseIdentity(field4 string, pid int) fsops.ProcID {
	var (
		id                  fsops.ProcID
		haveB, haveN, haveS bool
	)
	parts := strings.Split(field4, ".")
	for _, p := range parts[1:] {
		if p == "" {
			return fsops.ProcID{}
		}
		v := p[1:]
		switch p[0] {
		case 'b':
			if haveB || !fsops.ValidBootID(v) {
				return fsops.ProcID{}
			}
			id.BootID, haveB = v, true
		case 'n', 's':
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil || n == 0 || strconv.FormatUint(n, 10) != v {
				return fsops.ProcID{}
			}
			if p[0] == 'n' {
				if haveN {
					return fsops.ProcID{}
				}
				id.PidNS, haveN = n, true
			} else {
				if haveS {
					return fsops.ProcID{}
				}
				id.Start, haveS = n, true
			}
		}
	}
	if !haveB || !haveN || !haveS || pid <= 0 {
		return fsops.ProcID{}
	}
	id.Pid = pid
	return id
}
