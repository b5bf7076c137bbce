package sim

import (
	"syscall"
	"time"
)

// Profile is a fault model: what the simulated network, server, clocks and
// processes do wrong, and how often.
//
// The duplicate request cache follows what docs/nfs.md §2 measured on
// nfs-ganesha: a retransmission is answered from the cache as long as fewer
// than about 64 other non-idempotent calls of its connection came between
// and any reconnection was from the same port; otherwise the call runs
// again. The simulated hosts make far fewer than 64 calls within one
// Timeo, so the window never empties in time, and DRCMiss stands for the
// other cause, the cache lost (a reconnection from a new port, a server
// restart): lossy and partition have none; replay's 50% and nfsv3-soft's
// 30% are deliberately pessimistic, to run every non-idempotent call twice
// often.
type Profile struct {
	Name string
	Doc  string

	Latency time.Duration // one-way RPC latency is uniform in [Latency/10, Latency]

	EIO       float64 // per call: fails with EIO or ESTALE before reaching the server
	ENOSPC    float64 // per create or link: fails with ENOSPC before reaching the server
	LostReply float64 // per call: applied, but the reply is lost; the client retransmits after Timeo
	DRCMiss   float64 // per retransmission: the server's duplicate request cache misses, so the call runs again (see below)
	Timeo     time.Duration
	LateDup   float64       // per namespace call: a duplicate arrives at the server up to DupDelay later and runs again
	DupDelay  time.Duration // (its result goes nowhere)
	Delay     float64       // per request and per reply: delayed by up to DelayMax (congestion, a server stall)
	DelayMax  time.Duration //
	ReplyCut  float64       // per call: a partition (up to PartMax) begins after the server applied it, cutting off its reply

	Crash     float64       // per acquisition cycle: the process dies at a random point (its files stay)
	Pause     float64       // per acquisition cycle: the process freezes once, for up to PauseMax
	PauseMax  time.Duration //
	Partition float64       // per acquisition cycle: the client is cut off (hard mount: calls hang) for up to PartMax
	PartMax   time.Duration //
	SoftErr   syscall.Errno // if set, a partition is a soft mount's: calls fail with it after Timeo, half of the namespace calls applied

	Offset  time.Duration // each client's wall clock is off by up to ±Offset
	Drift   float64       // each client's clocks run at a rate within 1±Drift
	Step    float64       // per acquisition cycle: the wall clock steps by up to ±StepMax
	StepMax time.Duration

	// AttrCache and AttrCacheMax are the NFS client's attribute cache
	// (acregmin, acregmax): Lstat may answer from what this host last
	// saw of a name, including "no such file" (the negative lookup
	// cache), for a time between the two. Opening a file revalidates
	// (close-to-open), and a host's own changes to a name drop its
	// entry. Zero: noac.
	AttrCache, AttrCacheMax time.Duration

	// RenewDeadline and RefreshInterval override the lease parameters
	// (default 2 s and 600 ms for the 3 s lifetime): a profile can run at
	// the tightest setting the lease options accept.
	RenewDeadline, RefreshInterval time.Duration

	SSHFS bool // sshfs quirks: link count 1, path-derived inode numbers, EPERM for EEXIST, whole-second times

	// PathHandles makes directory handles resolve their path at each
	// call, as sshfs (a FUSE filesystem that speaks paths to its server)
	// does: a handle opened on a directory that another host has since
	// replaced reaches the new directory at that path. A host's own
	// renames move its handles along, and its own rmdir detaches them.
	PathHandles bool

	// Machines gives every pair of processes a machine of its own (a
	// fsopstest.Machine: a boot id, a process table) and records each
	// process's identity in its locks, so that a waiter breaks a dead
	// holder of its own machine at once (proto.Config.Procs). Machines
	// share host names in pairs, pids are the lowest free ones of their
	// host name (so a dead process's pid is soon reused), and of each new
	// process one in four records no identity (a system without /proc)
	// and one in four is another user's (probes learn only that it runs).
	Machines bool

	// NoReplace gives the filesystem a rename that never replaces
	// (renameat2's RENAME_NOREPLACE, fsops.NoReplaceRenamer), as Linux's
	// local filesystems have; Strict then takes the lock name without a
	// look first. Without it the client answers such a rename
	// unsupported at once, as Linux's NFS client does, sending nothing.
	NoReplace bool
}

const (
	ms = time.Millisecond
	s  = time.Second
)

// Profiles are the fault profiles every protocol runs under.
var Profiles = []Profile{
	{Name: "clean", Doc: "LAN latency, no faults", Latency: 2 * ms},
	{Name: "crash", Doc: "processes die mid-protocol; their files stay; renames that never replace (renameat2's RENAME_NOREPLACE)", Latency: 2 * ms, Crash: 0.05, NoReplace: true},
	{Name: "lossy", Doc: "lost replies; retransmissions always hit the duplicate request cache (ganesha's, for a client that reconnects from its port: docs/nfs.md §2); requests and replies delayed up to 3 s (0.5%)", Latency: 5 * ms,
		LostReply: 0.05, Timeo: 300 * ms, Delay: 0.005, DelayMax: 3 * s},
	{Name: "eio", Doc: "EIO/ESTALE before the server, ENOSPC on creates", Latency: 2 * ms, EIO: 0.05, ENOSPC: 0.01},
	{Name: "partition", Doc: "clients cut off for up to two lifetimes (hard mount: calls hang, then complete), also right after the server applied a call (its reply waits for the heal; the retransmission hits the duplicate request cache)", Latency: 2 * ms,
		Partition: 0.05, PartMax: 6 * s, ReplyCut: 0.001},
	{Name: "skew", Doc: "wall clocks off by up to ±4 s plus steps of up to ±1.5 s (pairwise under the 11 s the defaults allow), monotonic rates within ±1%", Latency: 2 * ms,
		Offset: 4 * s, Drift: 0.01, Step: 0.05, StepMax: 1500 * ms},
	{Name: "sshfs", Doc: "sshfs quirks: nlink 1, path inodes, EPERM for EEXIST, whole-second times; lost replies, EIO, partitions; the tightest lease timing the options accept for a 200 ms refresh interval (renew deadline 2.6 s of a 3 s lifetime), so that several refreshes in one second leave the lock looking unchanged", Latency: 3 * ms,
		SSHFS: true, PathHandles: true, LostReply: 0.02, Timeo: 300 * ms, EIO: 0.05, Partition: 0.05, PartMax: 6 * s, ReplyCut: 0.001,
		RenewDeadline: 2600 * ms, RefreshInterval: 200 * ms},
	{Name: "slow", Doc: "slow server: one-way latency up to 100 ms (a refresh's two calls take up to 400 ms of the 600 ms refresh interval), lost replies, crashes", Latency: 100 * ms,
		LostReply: 0.02, Timeo: time.Second, Crash: 0.02, Delay: 0.005, DelayMax: 3 * s},
	{Name: "replay", Doc: "duplicate request cache misses (half the retransmissions: far more than ganesha's cache gives a client that keeps its port, docs/nfs.md §2) and late duplicates: non-idempotent calls run twice", Latency: 5 * ms,
		LostReply: 0.05, DRCMiss: 0.5, Timeo: 300 * ms, LateDup: 0.02, DupDelay: 3 * s, Delay: 0.005, DelayMax: 3 * s},
	{Name: "cache", Doc: "NFS client caches: attributes and negative lookups cached for 3 to 60 s (acregmin, acregmax), with crashes and lost replies", Latency: 2 * ms,
		AttrCache: 3 * s, AttrCacheMax: 60 * s, Crash: 0.03, LostReply: 0.02, Timeo: 300 * ms, Delay: 0.005, DelayMax: 3 * s},
	{Name: "gluster", Doc: "GlusterFS-like: 1 s attribute caches, clients cut off for up to 10 s get ENOTCONN (some calls applied first), crashes", Latency: 1 * ms,
		AttrCache: s, AttrCacheMax: s, Partition: 0.05, PartMax: 10 * s, SoftErr: syscall.ENOTCONN, Timeo: 500 * ms, Crash: 0.02, ReplyCut: 0.001},
	{Name: "nfsv3-soft", Doc: "NFSv3 soft mount: attribute caches, lost replies with a weak duplicate request cache (30% misses), partitions that time calls out with ETIMEDOUT (some applied)", Latency: 3 * ms,
		AttrCache: 3 * s, AttrCacheMax: 60 * s, LostReply: 0.03, DRCMiss: 0.3, Timeo: 600 * ms, Partition: 0.03, PartMax: 5 * s, SoftErr: syscall.ETIMEDOUT, ReplyCut: 0.001},
	{Name: "local", Doc: "processes know their identity on their machine and break dead local holders at once; machines share host names in pairs, pids are reused, some records lack the identity, some processes are another user's; crashes; renames that never replace, as on a local filesystem", Latency: 2 * ms,
		Crash: 0.05, Machines: true, NoReplace: true},
	{Name: "congested", Doc: "a congested network or a stalling server: one request or reply in twenty held up for up to 6 s (two lifetimes), at the tightest lease timing the options accept for a 200 ms refresh interval (renew deadline 2.6 s of a 3 s lifetime), so that a refresh whose reply comes late and a next refresh held up too are common", Latency: 2 * ms,
		Delay: 0.05, DelayMax: 6 * s, RenewDeadline: 2600 * ms, RefreshInterval: 200 * ms},
	{Name: "pause", Doc: "process pauses of up to 3 lifetimes (beyond the assumptions)", Latency: 2 * ms,
		Pause: 0.05, PauseMax: 9 * s},
}

// ProfileByName returns the named profile.
func ProfileByName(name string) (Profile, bool) {
	for _, p := range Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}
