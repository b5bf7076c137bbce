package fsops_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind (a watch's
// reader, on Linux).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
