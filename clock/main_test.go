package clock_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Neither implementation may leave goroutines behind: Fake starts none, and
// Real's timers are runtime timers, not goroutines.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
