package fsops_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/nfslease/nfslease/fsops"
)

// statLine builds a /proc/PID/stat line with the given pid, command name
// and start time (field 22), the other fields as a real one has them.
func statLine(pid int, comm string, start uint64) string {
	f := make([]string, 52-2)
	for i := range f {
		f[i] = strconv.Itoa(i + 3)
	}
	f[0] = "S"
	f[22-3] = strconv.FormatUint(start, 10)
	return fmt.Sprintf("%d (%s) %s\n", pid, comm, strings.Join(f, " "))
}

func TestParseStat(t *testing.T) {
	real := "14481 (cat) R 14479 14479 3890 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 77379 3133440 381 18446744073709551615 93986789052416 93986789072297 140731633747856 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 93986789088304 93986789089920 93987731460096 140731633748675 140731633748695 140731633748695 140731633749995 0\n"
	for _, tc := range []struct {
		name  string
		line  string
		pid   int
		start uint64
		ok    bool
	}{
		{"real", real, 14481, 77379, true},
		{"no newline", strings.TrimSuffix(real, "\n"), 14481, 77379, true},
		{"spaces in comm", statLine(7, "a b  c", 99), 7, 99, true},
		{"parentheses in comm", statLine(7, "x) R 1 2 3 (y", 42), 7, 42, true},
		{"only a closing parenthesis", statLine(7, ")", 42), 7, 42, true},
		{"empty comm", statLine(7, "", 42), 7, 42, true},
		{"comm with newline", statLine(7, "a\nb", 42), 7, 42, true},
		{"old kernel, 22 fields exactly", "5 (sh) S " + strings.Repeat("0 ", 18) + "123", 5, 123, true},
		{"21 fields", "5 (sh) S " + strings.Repeat("0 ", 17) + "123", 0, 0, false},
		{"empty", "", 0, 0, false},
		{"no comm", "5 S 1 2 3", 0, 0, false},
		{"pid 0", statLine(0, "x", 1), 0, 0, false},
		{"negative pid", statLine(-5, "x", 1), 0, 0, false},
		{"pid with a plus", strings.Replace(statLine(5, "x", 1), "5", "+5", 1), 0, 0, false},
		{"pid with leading zero", "0" + statLine(5, "x", 1), 0, 0, false},
		{"no space before comm", "5(x) " + strings.Repeat("0 ", 19) + "1", 0, 0, false},
		{"no space after comm", "5 (x)" + strings.Repeat("0 ", 19) + "1", 0, 0, false},
		{"double spaces", strings.ReplaceAll(statLine(5, "x", 1), " ", "  "), 0, 0, false},
		{"start not a number", strings.Replace(statLine(5, "x", 777), "777", "7a7", 1), 0, 0, false},
		{"start with leading zero", strings.Replace(statLine(5, "x", 777), " 777 ", " 0777 ", 1), 0, 0, false},
		{"start over 64 bits", strings.Replace(statLine(5, "x", 777), "777", "18446744073709551616", 1), 0, 0, false},
		{"opening parenthesis after the closing", "5 )x( S 1", 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, start, err := fsops.ParseStat([]byte(tc.line))
			if ok := err == nil; ok != tc.ok || pid != tc.pid || start != tc.start {
				t.Errorf("ParseStat(%q) = %d, %d, %v; want %d, %d, ok %v", tc.line, pid, start, err, tc.pid, tc.start, tc.ok)
			}
		})
	}
}

// FuzzParseStat checks that ParseStat never panics, finds the pid and start
// time of any well-formed line whatever the command name holds, and
// accepts nothing without a positive canonical pid and a start field.
func FuzzParseStat(f *testing.F) {
	f.Add(4242, "nfslease-worker", uint64(77379), []byte(statLine(1, "init", 3)))
	f.Add(1, ") S 1 2 (", uint64(1), []byte("1 (a) b"))
	f.Add(99, "x\n)", uint64(1<<63), []byte(""))
	f.Fuzz(func(t *testing.T, pid int, comm string, start uint64, raw []byte) {
		if pid > 0 {
			line := statLine(pid, comm, start)
			gotPid, gotStart, err := fsops.ParseStat([]byte(line))
			if err != nil || gotPid != pid || gotStart != start {
				t.Fatalf("ParseStat(%q) = %d, %d, %v; want %d, %d", line, gotPid, gotStart, err, pid, start)
			}
		}
		gotPid, _, err := fsops.ParseStat(raw)
		if err != nil {
			return
		}
		if gotPid <= 0 || !strings.HasPrefix(string(raw), strconv.Itoa(gotPid)+" (") {
			t.Fatalf("ParseStat(%q) accepted pid %d", raw, gotPid)
		}
	})
}

func TestParseBootID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"a8d4a5fa-e9ea-4c3f-a950-15c2322ca7f8\n", "a8d4a5fae9ea4c3fa95015c2322ca7f8", true},
		{"a8d4a5fa-e9ea-4c3f-a950-15c2322ca7f8", "a8d4a5fae9ea4c3fa95015c2322ca7f8", true},
		{"A8D4A5FA-E9EA-4C3F-A950-15C2322CA7F8\n", "", false},
		{"a8d4a5fae9ea4c3fa95015c2322ca7f8\n", "", false},
		{"a8d4a5fa-e9ea-4c3f-a950-15c2322ca7fg\n", "", false},
		{"a8d4a5fa-e9ea-4c3f-a950-15c2322ca7f8\n\n", "", false},
		{"", "", false},
		{"00000000-0000-0000-0000-000000000000\n", "", false},
	} {
		got, ok := fsops.ParseBootID([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseBootID(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParseNSLink(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"pid:[4026531836]", 4026531836, true},
		{"pid:[1]", 1, true},
		{"pid:[0]", 0, false},
		{"pid:[01]", 0, false},
		{"net:[4026531836]", 0, false},
		{"pid:[4026531836", 0, false},
		{"pid:[-1]", 0, false},
		{"pid:[]", 0, false},
		{"", 0, false},
	} {
		got, ok := fsops.ParseNSLink(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseNSLink(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestProcIDKnown(t *testing.T) {
	full := fsops.ProcID{BootID: strings.Repeat("ab", 16), PidNS: 4026531836, Pid: 42, Start: 7}
	if !full.Known() {
		t.Errorf("%+v not Known", full)
	}
	for name, p := range map[string]fsops.ProcID{
		"no boot id":    {PidNS: 1, Pid: 42, Start: 7},
		"bad boot id":   {BootID: strings.Repeat("AB", 16), PidNS: 1, Pid: 42, Start: 7},
		"no namespace":  {BootID: full.BootID, Pid: 42, Start: 7},
		"no pid":        {BootID: full.BootID, PidNS: 1, Start: 7},
		"no start time": {BootID: full.BootID, PidNS: 1, Pid: 42},
	} {
		if p.Known() {
			t.Errorf("%s: %+v Known", name, p)
		}
	}
}
