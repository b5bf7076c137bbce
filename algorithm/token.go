package algorithm

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"syscall"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

// The fencing-token counter of a lock is one small regular file next to
// the lock, ".<base>.token.<N>", whose name is the last token minted. A
// token is minted by renaming ".<base>.token.<N>" to ".<base>.token.<N+1>":
// the source name vanishes, so for a given N exactly one rename succeeds,
// and no two acquirers ever get the same token. A replayed rename finds
// the source gone (ENOENT) and mints nothing. See docs/fencing.md.
//
// The counter is not part of the lock's on-disk format: the lock file
// (Flufl) and generation directory (Strict) are unchanged, so Python
// flufl.lock still interoperates; it simply ignores the counter.

// maxMintTries bounds one mint: each try lists the directory and renames
// the counter once.
const maxMintTries = 16

// mintVerified mints the next token of the lock named base in dir for a
// holder, then runs verify, which checks the lock is still ours: a token
// minted after the lock was lost is never handed out. mut reports the
// lock's deliberate bugs (see mutation).
//
// Tokens follow the counter's order on the server: a token is above every
// token handed out before its mint began. Between two holders that
// overlap (a lock that failed) the order in which they are handed out may
// differ from it; a resource that keeps the largest token seen still
// refuses the older holder.
func mintVerified(fsys fsops.FS, dir, base string, cfg proto.Config, verify func(tok uint64) error, mut func(mutation) bool) (uint64, error) {
	tok, err := mintToken(fsys, dir, base, cfg.Perm, cfg.Hints, mut)
	if err != nil || mut(mMintUnverified) {
		return tok, err
	}
	if err := verify(tok); err != nil {
		return 0, err
	}
	return tok, nil
}

// mintToken mints the next token of the lock named base in dir (with a
// trailing separator). A token is returned only when our own rename
// succeeded: on ENOENT (someone else minted, or a replay of ours did) or
// a transient error (the rename may or may not have been applied) it
// lists the directory again and mints from the new largest value, never
// adopting an ambiguous result. After a success it removes counter files
// with smaller values that a stale listing or a replayed create left,
// never larger ones. The first try starts from the value in hints, if it
// has one, without a listing.
func mintToken(fsys fsops.FS, dir, base string, perm fs.FileMode, hints *proto.Hints, mut func(mutation) bool) (uint64, error) {
	key := dir + base
	hint, useHint := hints.Token(key)
	var lastErr error
	for range maxMintTries {
		var (
			top, all, ok = hint, []uint64(nil), true
			err          error
		)
		if !useHint {
			var names []string
			names, err = fsys.ReadDir(dir)
			if err != nil {
				if proto.Transient(err) {
					lastErr = err
					continue
				}
				return 0, fmt.Errorf("algorithm: listing %s for the token counter: %w", dir, err)
			}
			top, all, ok = proto.MaxToken(names, base)
		}
		if !ok {
			// First use: create the counter at 0, then list again, even
			// after a success: our own change makes an NFS client drop
			// its cached listing, so a counter that a stale listing hid
			// shows now, and the mint continues from it (and removes
			// ours). EEXIST means another acquirer (or our replayed
			// create) made it.
			_, err := fsys.CreateExcl(dir+proto.TokenName(base, 0), nil, perm)
			switch {
			case err == nil, errors.Is(err, fs.ErrExist), errors.Is(err, syscall.EPERM):
			case proto.Transient(err):
				lastErr = err
			default:
				return 0, fmt.Errorf("algorithm: creating token counter %s: %w", dir+proto.TokenName(base, 0), err)
			}
			continue
		}
		useHint = false
		if top == math.MaxUint64 {
			return 0, fmt.Errorf("algorithm: token counter %s is exhausted", dir+proto.TokenName(base, top))
		}
		err = fsys.Rename(dir+proto.TokenName(base, top), dir+proto.TokenName(base, top+1))
		switch {
		case err == nil:
			hints.SetToken(key, top+1)
			for _, n := range all {
				if n < top {
					_ = fsys.Remove(dir + proto.TokenName(base, n)) // best effort: litter harms no one
				}
			}
			return top + 1, nil
		case proto.Transient(err) && mut(mMintAdoptAmbiguous):
			return top + 1, nil
		case errors.Is(err, fs.ErrNotExist), proto.Transient(err):
			lastErr = err
		default:
			return 0, fmt.Errorf("algorithm: minting token (renaming %s): %w", dir+proto.TokenName(base, top), err)
		}
	}
	if !proto.Transient(lastErr) {
		// Others kept minting first: contention, worth retrying. EAGAIN
		// comes first, for proto.Transient looks at the first errno in
		// the error's tree, which would otherwise be the rename's ENOENT.
		return 0, fmt.Errorf("algorithm: minting a token for %s%s: gave up after %d tries, others minting first (%w): %w", dir, base, maxMintTries, syscall.EAGAIN, lastErr)
	}
	return 0, fmt.Errorf("algorithm: minting a token for %s%s: gave up after %d tries: %w", dir, base, maxMintTries, lastErr)
}
