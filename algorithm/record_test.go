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

// TestLastParse: a content seen again is not parsed again, its error
// included; another content is.
func TestLastParse(t *testing.T) {
	calls := 0
	parse := func(data []byte) (int, error) {
		calls++
		if len(data) == 0 {
			return 0, errBadRecord
		}
		return len(data), nil
	}
	var m lastParse[int]
	for i, tc := range []struct {
		data      string
		want      int
		wantErr   bool
		wantCalls int
	}{
		{"ab", 2, false, 1},
		{"ab", 2, false, 1},
		{"abc", 3, false, 2},
		{"", 0, true, 3},
		{"", 0, true, 3},
		{"ab", 2, false, 4},
	} {
		v, err := m.parse([]byte(tc.data), parse)
		if v != tc.want || (err != nil) != tc.wantErr || calls != tc.wantCalls {
			t.Errorf("step %d: parse(%q) = %d, %v after %d calls; want %d, error %v, %d calls", i, tc.data, v, err, calls, tc.want, tc.wantErr, tc.wantCalls)
		}
	}
}
