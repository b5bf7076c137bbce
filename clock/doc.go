// Package clock is the seam through which package lease reads time.
//
// Lease code never calls time.Now, time.NewTimer or time.AfterFunc
// directly; it is handed a [Clock]. Production code passes [Real], which is
// the time package and nothing more. Tests and the deterministic simulator
// pass a [Fake], whose time moves only when they call [Fake.Advance] or
// [Fake.Set], so that expiry, renewal and clock-step scenarios run
// instantly and the same way every time.
//
// # Guarantees
//
// Both implementations are safe for concurrent use, and their timers follow
// *time.Timer's Go 1.23 semantics: Stop and Reset report whether the timer
// was still running (armed, or fired with its value not yet received), and
// no value sent before Stop or Reset is received after it.
//
// A Fake never sleeps and never starts goroutines. Its timers fire only
// inside Advance or Set, in deadline order (ties in the order the timers
// were armed), and AfterFunc functions run synchronously in the goroutine
// that advances time, after the Fake's lock is released, so they may call
// back into the Fake.
//
// # Non-guarantees
//
// Real is exactly as good as the time package on the host. In particular,
// its monotonic clock (used for Time.Sub between readings and for timers)
// is, on Linux, CLOCK_MONOTONIC, which does not advance while the system is
// suspended (golang/go#24595). Across a suspend, a Real timer fires late by
// the time spent suspended and durations measured with Now().Sub come out
// short, while a server's lease timers, measured on another machine, kept
// running. Other platforms make no stronger promise. Code that must notice
// such gaps has to compare wall-clock readings as well.
//
// Wall-clock readings (a Time stripped of its monotonic reading, or compared
// with a time from another host) can step backwards or forwards at any
// moment; [Fake.Set] models such a step.
//
// Real's Stop and Reset semantics are the Go 1.23 ones only when the main
// module's go line is 1.23 or later (or GODEBUG asynctimerchan=0), which the
// time package decides, not this one.
package clock
