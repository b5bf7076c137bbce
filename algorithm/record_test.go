package algorithm

import (
	"strings"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// FuzzParseOwner checks parseOwner against its own serialisation: any
// input it accepts re-serialises to exactly that input (so two different
// byte strings never name the same owner, and nothing but a record is
// accepted), a record built from the accepted owner parses back to it,
// and it never panics.
func FuzzParseOwner(f *testing.F) {
	valid := owner{Gen: strings.Repeat("0a", 16), Host: "build-7.example.com", Pid: 4242, Lifetime: 15 * time.Second}
	rec := valid.String()
	for _, s := range []string{
		rec,
		owner{Gen: strings.Repeat("f", 32), Host: "h", Pid: 0, Lifetime: time.Millisecond}.String(),
		owner{Gen: strings.Repeat("0", 32), Host: "localhost", Pid: 1 << 22, Lifetime: maxRecordedLifetime}.String(),
		valid.withProc(fsops.ProcID{BootID: strings.Repeat("5e", 16), PidNS: 4026531836, Pid: 4242, Start: 77379}).String(),
		// Near-valid: each must be rejected.
		strings.TrimSuffix(rec, "\n"),
		strings.ReplaceAll(rec, "\n", "\r\n"),
		rec + "extra 1\n",
		strings.Replace(rec, "0a0a", "0A0A", 1),
		strings.Replace(rec, "pid 4242", "pid 04242", 1),
		strings.Replace(rec, "pid 4242", "pid -1", 1),
		strings.Replace(rec, "pid 4242", "pid +4242", 1),
		strings.Replace(rec, "lifetime_ms 15000", "lifetime_ms 0", 1),
		strings.Replace(rec, "lifetime_ms 15000", "lifetime_ms 99999999999999999999", 1),
		strings.Replace(rec, "host build-7.example.com", "host a|b", 1),
		strings.Replace(rec, "host build-7.example.com", "host ", 1),
		strings.Replace(rec, "gen ", "gen  ", 1),
		strings.Replace(rec, "nfslease-strict 1", "nfslease-strict 2", 1),
		"",
		"\n",
		"/etc/passwd",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseOwner(data)
		if err != nil {
			return
		}
		if s := r.String(); s != string(data) {
			t.Fatalf("parseOwner accepted %q, which re-serialises as %q", data, s)
		}
		r2, err := parseOwner([]byte(r.String()))
		if err != nil || r2 != r {
			t.Fatalf("round trip of %+v: %+v, %v", r, r2, err)
		}
	})
}
