package fsopstest

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nfslease/nfslease/clock"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testClock is a clock.Clock whose time moves only by Advance. Mem must
// only read the time, so its timers panic.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

var _ clock.Clock = (*testClock)(nil)

// epoch is the start time of every testClock; its nanoseconds show any
// truncation.
var epoch = time.Date(2024, 5, 6, 7, 8, 9, 700_000_123, time.UTC)

func newTestClock() *testClock { return &testClock{now: epoch} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

func (c *testClock) NewTimer(time.Duration) clock.Timer {
	panic("fsopstest: Mem must not use timers")
}

func (c *testClock) AfterFunc(time.Duration, func()) clock.Timer {
	panic("fsopstest: Mem must not use timers")
}
