package algorithm

import (
	"strings"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

var testID = fsops.ProcID{BootID: "a8d4a5fae9ea4c3fa95015c2322ca7f8", PidNS: 4026531836, Pid: 42, Start: 77379}

// TestClaimIdentity: the identity in field 4 of a Flufl claim parses back,
// and anything short of all three well-formed parts records none while
// the claim stays a lock with its lifetime.
func TestClaimIdentity(t *testing.T) {
	rec := formatRecord(15*time.Second, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	full := rec + formatIdentity(testID)
	if want := "nfslease1.l15000.r0102030405060708.ba8d4a5fae9ea4c3fa95015c2322ca7f8.n4026531836.s77379"; full != want {
		t.Fatalf("field 4 = %q, want %q", full, want)
	}
	if s := formatIdentity(fsops.ProcID{Pid: 42}); s != "" {
		t.Errorf("formatIdentity of an incomplete identity = %q, want none", s)
	}
	for _, tc := range []struct {
		name   string
		field4 string
		pid    string
		want   fsops.ProcID
	}{
		{"complete", full, "42", testID},
		{"with a later unknown part", full + ".t17", "42", testID},
		{"parts in another order", rec + ".s77379.n4026531836.ba8d4a5fae9ea4c3fa95015c2322ca7f8", "42", testID},
		{"old record, none", rec, "42", fsops.ProcID{}},
		{"no boot id", rec + ".n4026531836.s77379", "42", fsops.ProcID{}},
		{"no namespace", rec + ".ba8d4a5fae9ea4c3fa95015c2322ca7f8.s77379", "42", fsops.ProcID{}},
		{"no start time", rec + ".ba8d4a5fae9ea4c3fa95015c2322ca7f8.n4026531836", "42", fsops.ProcID{}},
		{"upper-case boot id", strings.Replace(full, "a8d4a5fa", "A8D4A5FA", 1), "42", fsops.ProcID{}},
		{"short boot id", strings.Replace(full, "a8d4a5fa", "a8d4", 1), "42", fsops.ProcID{}},
		{"boot id with dashes", strings.Replace(full, "a8d4a5fae9ea", "a8d4a5fa-e9e", 1), "42", fsops.ProcID{}},
		{"zero start", strings.Replace(full, ".s77379", ".s0", 1), "42", fsops.ProcID{}},
		{"start with leading zero", strings.Replace(full, ".s77379", ".s077379", 1), "42", fsops.ProcID{}},
		{"start over 64 bits", strings.Replace(full, ".s77379", ".s18446744073709551616", 1), "42", fsops.ProcID{}},
		{"namespace not a number", strings.Replace(full, ".n4026531836", ".nx", 1), "42", fsops.ProcID{}},
		{"repeated start", full + ".s5", "42", fsops.ProcID{}},
		{"repeated namespace", full + ".n5", "42", fsops.ProcID{}},
		{"repeated boot id", full + ".b" + testID.BootID, "42", fsops.ProcID{}},
		{"pid 0", full, "0", fsops.ProcID{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := "/d/x.lck|vm|" + tc.pid + "|" + tc.field4
			c, err := parseClaim(content, '|')
			if err != nil {
				t.Fatalf("parseClaim(%q) = %v; a claim with any field 4 of ours is a lock", content, err)
			}
			if !c.Ours || c.Lifetime != 15*time.Second {
				t.Errorf("parseClaim(%q): ours %v, lifetime %v; want ours, 15s", content, c.Ours, c.Lifetime)
			}
			if c.Proc != tc.want {
				t.Errorf("parseClaim(%q).Proc = %+v, want %+v", content, c.Proc, tc.want)
			}
			if got := c.String('|'); got != content {
				t.Errorf("round trip: %q", got)
			}
		})
	}
	// Python's claims, with their random integer in field 4, record none.
	for _, s := range pythonClaims {
		if c, err := parseClaim(s, '|'); err != nil || c.Proc != (fsops.ProcID{}) {
			t.Errorf("parseClaim(%q) = %+v, %v; want a lock with no identity", s, c.Proc, err)
		}
	}
}

var pythonClaims = []string{
	"/tmp/flufl-probe-orbq2hxc/test.lck|localhost|9208|2008258791743860990",
	"rel.lck|localhost|9208|851560836085268357",
}

// FuzzParseIdentity: never panics; an identity it returns is complete and
// formats back to parts of its input.
func FuzzParseIdentity(f *testing.F) {
	f.Add("nfslease1.l15000.r01"+formatIdentity(testID), 42)
	f.Add("nfslease1.l15000.r01.b.n.s", 1)
	f.Add("nfslease1.l1.r0.s1.s1", 7)
	f.Fuzz(func(t *testing.T, field4 string, pid int) {
		id := parseIdentity(field4, pid)
		if id == (fsops.ProcID{}) {
			return
		}
		if !id.Known() || id.Pid != pid {
			t.Fatalf("parseIdentity(%q, %d) = %+v, incomplete", field4, pid, id)
		}
		for _, part := range strings.Split(formatIdentity(id), ".")[1:] {
			if !strings.Contains(field4+".", "."+part+".") {
				t.Fatalf("parseIdentity(%q) = %+v: part %q is not in the input", field4, id, part)
			}
		}
	})
}

// TestOwnerIdentity: the Strict owner record with and without the
// process identity, and the near-misses that are not records.
func TestOwnerIdentity(t *testing.T) {
	old := owner{Gen: strings.Repeat("0a", 16), Host: "build-7", Pid: 42, Lifetime: 15 * time.Second}
	withID := old.withProc(testID)
	want := "nfslease-strict 1\ngen 0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a\nhost build-7\npid 42\nlifetime_ms 15000\n" +
		"boot_id a8d4a5fae9ea4c3fa95015c2322ca7f8\npid_ns 4026531836\nstart_ticks 77379\n"
	if s := withID.String(); s != want {
		t.Fatalf("record = %q, want %q", s, want)
	}
	for name, tc := range map[string]struct {
		rec  string
		ok   bool
		proc fsops.ProcID
	}{
		"with identity":           {want, true, testID},
		"old, five lines":         {old.String(), true, fsops.ProcID{}},
		"identity of another pid": {old.withProc(fsops.ProcID{BootID: testID.BootID, PidNS: 1, Pid: 7, Start: 1}).String(), true, fsops.ProcID{}},
		"incomplete identity":     {old.withProc(fsops.ProcID{Pid: 42}).String(), true, fsops.ProcID{}},
		"six lines":               {old.String() + "boot_id a8d4a5fae9ea4c3fa95015c2322ca7f8\n", false, fsops.ProcID{}},
		"seven lines":             {strings.TrimSuffix(want, "start_ticks 77379\n"), false, fsops.ProcID{}},
		"nine lines":              {want + "x 1\n", false, fsops.ProcID{}},
		"keys out of order":       {strings.Replace(strings.Replace(want, "pid_ns", "PIDNS", 1), "start_ticks", "pid_ns", 1), false, fsops.ProcID{}},
		"dashed boot id":          {strings.Replace(want, "a8d4a5fae9ea", "a8d4a5fa-e9e", 1), false, fsops.ProcID{}},
		"zero namespace":          {strings.Replace(want, "pid_ns 4026531836", "pid_ns 0", 1), false, fsops.ProcID{}},
		"start with plus":         {strings.Replace(want, "start_ticks 77379", "start_ticks +77379", 1), false, fsops.ProcID{}},
		"start not canonical":     {strings.Replace(want, "start_ticks 77379", "start_ticks 077379", 1), false, fsops.ProcID{}},
	} {
		t.Run(name, func(t *testing.T) {
			r, err := parseOwner([]byte(tc.rec))
			if (err == nil) != tc.ok {
				t.Fatalf("parseOwner(%q) = %v, want ok %v", tc.rec, err, tc.ok)
			}
			if err == nil && r.proc() != tc.proc {
				t.Errorf("parseOwner(%q).proc() = %+v, want %+v", tc.rec, r.proc(), tc.proc)
			}
		})
	}
}
