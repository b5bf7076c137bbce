package algorithm

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/nfslease/nfslease/fsops"
)

// notLock returns the error for something at the lock path that is not a
// lock of protocol proto: it names the path and what is there, as far as
// one more look tells (a symbolic link, the other protocol's lock, an
// empty file, ...), and wraps ErrNotLock. Nothing is removed.
func notLock(fsys fsops.FS, path, proto string) error {
	what, other := describeAt(fsys, path)
	hint := ""
	if other != "" && other != proto {
		hint = fmt.Sprintf(" (use algorithm.%s for it)", protocolVar(other))
	}
	return fmt.Errorf("algorithm: lock path %s holds %s, not a %s lock: %w%s", path, what, proto, ErrNotLock, hint)
}

func protocolVar(name string) string {
	if name == "strict" {
		return "Strict"
	}
	return "Flufl"
}

// describeAt says what is at path, for messages, and which protocol made
// it if it is a lock ("strict", "flufl", or "" if none). It only reads.
func describeAt(fsys fsops.FS, path string) (what, proto string) {
	fi, err := fsys.Lstat(path)
	if err != nil {
		return "nothing that can be read (" + errText(err) + ")", ""
	}
	switch {
	case fi.Mode.IsDir():
		data, _, err := fsys.ReadFile(path+"/"+ownerName, maxRecordLen)
		if err == nil {
			if _, perr := parseOwner(data); perr == nil {
				return "a strict lock (a directory holding an owner record, made by algorithm.Strict)", "strict"
			}
		}
		return "a directory", ""
	case fi.Mode.IsRegular():
		data, _, err := fsys.ReadFile(path, maxClaimLen)
		switch {
		case err != nil:
			return "a regular file", ""
		case len(data) == 0:
			return "an empty file", ""
		}
		if c, err := parseClaim(string(data), fluflSep); err == nil && filepath.Base(c.Lock) == filepath.Base(path) {
			if c.Ours {
				return "a flufl lock (a file, made by algorithm.Flufl)", "flufl"
			}
			return "a flufl lock (a file, made by Python flufl.lock)", "flufl"
		}
		return fmt.Sprintf("a regular file that is not a lock (%d bytes)", fi.Size), ""
	}
	return "a " + describeMode(fi.Mode), ""
}

// errText is err's text without the path it names (for a look that failed).
func errText(err error) string {
	var pe interface{ Unwrap() error }
	if errors.As(err, &pe) {
		if inner := pe.Unwrap(); inner != nil {
			return inner.Error()
		}
	}
	return err.Error()
}
