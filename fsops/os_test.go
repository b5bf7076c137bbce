package fsops_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/fsops/fsopstest"
)

func TestOS(t *testing.T) {
	fsopstest.TestFS(t, func(t *testing.T) (fsops.FS, fsopstest.Setup, string) {
		return fsops.OS(), fsopstest.OSSetup(), t.TempDir()
	})
}

// TestReadFileLarge reads files larger than the buffer ReadFile allocates
// at first, so that it has to grow it, with and without hitting the limit.
func TestReadFileLarge(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	content := make([]byte, 3<<20+17)
	for i := range content {
		content[i] = byte(i % 251)
	}
	if err := os.WriteFile(name, content, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit    int
		tooLarge bool
	}{
		{math.MaxInt, false},
		{len(content), false},
		{len(content) - 1, true},
		{2 << 20, true},
	} {
		data, fi, err := fsops.OS().ReadFile(name, tc.limit)
		if got := errors.Is(err, fsops.ErrTooLarge); got != tc.tooLarge || (err != nil && !got) {
			t.Errorf("limit %d: error = %v, want too large: %v", tc.limit, err, tc.tooLarge)
		}
		if want := content[:min(tc.limit, len(content))]; !bytes.Equal(data, want) {
			t.Errorf("limit %d: read %d bytes, want the first %d", tc.limit, len(data), len(want))
		}
		if fi.Size != int64(len(content)) {
			t.Errorf("limit %d: Size = %d, want %d", tc.limit, fi.Size, len(content))
		}
	}
}
