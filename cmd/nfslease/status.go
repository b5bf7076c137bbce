//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/nfslease/nfslease/internal/proto"
	"github.com/nfslease/nfslease/lease"
)

// statusJSON is the output of status --json: schema 1, documented in
// docs/cli.md as stable. Fields are only ever added.
type statusJSON struct {
	Schema    int         `json:"schema"`     // 1
	Path      string      `json:"path"`       // the lock path as given
	Abs       string      `json:"abs_path"`   // the lock path, absolute
	State     string      `json:"state"`      // unlocked, held, stale, ours
	Live      bool        `json:"live"`       // held by a live holder as far as one look tells: what --check tests
	At        time.Time   `json:"at"`         // when the look was taken
	LastToken uint64      `json:"last_token"` // the lock's fencing-token counter: the last token minted; 0 if none
	Holder    *holderJSON `json:"holder"`     // null when unlocked
}

type holderJSON struct {
	Protocol    string     `json:"protocol"`      // strict, flufl, flufl.lock (Python), unknown
	Host        string     `json:"host"`          // as recorded
	Pid         int        `json:"pid"`           // as recorded
	Local       bool       `json:"local"`         // the recorded host is this host's name
	Expires     *time.Time `json:"expires"`       // recorded expiry, on the holder's wall clock; null if unknown
	ExpiresInMs *int64     `json:"expires_in_ms"` // expires - at, negative once expired; null if unknown
	LifetimeMs  *int64     `json:"lifetime_ms"`   // recorded lifetime; null if none (Python flufl.lock)
	Token       *uint64    `json:"token"`         // the holder's fencing token; null if the holder mints none (Python) or none yet
	Dead        *bool      `json:"dead"`          // provably dead (true) or alive (false) on this machine; null if it cannot be told
}

func statusCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("status", "nfslease status [--json] [--check] [--local-takeover auto|on|off] LOCKPATH")
	asJSON := fs.Bool("json", false, "print the documented JSON object (docs/cli.md) instead of a line of text")
	check := fs.Bool("check", false, "exit 0 only if a live holder has the lock, 1 otherwise (as lockfile-check)")
	var takeover string
	registerTakeover(fs, &takeover)
	if st, done := parse(fs, "status", args, stdout, stderr); done {
		return st
	}
	if fs.NArg() != 1 || fs.Arg(0) == "" {
		return usageError(stderr, "status", "want exactly one LOCKPATH")
	}
	path := fs.Arg(0)
	info, err := lease.Inspect(path, takeoverOptions(takeover)...)
	if err != nil {
		return failure(stderr, exitError, err)
	}
	if info.State == lease.Unlocked {
		// A lock in a directory that does not exist is a typo, not a
		// free lock.
		if dir := filepath.Dir(path); dir != "" {
			if _, err := os.Stat(dir); err != nil {
				return failure(stderr, exitError, fmt.Errorf("%s: %w", path, err))
			}
		}
	}
	s := toJSON(info)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(s); err != nil {
			return failure(stderr, exitError, err)
		}
	} else {
		line := info.String()
		if info.State != lease.Unlocked && s.Holder.Token != nil {
			line += fmt.Sprintf("; token %d", *s.Holder.Token)
		}
		fmt.Fprintln(stdout, line)
	}
	if *check && !s.Live {
		return exitConflict
	}
	return exitOK
}

func toJSON(info lease.Info) statusJSON {
	s := statusJSON{Schema: 1, Path: info.Path, State: info.State.String(), At: info.At, LastToken: info.Token}
	s.Abs = info.Path
	if abs, err := filepath.Abs(info.Path); err == nil {
		s.Abs = abs
	}
	if info.State == lease.Unlocked {
		return s
	}
	s.Live = info.State == lease.Held || info.State == lease.Ours
	h := &holderJSON{Protocol: info.Protocol, Host: info.Host, Pid: info.Pid}
	if host, err := os.Hostname(); err == nil {
		h.Local = info.Host == proto.RecordedHost(host)
		if info.ThisMachine {
			dead := info.Dead
			h.Dead = &dead
		}
	}
	if !info.Expires.IsZero() {
		e := info.Expires
		in := info.Expires.Sub(info.At).Milliseconds()
		h.Expires, h.ExpiresInMs = &e, &in
	}
	if info.Lifetime > 0 {
		ms := info.Lifetime.Milliseconds()
		h.LifetimeMs = &ms
	}
	if (info.Protocol == "strict" || info.Protocol == "flufl") && info.Token > 0 {
		tok := info.Token
		h.Token = &tok
	}
	s.Holder = h
	return s
}
