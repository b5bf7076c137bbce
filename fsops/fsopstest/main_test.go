package fsopstest

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testClock is a clock whose time moves only by Advance: all Mem reads of
// a clock is Now.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

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
