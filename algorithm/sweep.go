package algorithm

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// maxSweep bounds the leftover claim files one acquisition removes, so
// that an attempt stays a bounded step however many crashes came before.
// Each acquisition removes up to this many, so leftovers stay bounded as
// long as crashes are not more frequent than acquisitions by this factor.
const maxSweep = 8

// sweep removes leftover claim files of this lock made by processes of this
// package on this host that crashed (or were killed) while waiting or
// holding: a crash leaves its claim file, and without a sweep such files
// accumulate in the lock directory forever. A claim left empty (killed between
// creating and writing it) is removed too, once its pid is gone and it is
// older than its lifetime plus StaleMargin.
//
// A name is a leftover only if all of these hold:
//
//   - it is a claim of this very lock (its first field is our lock path),
//     made by this package (its fourth field records a lifetime), by a
//     process on this host (its host field is ours), and it is not ours;
//   - it is a regular file whose content is its own path, as every claim
//     is, and it is not what the lock holds now;
//   - it has not been touched for a long time: every attempt touches the
//     claim, and attempts are at most one lifetime apart. Its mtime is its
//     last touch plus its recorded lifetime L. If Config.PidAlive reports
//     its pid is not running, it must be untouched for L + StaleMargin;
//     otherwise (the pid runs, or was reused, or liveness is unknown) for
//     2L + StaleMargin, and a process that has made no attempt for that
//     long loses nothing but its claim file, which it makes again.
//
// It is removed the careful way (moved to our tomb, checked to be the very
// version judged, put back otherwise), so a claim touched or linked as the
// lock meanwhile survives. Errors are ignored: a leftover harms no one.
// It reports whether it looked at every name: false if it could not list
// or read the lock, or stopped at its bound of maxSweep removals.
func (l *fluflLock) sweep(now proto.Instant) bool {
	lock, _, err := l.fs.ReadFile(l.path, maxClaimLen)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false // cannot tell what the lock holds: leave everything alone
	}
	names, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return false
	}
	host := proto.RecordedHost(l.cfg.Hostname)
	prefix := l.base + string(fluflSep) + host + string(fluflSep)
	ourName := filepath.Base(l.claim)
	removed := 0
	for _, name := range names {
		if removed >= maxSweep {
			return false
		}
		if !strings.HasPrefix(name, prefix) || name == ourName {
			continue
		}
		full := l.dir + name
		if strings.HasSuffix(name, tombSuffix) {
			if l.deadTomb(full, host) && l.fs.Remove(full) == nil {
				removed++
			}
			continue
		}
		c, err := parseClaim(full, fluflSep)
		if err != nil || c.Lock != l.path || c.Host != host || !c.Ours {
			continue
		}
		data, fi, err := l.fs.ReadFile(full, maxClaimLen)
		if err == nil && len(data) == 0 && l.emptyLeftover(c, fi, now) {
			// Killed between creating its claim and writing it.
			if ok, _ := l.removeIfUnchanged(full, versionOf(data, fi)); ok {
				removed++
			}
			continue
		}
		if err != nil || string(data) != full || string(lock) == full {
			continue
		}
		untouched := now.Wall.Sub(fi.ModTime.Add(-c.Lifetime))
		limit := 2*c.Lifetime + proto.StaleMargin
		if l.cfg.PidAlive != nil && c.Pid > 0 && !l.cfg.PidAlive(c.Pid) {
			limit = c.Lifetime + proto.StaleMargin
		}
		if untouched <= limit {
			continue
		}
		if ok, _ := l.removeIfUnchanged(full, versionOf(data, fi)); ok {
			removed++
		}
	}
	return true
}

// deadTomb reports whether full is the tomb of a breaker of this lock, on
// this host, whose process is no longer running: it crashed between moving
// a lock aside and removing or restoring it. The name is derived from that
// process's unique claim, so no one else will ever use it, and it can be
// removed by name. (Whatever it holds was moved away from the lock name
// already; its holder, if alive, finds out at its next refresh.)
func (l *fluflLock) deadTomb(full, host string) bool {
	if l.cfg.PidAlive == nil || full == l.tomb() {
		return false
	}
	c, err := parseClaim(strings.TrimSuffix(full, tombSuffix), fluflSep)
	if err != nil || c.Lock != l.path || c.Host != host || !c.Ours || c.Pid <= 0 || l.cfg.PidAlive(c.Pid) {
		return false
	}
	// What a tomb holds is a lock of this name; anything else at such a
	// name is not ours.
	data, _, err := l.fs.ReadFile(full, maxClaimLen)
	if err != nil {
		return false
	}
	v, err := parseClaim(string(data), fluflSep)
	return err == nil && filepath.Base(v.Lock) == l.base
}

// emptyLeftover reports whether an empty file with the name of claim c,
// with attributes fi, is what a process of this host left when it died
// between creating its claim and writing it: its pid is no longer running
// and the file (never touched: its mtime is its creation) is older than
// the claim's lifetime plus StaleMargin.
func (l *fluflLock) emptyLeftover(c claim, fi fsops.FileInfo, now proto.Instant) bool {
	return l.cfg.PidAlive != nil && c.Pid > 0 && !l.cfg.PidAlive(c.Pid) &&
		fi.IsRegular() && now.Wall.Sub(fi.ModTime) > c.Lifetime+proto.StaleMargin
}
