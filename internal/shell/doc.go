// Package shell is the decision logic of a lease, as deterministic values:
// how an acquisition waits, mints and hands a lock out (Acquisition), and
// how a held lease is refreshed, lost and released (Hold). It has no
// goroutines, timers, sleeps or clocks of its own: it is given the time
// (a function returning an proto.Instant) and the protocol's lock, and
// returns what to do next and when.
//
// Package lease drives it with one goroutine and real timers per lease;
// internal/sim drives the very same code with simulated time, so that the
// simulator's evidence is about the code that ships. Nothing here may be
// copied into either driver.
//
// Guarantees, within the timing assumptions of docs/protocol.md §3:
//   - a lock is handed out only if the attempt that took it began less than
//     the renew deadline ago, and only with a fencing token minted, then
//     verified, while it was held;
//   - a held lease is lost at its renew deadline at the latest (Hold's
//     deadline counts from the start of the last counted refresh), and at
//     once when a refresh proves the lock is no longer ours; nothing
//     revives a lost lease;
//   - a lock is released by name only while the lease is valid: the
//     protocol's Release checks the deadline again before each call that
//     removes or moves the lock, however late its read-back returned; a
//     lost lease's lock is left to go stale, and only our own files go.
//
// Not guaranteed: anything while the process is paused (the driver's
// timers cannot fire), and the safety of a protocol outside its own
// documented limits.
package shell
