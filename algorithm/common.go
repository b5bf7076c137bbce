package algorithm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// defaultPerm is the permission of the files a protocol creates when
// Config.Perm is zero, before the umask.
const defaultPerm fs.FileMode = 0o644

// withDefaults returns cfg with the defaults every protocol shares filled
// in (Perm, Rand), or an error if Perm has bits other than permissions.
func withDefaults(cfg proto.Config) (proto.Config, error) {
	if cfg.Perm == 0 {
		cfg.Perm = defaultPerm
	}
	if cfg.Perm&^fs.ModePerm != 0 {
		return cfg, fmt.Errorf("algorithm: file mode %v has bits other than permissions", cfg.Perm)
	}
	cfg.Rand = randOf(cfg)
	if cfg.PidAlive == nil && cfg.Procs != nil {
		procs := cfg.Procs
		cfg.PidAlive = func(pid int) bool {
			state, _ := procs.Probe(pid)
			return state != fsops.ProcGone // unknown counts as alive
		}
	}
	return cfg, nil
}

// randOf is cfg's source of randomness: Config.Rand, or crypto/rand.
func randOf(cfg proto.Config) io.Reader {
	if cfg.Rand == nil {
		return rand.Reader
	}
	return cfg.Rand
}

// checkLockPath checks what every protocol needs of a lock path and
// returns it absolute, with its directory (with a trailing separator) and
// base name.
func checkLockPath(fsys fsops.FS, path string, cfg proto.Config) (abs, dir, base string, err error) {
	if fsys == nil {
		return "", "", "", errors.New("algorithm: nil fsops.FS")
	}
	if cfg.Lifetime <= 0 {
		return "", "", "", fmt.Errorf("algorithm: lifetime %v must be positive", cfg.Lifetime)
	}
	if path == "" {
		return "", "", "", fmt.Errorf("algorithm: empty lock path: %w", proto.ErrBadPath)
	}
	if strings.ContainsRune(path, 0) {
		return "", "", "", fmt.Errorf("algorithm: lock path %q contains NUL: %w", path, proto.ErrBadPath)
	}
	abs, err = filepath.Abs(path)
	if err != nil {
		return "", "", "", fmt.Errorf("algorithm: lock path %q: %w", path, err)
	}
	dir, base = filepath.Split(abs)
	// filepath.Abs cleans lexically: "x/." would become the lock "x" in
	// the parent directory. A path whose last element is "." or ".."
	// names a directory.
	if last := path[strings.LastIndexByte(path, filepath.Separator)+1:]; last == "." || last == ".." {
		base = ""
	}
	if base == "" || base == "." || base == ".." || strings.HasSuffix(path, string(filepath.Separator)) {
		return "", "", "", fmt.Errorf("algorithm: lock path %q names a directory, not a file: %w", path, proto.ErrBadPath)
	}
	return abs, dir, base, nil
}

// retry calls fn up to four times while it fails with a transient error,
// so that a passing EIO does not leave a file of ours behind. Only for
// calls whose replay is harmless.
func retry(fn func() error) error {
	var err error
	for range 4 {
		if err = fn(); err == nil || !proto.Transient(err) {
			return err
		}
	}
	return err
}

// describeMode names a file type for messages.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "regular file"
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "file of mode " + m.String()
}

// nameMax is the longest file name this package creates (NAME_MAX on Linux
// and the BSDs).
const nameMax = 255

// version is everything about a lock file that a refresh changes. Two
// observations with the same version are "unchanged".
type version struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64 // UnixNano
	content      string
}

// observation is when we first saw a version of the lock.
type observation struct {
	valid   bool
	v       version
	since   time.Duration // monotonic start of the watch
	pending bool          // seen once; the watch starts at the next step
}

// see records a sighting of version v by a step that began at now
// (monotonic), and returns for how long v has been watched unchanged.
//
// A new version starts a pending watch: now is when this step began, which
// may be long before the read that saw the version completed (a call can
// hang for minutes on a hard mount), so it cannot start the watch. The
// next step that sees v again began after that read completed, and starts
// the watch. fromFirstSight (a mutant) starts it at once.
func (o *observation) see(v version, now time.Duration, fromFirstSight bool) time.Duration {
	switch {
	case !o.valid || o.v != v:
		*o = observation{valid: true, v: v, pending: !fromFirstSight, since: now}
	case o.pending:
		o.since, o.pending = now, false
	}
	if o.pending {
		return 0
	}
	return now - o.since
}

func versionOf(data []byte, fi fsops.FileInfo) version {
	v := version{dev: fi.Dev, ino: fi.Ino, size: fi.Size, mtime: fi.ModTime.UnixNano(), content: string(data)}
	if !fi.Ctime.IsZero() {
		v.ctime = fi.Ctime.UnixNano()
	}
	return v
}

// staleMargin is StaleMargin, or none for the mutant that omits it.
func (l *fluflLock) staleMargin() time.Duration {
	if l.mut(mNoStaleMargin) {
		return 0
	}
	return proto.StaleMargin
}

func (l *strictLock) staleMargin() time.Duration {
	if l.mut(mNoStaleMargin) {
		return 0
	}
	return proto.StaleMargin
}

// lastParse keeps the result of parsing the last content it was given: a
// waiter looks at the same lock content poll after poll, and parses it
// once. T must be a plain value (no pointers or slices to share).
type lastParse[T any] struct {
	ok   bool
	data string
	v    T
	err  error
}

// parse returns parse(data), or the kept result if data is what it was
// last given.
func (m *lastParse[T]) parse(data []byte, parse func([]byte) (T, error)) (T, error) {
	if !m.ok || m.data != string(data) {
		v, err := parse(data)
		*m = lastParse[T]{ok: true, data: string(data), v: v, err: err}
	}
	return m.v, m.err
}
