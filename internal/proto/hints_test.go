package proto

import (
	"strconv"
	"testing"
	"time"
)

// TestHintsBounded: a process that locks ever new paths keeps at most
// maxHints hints of each kind.
func TestHintsBounded(t *testing.T) {
	var h Hints
	for i := range 3 * maxHints {
		key := "/locks/" + strconv.Itoa(i)
		h.SetToken(key, uint64(i))
		h.SetSwept(key, Instant{Mono: time.Duration(i)})
		if len(h.tokens) > maxHints || len(h.swept) > maxHints {
			t.Fatalf("after %d paths: %d token and %d sweep hints, want at most %d each", i+1, len(h.tokens), len(h.swept), maxHints)
		}
	}
	if n, ok := h.Token("/locks/" + strconv.Itoa(3*maxHints-1)); !ok || n != 3*maxHints-1 {
		t.Errorf("the latest hint = %d, %v; want it kept", n, ok)
	}
}
