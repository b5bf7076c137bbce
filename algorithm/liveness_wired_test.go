package algorithm_test

import (
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
	"github.com/nfslease/nfslease/internal/proto"
)

// TestDeadLocalHolder runs both protocols with a fake process table: a
// holder of this machine whose process is gone, or whose pid now belongs
// to a later process, is broken at the first look; every holder the rule
// must not judge is waited for as before (its lifetime plus the margin).
func TestDeadLocalHolder(t *testing.T) {
	const host = "build-7"
	for _, prot := range []algorithm.Protocol{algorithm.Flufl, algorithm.Strict} {
		for _, tc := range []struct {
			name string
			// The holder's machine (default: the waiter's), its host
			// name (default: the waiter's), whether it records no
			// identity, and what happens to it before the waiter looks.
			holderMachine func(local *fsopstest.Machine) *fsopstest.Machine
			holderHost    string
			hide          bool // the holder records no identity
			after         func(m *fsopstest.Machine, pid int)
			dead          bool
			local         bool // alive, and HolderGone tells of its death
		}{
			{name: "killed", after: func(m *fsopstest.Machine, pid int) { m.Kill(pid) }, dead: true},
			{name: "pid reused", after: func(m *fsopstest.Machine, pid int) { m.Kill(pid); m.Start(pid) }, dead: true},
			{name: "alive", after: func(*fsopstest.Machine, int) {}, local: true},
			{name: "alive, another user's", after: func(m *fsopstest.Machine, pid int) { m.SetOtherUser(pid, true) }, local: true},
			{name: "killed, on another machine of the same name", holderMachine: func(*fsopstest.Machine) *fsopstest.Machine {
				return fsopstest.NewMachine("twin", 4026531836)
			}, after: func(m *fsopstest.Machine, pid int) { m.Kill(pid) }},
			{name: "alive on another machine of the same name, pid free here", holderMachine: func(*fsopstest.Machine) *fsopstest.Machine {
				return fsopstest.NewMachine("twin", 4026531836)
			}, after: func(*fsopstest.Machine, int) {}},
			{name: "killed, in another pid namespace", holderMachine: func(local *fsopstest.Machine) *fsopstest.Machine {
				return fsopstest.NewMachine("local", 4026532999) // same boot id, other namespace
			}, after: func(m *fsopstest.Machine, pid int) { m.Kill(pid) }},
			{name: "killed, recorded another host name", holderHost: "other", after: func(m *fsopstest.Machine, pid int) { m.Kill(pid) }},
			{name: "killed, recorded no identity", hide: true, after: func(m *fsopstest.Machine, pid int) { m.Kill(pid) }},
		} {
			t.Run(prot.Name()+"/"+tc.name, func(t *testing.T) {
				e := newEnv(t)
				local := fsopstest.NewMachine("local", 4026531836)
				hm := local
				if tc.holderMachine != nil {
					hm = tc.holderMachine(local)
				}
				hh := host
				if tc.holderHost != "" {
					hh = tc.holderHost
				}
				const lifetime = 10 * time.Second
				holderID := hm.Start(42)
				holder, err := prot.New(e.mem, path, proto.Config{Lifetime: lifetime, Hostname: hh, Pid: 42, Procs: hm.Procs(holderID, tc.hide)})
				if err != nil {
					t.Fatal(err)
				}
				e.mustAcquire(holder)
				tc.after(hm, 42)

				waiterID := local.Start(43)
				calls := 0 // the waiter's filesystem calls
				counted := &fsopstest.Faulty{FS: e.mem, Inject: func(fsopstest.Op) *fsopstest.Fault { calls++; return nil }}
				waiter, err := prot.New(counted, path, proto.Config{Lifetime: lifetime, Hostname: host, Pid: 43, Procs: local.Procs(waiterID, false)})
				if err != nil {
					t.Fatal(err)
				}
				defer waiter.Close(e.now())
				att, err := waiter.Acquire(e.now())
				if err != nil {
					t.Fatal(err)
				}
				if tc.dead {
					if !att.Broke {
						t.Fatalf("first look at a dead holder's lock = %+v, want it broken", att)
					}
					if att.Holder != nil && !att.Holder.Dead {
						t.Errorf("broken holder %+v not reported dead", att.Holder)
					}
					e.mustAcquire(waiter)
					return
				}
				if att.Broke || att.Acquired || att.Holder == nil || att.Holder.Dead || att.StaleIn <= 0 {
					t.Fatalf("first look = %+v; want held, not dead, stale later", att)
				}
				if att.Holder.ThisMachine != tc.local {
					t.Errorf("Holder.ThisMachine = %v, want %v", att.Holder.ThisMachine, tc.local)
				}
				if att.StaleIn < lifetime {
					t.Errorf("first look: StaleIn %v; want the lifetime rule's (at least %v)", att.StaleIn, lifetime)
				}
				// It goes stale by the lifetime rule, as before.
				e.clk.Advance(time.Second)
				if att, err := waiter.Acquire(e.now()); err != nil || att.Broke || att.Acquired {
					t.Fatalf("second look = %+v, %v; want still held", att, err)
				}
				// A probe of the holder's process alone tells a waiter
				// of a local holder that it died, with no filesystem
				// call; of any other holder it never tells anything.
				if waiter.HolderGone() {
					t.Errorf("HolderGone of a live holder = true")
				}
				before := calls
				hm.Kill(42)
				if gone := waiter.HolderGone(); gone != tc.local {
					t.Errorf("HolderGone after the holder's death = %v, want %v", gone, tc.local)
				}
				if calls != before {
					t.Errorf("HolderGone made %d filesystem calls, want none", calls-before)
				}
				e.clk.Advance(lifetime + proto.StaleMargin)
				e.mustBreak(waiter)
			})
		}
	}
}

// TestDeadHolderInspect: Inspect reports a dead local holder as stale
// and dead, for both protocols, and a live one as neither.
func TestDeadHolderInspect(t *testing.T) {
	for _, prot := range []algorithm.Protocol{algorithm.Flufl, algorithm.Strict} {
		t.Run(prot.Name(), func(t *testing.T) {
			e := newEnv(t)
			m := fsopstest.NewMachine("local", 4026531836)
			id := m.Start(42)
			cfg := proto.Config{Lifetime: 10 * time.Second, Hostname: "h", Pid: 42, Procs: m.Procs(id, false)}
			holder, err := prot.New(e.mem, path, cfg)
			if err != nil {
				t.Fatal(err)
			}
			e.mustAcquire(holder)
			look := func() proto.Look {
				t.Helper()
				cfg := proto.Config{Lifetime: 10 * time.Second, Hostname: "h", Pid: 43, Procs: m.Procs(m.Start(1000+int(e.clk.Now().Unix()%1000)), false)}
				l, err := prot.(proto.Inspector).Inspect(e.mem, path, cfg, e.now())
				if err != nil || l.Holder == nil {
					t.Fatalf("Inspect = %+v, %v", l, err)
				}
				return l
			}
			if l := look(); l.Stale || l.Holder.Dead {
				t.Errorf("live holder: %+v %+v", l, *l.Holder)
			}
			m.Kill(42)
			e.clk.Advance(time.Second)
			if l := look(); !l.Stale || !l.Holder.Dead {
				t.Errorf("dead holder: %+v %+v", l, *l.Holder)
			}
		})
	}
}

var _ fsops.Procs = fsopstest.NewMachine("x", 1).Procs(fsops.ProcID{}, false)
