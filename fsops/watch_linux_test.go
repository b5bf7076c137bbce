package fsops_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
)

// next receives the next name from w, failing after a generous bound (the
// event is due at once; the bound only keeps a broken watch from hanging
// the test).
func next(t *testing.T, w fsops.DirWatch) (string, bool) {
	t.Helper()
	select {
	case name, ok := <-w.Left():
		return name, ok
	case <-time.After(10 * time.Second):
		t.Fatal("no event from the watch")
		return "", false
	}
}

func TestWatchDir(t *testing.T) {
	wr, ok := fsops.OS().(fsops.Watcher)
	if !ok {
		t.Fatal("fsops.OS() does not implement fsops.Watcher on Linux")
	}
	tests := []struct {
		name   string
		change func(t *testing.T, dir string) // must make exactly the entry "x" leave dir
	}{
		{"unlink", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
			must(t, os.Remove(filepath.Join(dir, "x")))
		}},
		{"rmdir", func(t *testing.T, dir string) {
			must(t, os.Mkdir(filepath.Join(dir, "x"), 0o755))
			must(t, os.Remove(filepath.Join(dir, "x")))
		}},
		{"rename away", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
			must(t, os.Rename(filepath.Join(dir, "x"), filepath.Join(t.TempDir(), "y")))
		}},
		{"rename within", func(t *testing.T, dir string) {
			// Renamed to another name in the same directory: "x" left.
			must(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
			must(t, os.Rename(filepath.Join(dir, "x"), filepath.Join(dir, "z")))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			w, err := wr.WatchDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// Creations, writes and attribute changes are not reported:
			// only entries leaving.
			must(t, os.WriteFile(filepath.Join(dir, "quiet"), []byte("data"), 0o644))
			must(t, os.Chtimes(filepath.Join(dir, "quiet"), time.Now(), time.Now()))
			tt.change(t, dir)
			if name, ok := next(t, w); !ok || name != "x" {
				t.Fatalf("got %q (open %v), want \"x\"", name, ok)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if _, ok := <-w.Left(); ok {
				t.Fatal("Left is still open after Close")
			}
		})
	}
}

// TestWatchDirGone checks that a watch ends, after reporting "", when its
// directory is removed.
func TestWatchDirGone(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	must(t, os.Mkdir(dir, 0o755))
	w, err := fsops.OS().(fsops.Watcher).WatchDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	must(t, os.Remove(dir))
	if name, ok := next(t, w); !ok || name != "" {
		t.Fatalf("got %q (open %v), want \"\"", name, ok)
	}
	if name, ok := next(t, w); ok {
		t.Fatalf("got %q after the directory went, want the channel closed", name)
	}
}

// TestWatchDirErrors checks that a watch of what is not a directory fails
// and names the path.
func TestWatchDirErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	must(t, os.WriteFile(file, nil, 0o644))
	for _, p := range []string{file, filepath.Join(dir, "missing")} {
		w, err := fsops.OS().(fsops.Watcher).WatchDir(p)
		if err == nil {
			w.Close()
			t.Fatalf("WatchDir(%s) succeeded", p)
		}
		var pe *fs.PathError
		if !errors.As(err, &pe) || pe.Path != p {
			t.Fatalf("WatchDir(%s): %v is not a *fs.PathError naming the path", p, err)
		}
	}
}

// TestWatchDirSlowReader checks that events are not lost while no one
// reads, as long as the kernel's queue does not overflow.
func TestWatchDirSlowReader(t *testing.T) {
	dir := t.TempDir()
	w, err := fsops.OS().(fsops.Watcher).WatchDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const n = 100 // more than the channel's buffer
	for i := range n {
		p := filepath.Join(dir, "f"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		must(t, os.WriteFile(p, nil, 0o644))
		must(t, os.Remove(p))
	}
	for i := range n {
		want := "f" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		if name, ok := next(t, w); !ok || name != want {
			t.Fatalf("event %d: got %q (open %v), want %q", i, name, ok, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
