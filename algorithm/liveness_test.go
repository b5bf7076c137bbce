package algorithm

import (
	"strings"
	"testing"

	"github.com/nfslease/nfslease/fsops"
)

func TestDeadHolder(t *testing.T) {
	boot := strings.Repeat("ab", 16)
	self := fsops.ProcID{BootID: boot, PidNS: 4026531836, Pid: 100, Start: 5000}
	rec := fsops.ProcID{BootID: boot, PidNS: 4026531836, Pid: 4242, Start: 7000}
	gone := func(int) (fsops.ProcState, uint64) { return fsops.ProcGone, 0 }
	running := func(start uint64) func(int) (fsops.ProcState, uint64) {
		return func(int) (fsops.ProcState, uint64) { return fsops.ProcRunning, start }
	}
	unknown := func(int) (fsops.ProcState, uint64) { return fsops.ProcUnknown, 0 }
	with := func(p fsops.ProcID, f func(*fsops.ProcID)) fsops.ProcID { f(&p); return p }

	for _, tc := range []struct {
		name     string
		self     fsops.ProcID
		selfHost string
		rec      fsops.ProcID
		recHost  string
		probe    func(int) (fsops.ProcState, uint64)
		dead     bool
	}{
		{"pid gone", self, "vm", rec, "vm", gone, true},
		{"pid reused: another start time", self, "vm", rec, "vm", running(9000), true},
		{"pid reused by an earlier-started process", self, "vm", rec, "vm", running(10), true},
		{"our own pid, earlier process", self, "vm", with(rec, func(p *fsops.ProcID) { p.Pid = self.Pid }), "vm", running(self.Start), true},

		// Every "never".
		{"never: alive, same start time", self, "vm", rec, "vm", running(rec.Start), false},
		{"never: ourselves", self, "vm", self, "vm", running(self.Start), false},
		{"never: another user's process (EPERM, start unknown)", self, "vm", rec, "vm", running(0), false},
		{"never: probe unknown", self, "vm", rec, "vm", unknown, false},
		{"never: no probe", self, "vm", rec, "vm", nil, false},
		{"never: another boot (other machine with our host name)", self, "vm", with(rec, func(p *fsops.ProcID) { p.BootID = strings.Repeat("cd", 16) }), "vm", gone, false},
		{"never: another pid namespace (container)", self, "vm", with(rec, func(p *fsops.ProcID) { p.PidNS = 4026532000 }), "vm", gone, false},
		{"never: another host name", self, "vm", rec, "other", gone, false},
		{"never: host name alone (no identity recorded)", self, "vm", fsops.ProcID{Pid: 4242}, "vm", gone, false},
		{"never: record without boot id", self, "vm", with(rec, func(p *fsops.ProcID) { p.BootID = "" }), "vm", gone, false},
		{"never: record without namespace", self, "vm", with(rec, func(p *fsops.ProcID) { p.PidNS = 0 }), "vm", gone, false},
		{"never: record without pid", self, "vm", with(rec, func(p *fsops.ProcID) { p.Pid = 0 }), "vm", gone, false},
		{"never: record without start time", self, "vm", with(rec, func(p *fsops.ProcID) { p.Start = 0 }), "vm", gone, false},
		{"never: we lack a boot id (no /proc)", with(self, func(p *fsops.ProcID) { p.BootID = "" }), "vm", with(rec, func(p *fsops.ProcID) { p.BootID = "" }), "vm", gone, false},
		{"never: we lack a namespace", with(self, func(p *fsops.ProcID) { p.PidNS = 0 }), "vm", with(rec, func(p *fsops.ProcID) { p.PidNS = 0 }), "vm", gone, false},
		{"never: we lack a start time (other OS)", fsops.ProcID{Pid: 100}, "vm", rec, "vm", gone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := deadHolder(tc.self, tc.selfHost, tc.rec, tc.recHost, tc.probe); got != tc.dead {
				t.Errorf("deadHolder = %v, want %v", got, tc.dead)
			}
		})
	}
}
