package proto

import (
	"strconv"
	"strings"

	"github.com/nfslease/nfslease/fsops"
)

// tokenInfix separates a lock's base name from the counter's value.
const tokenInfix = ".token."

// TokenName returns the name, in the lock's directory, of the counter file
// of the lock named base when its value is n.
func TokenName(base string, n uint64) string {
	return "." + base + tokenInfix + strconv.FormatUint(n, 10)
}

// ParseTokenName reports whether name is a counter file name of the lock
// named base, and returns its value. Numbers with leading zeros, signs or
// anything else are not counter names.
func ParseTokenName(name, base string) (uint64, bool) {
	digits, ok := strings.CutPrefix(name, "."+base+tokenInfix)
	if !ok || digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// CurrentToken returns the counter's value for the lock named base in dir
// (with a trailing separator), as one listing shows it: the largest value
// listed, and false if there is no counter yet. It changes nothing.
func CurrentToken(fsys fsops.FS, dir, base string) (uint64, bool, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return 0, false, err
	}
	n, _, ok := MaxToken(names, base)
	return n, ok, nil
}

// MaxToken returns the largest counter value among names, and all values
// listed.
func MaxToken(names []string, base string) (uint64, []uint64, bool) {
	var (
		top   uint64
		all   []uint64
		found bool
	)
	for _, name := range names {
		if n, ok := ParseTokenName(name, base); ok {
			all = append(all, n)
			if !found || n > top {
				top, found = n, true
			}
		}
	}
	return top, all, found
}
