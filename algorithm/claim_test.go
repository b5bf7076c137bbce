package algorithm

import (
	"strings"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/proto"
)

func TestParseClaim(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		ok       bool
		host     string
		pid      int
		lifetime time.Duration
	}{
		{"python 5.0.1", "/tmp/flufl-probe-orbq2hxc/test.lck|localhost|9208|2008258791743860990", true, "localhost", 9208, 0},
		{"python relative", "rel.lck|localhost|9208|851560836085268357", true, "localhost", 9208, 0},
		{"ours", "/d/x.lck|vm|42|nfslease1.l15000.r0123456789abcdef", true, "vm", 42, 15 * time.Second},
		{"ours with unknown later field", "/d/x.lck|vm|42|nfslease1.l2000.r00ff.t17", true, "vm", 42, 2 * time.Second},
		{"ours with absurd lifetime", "/d/x.lck|vm|42|nfslease1.l99999999999.r00ff", true, "vm", 42, 0},
		{"ours without random", "/d/x.lck|vm|42|nfslease1.l2000", true, "vm", 42, 0},
		{"empty", "", false, "", 0, 0},
		{"three fields", "/d/x.lck|vm|42", false, "", 0, 0},
		{"five fields", "/d/x.lck|vm|42|1|2", false, "", 0, 0},
		{"non-int pid", "/d/x.lck|vm|abc|1", false, "", 0, 0},
		{"negative pid", "/d/x.lck|vm|-1|1", false, "", 0, 0},
		{"newline", "/d/x.lck|vm|42|1\n", false, "", 0, 0},
		{"passwd", "/etc/passwd", false, "", 0, 0},
		{"empty lock field", "|vm|42|1", false, "", 0, 0},
		{"too long", "/d/" + strings.Repeat("a", maxClaimLen) + "|vm|1|1", false, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parseClaim(tt.in, '|')
			if (err == nil) != tt.ok {
				t.Fatalf("parseClaim(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if !tt.ok {
				return
			}
			if c.Host != tt.host || c.Pid != tt.pid || c.Lifetime != tt.lifetime {
				t.Errorf("parseClaim(%q) = host %q pid %d lifetime %v, want %q %d %v", tt.in, c.Host, c.Pid, c.Lifetime, tt.host, tt.pid, tt.lifetime)
			}
			if got := c.String('|'); got != tt.in {
				t.Errorf("String() = %q, want %q", got, tt.in)
			}
		})
	}
}

func TestSanitizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"":               "localhost",
		"vm":             "vm",
		"a.b-c_d":        "a.b-c_d",
		"evil|host":      "evil_host",
		"../../etc":      ".._.._etc",
		"h\x00st":        "h_st",
		"hôte":           "h__te",
		"web-01.example": "web-01.example",
	} {
		if got := proto.RecordedHost(in); got != want {
			t.Errorf("sanitizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseClaim checks that the parser never panics, accepts only what it
// can format back byte for byte, and that a record it formats parses back.
func FuzzParseClaim(f *testing.F) {
	for _, s := range []string{
		"/tmp/flufl-probe-orbq2hxc/test.lck|localhost|9208|2008258791743860990",
		"rel.lck|localhost|9208|851560836085268357",
		"/d/x.lck|vm|42|nfslease1.l15000.r0123456789abcdef",
		"/d/x.lck|vm|42|nfslease1.l1.r0.t9",
		"/d/x.lck|vm|42|nfslease1.l15000.r0123456789abcdef.ba8d4a5fae9ea4c3fa95015c2322ca7f8.n4026531836.s77379",
		"/etc/passwd", "../x|h|1|2", "", "||||", "a|b|c|d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseClaim(s, '|')
		if err != nil {
			return
		}
		if got := c.String('|'); got != s {
			t.Fatalf("round trip: parseClaim(%q).String() = %q", s, got)
		}
		if c.Lifetime < 0 || c.Lifetime > maxRecordedLifetime {
			t.Fatalf("parseClaim(%q): lifetime %v out of range", s, c.Lifetime)
		}
		if c.Proc != (fsops.ProcID{}) && (!c.Ours || !c.Proc.Known() || c.Proc.Pid != c.Pid) {
			t.Fatalf("parseClaim(%q): identity %+v of a claim ours=%v pid %d", s, c.Proc, c.Ours, c.Pid)
		}
		if c.Ours != (c.Lifetime > 0) {
			t.Fatalf("parseClaim(%q): Ours=%v with lifetime %v", s, c.Ours, c.Lifetime)
		}
		lt := c.Lifetime%maxRecordedLifetime + time.Millisecond
		rec := formatRecord(lt, []byte(s[:min(len(s), 8)]))
		if l, ok := parseRecord(rec); !ok || l != lt.Truncate(time.Millisecond) {
			t.Fatalf("formatRecord %q parsed back as %v %v", rec, l, ok)
		}
	})
}
