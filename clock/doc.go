// Package clock is the seam through which package lease reads time.
//
// Lease code never calls time.Now, time.NewTimer or time.AfterFunc
// directly; it is handed a [Clock]. Production code passes [Real], which is
// the time package and nothing more. Tests pass a [Fake], whose time moves
// only when they call [Fake.Advance], and whose wall clock [Fake.Set] steps
// without moving its monotonic time, so that expiry, renewal and clock-step
// scenarios run instantly and the same way every time. (The simulator in
// internal/sim keeps its own simulated time and uses neither.)
//
// # Guarantees
//
// Both implementations are safe for concurrent use, and their timers follow
// *time.Timer's Go 1.23 semantics: Stop and Reset report whether the timer
// was still running (armed, or fired with its value not yet received), and
// no value sent before Stop or Reset is received after it. Mono and timers
// are immune to steps of the wall clock.
//
// A Fake never sleeps and never starts goroutines. Its timers fire only
// inside Advance, in deadline order (ties in the order the timers were
// armed), and AfterFunc functions run synchronously in the goroutine that
// advances time, after the Fake's lock is released, so they may call back
// into the Fake.
//
// # Non-guarantees
//
// Real is exactly as good as the time package on the host. Its monotonic
// clock is, on Linux, CLOCK_MONOTONIC, which does not advance while the
// system is suspended (golang/go#24595): across a suspend a Real timer
// fires late and Mono comes out short, while other hosts' clocks kept
// running. Wall-clock readings can step at any moment. Real's Stop and
// Reset have the Go 1.23 semantics only when the main module's go line is
// 1.23 or later (or GODEBUG asynctimerchan=0).
package clock
