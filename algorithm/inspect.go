package algorithm

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// Inspect implements Inspector for Strict.
func (strictProtocol) Inspect(fsys fsops.FS, path string, cfg proto.Config, now proto.Instant) (proto.Look, error) {
	if fsys == nil {
		return proto.Look{}, errors.New("algorithm: nil fsops.FS")
	}
	fi, err := fsys.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return proto.Look{}, nil
	case err != nil:
		return proto.Look{}, fmt.Errorf("algorithm: inspecting lock %s: %w", path, err)
	case !fi.Mode.IsDir():
		return proto.Look{}, fmt.Errorf("algorithm: lock path %s holds a %s, not a strict or flufl lock: %w", path, describeMode(fi.Mode), proto.ErrNotLock)
	}
	data, ofi, err := fsys.ReadFile(path+"/"+ownerName, maxRecordLen)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		// No record: a generation being removed, or a directory that is
		// not a lock. Tell them apart by what else it holds.
		names, derr := fsys.ReadDir(path)
		if derr != nil {
			if errors.Is(derr, fs.ErrNotExist) {
				return proto.Look{}, nil
			}
			return proto.Look{}, fmt.Errorf("algorithm: inspecting lock %s: %w", path, derr)
		}
		for _, n := range names {
			if !isLitter(n) {
				return proto.Look{}, fmt.Errorf("algorithm: lock path %s is a directory with no owner record that holds %q: %w", path, n, proto.ErrNotLock)
			}
		}
		return proto.Look{}, nil
	case errors.Is(err, fsops.ErrNotRegular), errors.Is(err, fsops.ErrTooLarge), errors.Is(err, syscall.ELOOP):
		return proto.Look{}, fmt.Errorf("algorithm: lock path %s is a directory whose %q is not an owner record: %w", path, ownerName, proto.ErrNotLock)
	default:
		return proto.Look{}, fmt.Errorf("algorithm: reading lock %s: %w", path, err)
	}
	rec, err := parseOwner(data)
	if err != nil {
		return proto.Look{}, fmt.Errorf("algorithm: lock path %s is a directory whose %q is not an owner record (%d bytes): %w",
			path, ownerName, len(data), proto.ErrNotLock)
	}
	h := &proto.Holder{Protocol: "strict", Claim: rec.Gen, Host: rec.Host, Pid: rec.Pid, Lifetime: rec.Lifetime, Expires: ofi.ModTime}
	h.ThisMachine, h.Dead = localHolder(cfg, rec.proc(), rec.Pid, rec.Host, noMutation)
	return proto.Look{Holder: h, Stale: h.Dead}, nil
}

// Inspect implements Inspector for Flufl. It reads locks made by Python
// flufl.lock too; they record no lifetime.
func (fluflProtocol) Inspect(fsys fsops.FS, path string, cfg proto.Config, now proto.Instant) (proto.Look, error) {
	if fsys == nil {
		return proto.Look{}, errors.New("algorithm: nil fsops.FS")
	}
	if cfg.SkewAllowance == 0 {
		cfg.SkewAllowance = proto.DefaultSkewAllowance
	}
	data, fi, err := fsys.ReadFile(path, maxClaimLen)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		return proto.Look{}, nil
	case errors.Is(err, fsops.ErrNotRegular), errors.Is(err, fsops.ErrTooLarge), errors.Is(err, syscall.ELOOP), errors.Is(err, syscall.EMLINK):
		return proto.Look{}, fmt.Errorf("algorithm: lock path %s: %w: %w", path, proto.ErrNotLock, err)
	default:
		return proto.Look{}, fmt.Errorf("algorithm: reading lock %s: %w", path, err)
	}
	if len(data) == 0 {
		// flufl.lock rewrites its lock in place: a moment of emptiness.
		// Held by someone unknown; Acquire decides later.
		return proto.Look{Holder: &proto.Holder{Protocol: "unknown", Expires: fi.ModTime}}, nil
	}
	c, err := parseClaim(string(data), fluflSep)
	if err != nil || filepath.Base(c.Lock) != filepath.Base(path) {
		return proto.Look{}, fmt.Errorf("algorithm: lock path %s holds a file that is not a lock of this name (%d bytes, mode %v): %w",
			path, fi.Size, fi.Mode, proto.ErrNotLock)
	}
	h := fluflHolder(c, data, fi)
	h.ThisMachine, h.Dead = localHolder(cfg, c.Proc, c.Pid, c.Host, noMutation)
	// Judge's wall-clock rule: stale once expiry + allowance has come.
	stale := h.Dead || cfg.SkewAllowance >= 0 && !fi.ModTime.Add(cfg.SkewAllowance).After(now.Wall)
	return proto.Look{Holder: h, Stale: stale}, nil
}

// fluflHolder describes the holder of a Flufl lock whose content data
// parsed as c.
func fluflHolder(c claim, data []byte, fi fsops.FileInfo) *proto.Holder {
	h := &proto.Holder{Protocol: "flufl.lock", Claim: string(data), Host: c.Host, Pid: c.Pid, Expires: fi.ModTime}
	if c.Ours {
		h.Protocol, h.Lifetime = "flufl", c.Lifetime
	}
	return h
}

// noMutation is the mutation set of a look, which has none.
func noMutation(mutation) bool { return false }
