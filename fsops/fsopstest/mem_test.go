package fsopstest

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nfslease/nfslease/fsops"
	"github.com/nfslease/nfslease/internal/oracle"
)

func TestMem(t *testing.T) {
	TestFS(t, func(t *testing.T) (fsops.FS, Setup, string) {
		m := NewMem(newTestClock())
		if err := m.MkdirAll("/work", 0o755); err != nil {
			t.Fatal(err)
		}
		return m, m, "/work"
	})
}

// mustDo fails t if any of errs is not nil: the set-up steps of a test.
// created drops CreateExcl's attributes, for the tests that only want its
// error.
func created(_ fsops.FileInfo, err error) error { return err }

func mustDo(t *testing.T, errs ...error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// wantErrno fails t unless err wraps exactly the errno want.
func wantErrno(t *testing.T, err error, want syscall.Errno) {
	t.Helper()
	var got syscall.Errno
	if !errors.As(err, &got) || got != want {
		t.Errorf("error = %v, want %v (%d)", err, want, int(want))
	}
}

// TestMemErrnos checks that Mem fails as Linux does, errno for errno, where
// the conformance suite accepts any error or none is checked there.
func TestMemErrnos(t *testing.T) {
	// Every case starts from: /d/sub/, /e/ (empty), /f, /loop1 -> /loop2
	// -> /loop1, /l -> /f.
	setup := func(m *Mem) {
		mustDo(t,
			m.MkdirAll("/d/sub", 0o755),
			m.MkdirAll("/e", 0o755),
			m.WriteFile("/f", []byte("f"), 0o644),
			m.Symlink("/loop2", "/loop1"),
			m.Symlink("/loop1", "/loop2"),
			m.Symlink("/f", "/l"),
		)
	}
	tests := []struct {
		name string
		call func(m *Mem) error
		want syscall.Errno
	}{
		{"CreateExcl under a file", func(m *Mem) error { _, err := m.CreateExcl("/f/x", nil, 0o644); return err }, syscall.ENOTDIR},
		{"CreateExcl root", func(m *Mem) error { _, err := m.CreateExcl("/", nil, 0o644); return err }, syscall.EEXIST},
		{"CreateExcl through a symlink loop", func(m *Mem) error { _, err := m.CreateExcl("/loop1/x", nil, 0o644); return err }, syscall.ELOOP},
		{"Link directory", func(m *Mem) error { return m.Link("/d", "/x") }, syscall.EPERM},
		{"Link directory onto existing", func(m *Mem) error { return m.Link("/d", "/f") }, syscall.EEXIST},
		{"Link missing onto existing", func(m *Mem) error { return m.Link("/x", "/f") }, syscall.ENOENT},
		{"Link under a file", func(m *Mem) error { return m.Link("/f", "/f/x") }, syscall.ENOTDIR},
		{"Rename file onto directory", func(m *Mem) error { return m.Rename("/f", "/e") }, syscall.EISDIR},
		{"Rename directory onto file", func(m *Mem) error { return m.Rename("/e", "/f") }, syscall.ENOTDIR},
		{"Rename directory onto non-empty directory", func(m *Mem) error { return m.Rename("/e", "/d") }, syscall.ENOTEMPTY},
		{"Rename directory into itself", func(m *Mem) error { return m.Rename("/d", "/d/sub/x") }, syscall.EINVAL},
		{"Rename directory onto its parent", func(m *Mem) error { return m.Rename("/d/sub", "/d") }, syscall.ENOTEMPTY},
		{"Rename root", func(m *Mem) error { return m.Rename("/", "/x") }, syscall.EBUSY},
		{"Rename missing", func(m *Mem) error { return m.Rename("/x", "/y") }, syscall.ENOENT},
		{"Remove directory", func(m *Mem) error { return m.Remove("/e") }, syscall.EISDIR},
		{"Remove root", func(m *Mem) error { return m.Remove("/") }, syscall.EISDIR},
		{"Lstat under a file", func(m *Mem) error { _, err := m.Lstat("/f/x"); return err }, syscall.ENOTDIR},
		{"Lstat through a symlink loop", func(m *Mem) error { _, err := m.Lstat("/loop1/x"); return err }, syscall.ELOOP},
		{"ReadFile symlink", func(m *Mem) error { _, _, err := m.ReadFile("/l", 10); return err }, syscall.ELOOP},
		{"ReadFile symlink loop", func(m *Mem) error { _, _, err := m.ReadFile("/loop1", 10); return err }, syscall.ELOOP},
		{"Chtimes under a file", func(m *Mem) error { return m.Chtimes("/f/x", epoch, epoch) }, syscall.ENOTDIR},
		{"MkdirAll over a file", func(m *Mem) error { return m.MkdirAll("/f/x", 0o755) }, syscall.ENOTDIR},
		{"MkdirAll over a dangling symlink", func(m *Mem) error {
			mustDo(t, m.Symlink("/nowhere", "/dangling"))
			return m.MkdirAll("/dangling", 0o755)
		}, syscall.EEXIST},
		{"Symlink onto existing", func(m *Mem) error { return m.Symlink("/d", "/f") }, syscall.EEXIST},
		{"Symlink to nothing", func(m *Mem) error { return m.Symlink("", "/x") }, syscall.ENOENT},
		{"WriteFile directory", func(m *Mem) error { return m.WriteFile("/d", nil, 0o644) }, syscall.EISDIR},
		{"Mkfifo onto existing", func(m *Mem) error { return m.Mkfifo("/f") }, syscall.EEXIST},
		{"ReadDir file", func(m *Mem) error { _, err := m.ReadDir("/f"); return err }, syscall.ENOTDIR},
		{"ReadDir missing", func(m *Mem) error { _, err := m.ReadDir("/x"); return err }, syscall.ENOENT},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMem(newTestClock())
			setup(m)
			wantErrno(t, tc.call(m), tc.want)
		})
	}
}

func TestMemRenameDirectory(t *testing.T) {
	m := NewMem(newTestClock())
	mustDo(t,
		m.MkdirAll("/a/d/sub", 0o755),
		m.WriteFile("/a/d/f", []byte("f"), 0o644),
		m.MkdirAll("/b/empty", 0o755),
	)
	d, err := m.Lstat("/a/d")
	mustDo(t, err)

	// Over an empty directory, into another parent.
	mustDo(t, m.Rename("/a/d", "/b/empty"))
	if m.Exists("/a/d") {
		t.Error("old name still exists")
	}
	if got, _ := m.ReadDir("/b/empty"); !slices.Equal(got, []string{"f", "sub"}) {
		t.Errorf("moved directory holds %q, want [f sub]", got)
	}
	if fi, _ := m.Lstat("/b/empty"); !fsops.SameFile(fi, d) {
		t.Error("new name is not the moved directory")
	}
	// Link counts of the parents follow their subdirectories.
	for _, tc := range []struct {
		dir   string
		nlink uint64
	}{{"/a", 2}, {"/b", 3}, {"/", 4}, {"/b/empty", 3}} {
		if fi, _ := m.Lstat(tc.dir); fi.Nlink != tc.nlink {
			t.Errorf("Nlink of %s = %d, want %d", tc.dir, fi.Nlink, tc.nlink)
		}
	}
	// ".." follows the move.
	if _, err := m.Lstat("/b/empty/sub/../f"); err != nil {
		t.Errorf("Lstat through .. of a moved directory: %v", err)
	}
}

func TestMemRenameSameFile(t *testing.T) {
	m := NewMem(newTestClock())
	mustDo(t,
		m.WriteFile("/a", []byte("x"), 0o644),
		m.Link("/a", "/b"),
		m.Rename("/a", "/b"),
	)
	// rename(2): two names of one file are left alone.
	if !m.Exists("/a") || !m.Exists("/b") {
		t.Errorf("names left: /a %v, /b %v; want both", m.Exists("/a"), m.Exists("/b"))
	}
}

func TestMemSymlinkedDirectories(t *testing.T) {
	m := NewMem(newTestClock())
	mustDo(t,
		m.MkdirAll("/real/sub", 0o755),
		m.Symlink("/real", "/abs"),
		m.Symlink("real", "/rel"),
		m.Symlink("../..", "/real/sub/up"), // back to "/"
		created(m.CreateExcl("/abs/f", []byte("x"), 0o644)),
	)
	want, err := m.Lstat("/real/f")
	mustDo(t, err)
	for _, p := range []string{"/abs/f", "/rel/f", "/real/sub/up/real/f", "rel/../real/f", "//rel///f"} {
		fi, err := m.Lstat(p)
		if err != nil || !fsops.SameFile(fi, want) {
			t.Errorf("Lstat(%q) = %+v, %v; want /real/f", p, fi, err)
		}
	}
	if names, err := m.ReadDir("/abs"); err != nil || !slices.Equal(names, []string{"f", "sub"}) {
		t.Errorf("ReadDir through a symlink = %q, %v", names, err)
	}
	if err := m.MkdirAll("/abs/sub/new", 0o755); err != nil || !m.Exists("/real/sub/new") {
		t.Errorf("MkdirAll through a symlink: %v", err)
	}
}

func TestMemTimes(t *testing.T) {
	clk := newTestClock()
	m := NewMem(clk)
	mustDo(t, m.MkdirAll("/d", 0o755))

	type times struct{ mtime, ctime time.Time }
	get := func(name string) times {
		t.Helper()
		fi, err := m.Lstat(name)
		mustDo(t, err)
		return times{fi.ModTime, fi.Ctime}
	}
	check := func(step, name string, want times) {
		t.Helper()
		if got := get(name); !got.mtime.Equal(want.mtime) || !got.ctime.Equal(want.ctime) {
			t.Errorf("after %s: %s has mtime %v, ctime %v; want %v, %v", step, name, got.mtime, got.ctime, want.mtime, want.ctime)
		}
	}

	t1 := clk.Advance(time.Second)
	mustDo(t, created(m.CreateExcl("/d/a", []byte("x"), 0o644)))
	check("CreateExcl", "/d/a", times{t1, t1})
	check("CreateExcl", "/d", times{t1, t1})

	t2 := clk.Advance(time.Second)
	mustDo(t, m.Link("/d/a", "/d/b"))
	check("Link", "/d/a", times{t1, t2})

	t3 := clk.Advance(time.Second)
	set := time.Date(2000, 1, 1, 0, 0, 0, 1, time.UTC)
	mustDo(t, m.Chtimes("/d/a", set, set))
	check("Chtimes", "/d/b", times{set, t3})

	t4 := clk.Advance(time.Second)
	mustDo(t, m.Rename("/d/a", "/d/c"))
	check("Rename", "/d/c", times{set, t4})
	check("Rename", "/d", times{t4, t4})

	t5 := clk.Advance(time.Second)
	mustDo(t, m.Remove("/d/b"))
	check("Remove", "/d/c", times{set, t5})

	t6 := clk.Advance(time.Second)
	mustDo(t, m.WriteFile("/d/c", []byte("new"), 0o644))
	check("WriteFile", "/d/c", times{t6, t6})

	// Reads change nothing.
	clk.Advance(time.Second)
	_, _, err := m.ReadFile("/d/c", 10)
	mustDo(t, err)
	check("ReadFile", "/d/c", times{t6, t6})
}

func TestMemInodes(t *testing.T) {
	m := NewMem(newTestClock())
	root, err := m.Lstat("/")
	mustDo(t, err)
	if root.Ino != 1 || root.Dev != 1 || !root.Mode.IsDir() || root.Nlink != 2 {
		t.Errorf("root = %+v, want directory inode 1 on device 1 with 2 links", root)
	}
	mustDo(t,
		created(m.CreateExcl("/a", nil, 0o600)),
		m.MkdirAll("/d", 0o700),
		m.Symlink("/a", "/l"),
		m.Mkfifo("/p"),
	)
	for i, tc := range []struct {
		name  string
		mode  fs.FileMode
		size  int64
		nlink uint64
	}{
		{"/a", 0o600, 0, 1},
		{"/d", fs.ModeDir | 0o700, 0, 2},
		{"/l", fs.ModeSymlink | 0o777, 2, 1},
		{"/p", fs.ModeNamedPipe | 0o644, 0, 1},
	} {
		fi, err := m.Lstat(tc.name)
		mustDo(t, err)
		if want := uint64(i + 2); fi.Ino != want || fi.Dev != 1 || fi.Mode != tc.mode || fi.Size != tc.size || fi.Nlink != tc.nlink {
			t.Errorf("%s = %+v, want inode %d, mode %v, size %d, %d links", tc.name, fi, want, tc.mode, tc.size, tc.nlink)
		}
	}
}

func TestMemHelpers(t *testing.T) {
	m := NewMem(newTestClock())
	mustDo(t,
		m.MkdirAll("/d", 0o755),
		m.MkdirAll("/d", 0o755), // exists: fine
		m.WriteFile("/d/b", []byte("first"), 0o644),
		m.Symlink("/d/b", "/d/a"),
		m.Symlink("/d/new", "/d/dangling"),
	)
	before, err := m.Lstat("/d/b")
	mustDo(t, err)

	// WriteFile truncates in place, through a symlink.
	mustDo(t, m.WriteFile("/d/a", []byte("2nd"), 0o600))
	data, after, err := m.ReadFile("/d/b", 100)
	if err != nil || string(data) != "2nd" || !fsops.SameFile(before, after) || after.Mode != 0o644 {
		t.Errorf("after WriteFile: %q %+v %v; want %q in the same file, mode kept", data, after, err, "2nd")
	}
	// and creates the target of a dangling one.
	mustDo(t, m.WriteFile("/d/dangling", []byte("x"), 0o600))
	if fi, err := m.Lstat("/d/new"); err != nil || fi.Mode != 0o600 {
		t.Errorf("WriteFile through a dangling symlink: %+v, %v", fi, err)
	}

	names, err := m.ReadDir("/d")
	if want := []string{"a", "b", "dangling", "new"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("ReadDir = %q, %v; want %q", names, err, want)
	}
	for name, want := range map[string]bool{"/d": true, "/d/dangling": true, "/d/x": false, "/d/b/x": false, "/": true} {
		if got := m.Exists(name); got != want {
			t.Errorf("Exists(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestMemCopiesData(t *testing.T) {
	m := NewMem(newTestClock())
	data := []byte("abc")
	mustDo(t, created(m.CreateExcl("/f", data, 0o644)))
	data[0] = 'X'
	got, _, err := m.ReadFile("/f", 10)
	mustDo(t, err)
	got[1] = 'Y'
	if again, _, _ := m.ReadFile("/f", 10); string(again) != "abc" {
		t.Errorf("content = %q, want %q: Mem shares memory with its callers", again, "abc")
	}
}

func TestMemNilClock(t *testing.T) {
	m := NewMem(nil)
	start := time.Now()
	mustDo(t, created(m.CreateExcl("/f", nil, 0o644)))
	fi, err := m.Lstat("/f")
	mustDo(t, err)
	if fi.ModTime.Before(start.Add(-time.Second)) || fi.ModTime.After(time.Now().Add(time.Second)) {
		t.Errorf("mtime %v is not the time of creation (%v)", fi.ModTime, start)
	}
}

// TestMemConcurrent races exclusive operations on one name: exactly one
// must win. Run with -race, it also checks Mem's locking.
func TestMemConcurrent(t *testing.T) {
	const n = 16
	m := NewMem(newTestClock())
	for i := range n {
		mustDo(t, m.WriteFile("/claim"+string(rune('a'+i)), nil, 0o644))
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins = map[string]int{}
	)
	for i := range n {
		wg.Go(func() {
			claim := "/claim" + string(rune('a'+i))
			for _, op := range []struct {
				name string
				err  error
			}{
				{"CreateExcl", created(m.CreateExcl("/created", []byte(claim), 0o644))},
				{"Link", m.Link(claim, "/linked")},
				{"Rename", m.Rename(claim, "/renamed")}, // replaces: everyone wins
			} {
				if op.err == nil {
					mu.Lock()
					wins[op.name]++
					mu.Unlock()
				} else if !errors.Is(op.err, fs.ErrExist) {
					t.Errorf("%s: %v", op.name, op.err)
				}
			}
			_, _, _ = m.ReadFile("/linked", 100)
			_, _ = m.Lstat("/created")
		})
	}
	wg.Wait()
	if want := map[string]int{"CreateExcl": 1, "Link": 1, "Rename": n}; !maps.Equal(wins, want) {
		t.Errorf("successes = %v, want %v", wins, want)
	}
}

func TestMemMtimeGranularity(t *testing.T) {
	clk := newTestClock()
	m := NewMem(clk, WithMtimeGranularity(time.Second))
	mustDo(t, created(m.CreateExcl("/f", nil, 0o644)))
	fi, err := m.Lstat("/f")
	mustDo(t, err)
	if want := epoch.Truncate(time.Second); !fi.ModTime.Equal(want) || !fi.Ctime.Equal(want) {
		t.Errorf("mtime, ctime = %v, %v; want both %v", fi.ModTime, fi.Ctime, want)
	}

	clk.Advance(1500 * time.Millisecond)
	set := time.Date(2030, 1, 2, 3, 4, 5, 999_999_999, time.UTC)
	mustDo(t, m.Chtimes("/f", set, set))
	_, fi, err = m.ReadFile("/f", 10)
	mustDo(t, err)
	if want := set.Truncate(time.Second); !fi.ModTime.Equal(want) {
		t.Errorf("mtime after Chtimes = %v, want %v", fi.ModTime, want)
	}
	if want := epoch.Add(1500 * time.Millisecond).Truncate(time.Second); !fi.Ctime.Equal(want) {
		t.Errorf("ctime after Chtimes = %v, want %v", fi.Ctime, want)
	}
}

func TestMemPathInodes(t *testing.T) {
	m := NewMem(newTestClock(), WithPathInodes())
	mustDo(t,
		m.WriteFile("/claim", []byte("x"), 0o644),
		m.Link("/claim", "/lock"),
	)
	claim, err := m.Lstat("/claim")
	mustDo(t, err)
	lock, err := m.Lstat("/lock")
	mustDo(t, err)
	if fsops.SameFile(claim, lock) || claim.Ino == 0 || lock.Ino == 0 {
		t.Errorf("two names of one file look the same: %+v, %+v", claim, lock)
	}
	if claim.Nlink != 1 || lock.Nlink != 1 {
		t.Errorf("Nlink = %d, %d; want 1 whatever the real count", claim.Nlink, lock.Nlink)
	}
	if _, fi, err := m.ReadFile("/lock", 10); err != nil || fi.Ino != lock.Ino || fi.Nlink != 1 {
		t.Errorf("ReadFile's FileInfo %+v (%v) differs from Lstat's %+v", fi, err, lock)
	}
	// A new file at the same name keeps the number.
	mustDo(t,
		m.Remove("/lock"),
		m.WriteFile("/other", []byte("y"), 0o644),
		m.Rename("/other", "/lock"),
	)
	if fi, err := m.Lstat("/lock"); err != nil || fi.Ino != lock.Ino {
		t.Errorf("inode of a replaced name = %d (%v), want %d", fi.Ino, err, lock.Ino)
	}
}

func TestMemEPERMForEEXIST(t *testing.T) {
	m := NewMem(newTestClock(), WithEPERMForEEXIST())
	mustDo(t,
		m.WriteFile("/claim", []byte("x"), 0o644),
		m.WriteFile("/lock", []byte("y"), 0o644),
	)
	_, err := m.CreateExcl("/lock", nil, 0o644)
	wantErrno(t, err, syscall.EPERM)
	wantPathError(t, err, "/lock", nil)

	err = m.Link("/claim", "/lock")
	wantErrno(t, err, syscall.EPERM)
	wantLinkError(t, err, "/claim", "/lock", nil)

	// Other failures are as usual.
	wantErrno(t, m.Link("/missing", "/x"), syscall.ENOENT)
	if err := m.Link("/claim", "/free"); err != nil {
		t.Errorf("Link to a free name: %v", err)
	}
}

// TestMemErrorsNameTheCall checks the error types and operation names,
// which must match the OS implementation's.
func TestMemErrorsNameTheCall(t *testing.T) {
	m := NewMem(newTestClock())
	mustDo(t, m.MkdirAll("/d", 0o755), m.WriteFile("/big", []byte("abc"), 0o644))
	for _, tc := range []struct {
		err error
		op  string
	}{
		{created(m.CreateExcl("/x/y", nil, 0)), "open"},
		{func() error { _, err := m.Lstat("/x"); return err }(), "lstat"},
		{func() error { _, _, err := m.ReadFile("/x", 1); return err }(), "open"},
		{func() error { _, _, err := m.ReadFile("/d", 1); return err }(), "read"},
		{func() error { _, _, err := m.ReadFile("/big", 1); return err }(), "read"},
		{m.Chtimes("/x", epoch, epoch), "chtimes"},
		{m.Remove("/x"), "remove"},
		{m.Link("/x", "/y"), "link"},
		{m.Rename("/x", "/y"), "rename"},
	} {
		var pe *fs.PathError
		var le *os.LinkError
		switch {
		case errors.As(tc.err, &pe):
			if pe.Op != tc.op {
				t.Errorf("%v: Op = %q, want %q", tc.err, pe.Op, tc.op)
			}
		case errors.As(tc.err, &le):
			if le.Op != tc.op {
				t.Errorf("%v: Op = %q, want %q", tc.err, le.Op, tc.op)
			}
		default:
			t.Errorf("error %v (%T) is neither *fs.PathError nor *os.LinkError", tc.err, tc.err)
		}
	}
}

// TestLookupFastPath checks lookup's in-place walk of clean names against
// the general walk over clean's components, on names with and without
// symbolic links, "." and "..", and missing or non-directory components.
func TestLookupFastPath(t *testing.T) {
	m := NewMem(newTestClock())
	for _, d := range []string{"/a", "/a/b", "/c"} {
		if err := m.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.WriteFile("/a/b/f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, l := range [][2]string{{"/a/b", "/ln"}, {"../a", "/c/up"}, {"f", "/a/b/rel"}, {"/loop", "/loop"}} {
		if err := m.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	names := []string{"/", "/a", "/a/b/f", "/a/b/f/x", "/a/missing/f", "/a/b/new", "/ln/f", "/ln", "/c/up/b/f",
		"/a/b/rel", "/loop", "/loop/x", "a/b/f", "/a//b/f", "/a/./b/f", "/a/b/../b/f", "/a/b/", "//a", "/a/..",
		"/ln/../a/b/f", "/ln/./f", "/ln//f", "/ln/f/", "/c/up/../c", ""}
	for _, name := range names {
		for _, follow := range []bool{false, true} {
			isCleanWant := clean(name) == name
			if got := isClean(name); got != isCleanWant {
				t.Errorf("isClean(%q) = %v, want %v", name, got, isCleanWant)
			}
			got, gotErr := m.lookup(name, follow)
			want, wantErr := m.walk(m.root, strings.Split(clean(name), "/"), follow)
			if got != want || gotErr != wantErr {
				t.Errorf("lookup(%q, %v) = %+v, %v; walk gives %+v, %v", name, follow, got, gotErr, want, wantErr)
			}
		}
	}
}

// TestMemChanges: every call that changes what a look returns counts a
// change, and no look does (the simulator keeps its oracle's looks while
// the count stands still).
func TestMemChanges(t *testing.T) {
	m := NewMem(newTestClock())
	mustDo(t, m.MkdirAll("/d/sub", 0o755), m.WriteFile("/d/f", []byte("x"), 0o644))
	d, err := m.OpenDir("/d")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		do     func() error
		change bool
	}{
		{"Lstat", func() error { _, err := m.Lstat("/d/f"); return err }, false},
		{"ReadFile", func() error { _, _, err := m.ReadFile("/d/f", 10); return err }, false},
		{"ReadDir", func() error { _, err := m.ReadDir("/d"); return err }, false},
		{"Dir.Stat", func() error { _, err := d.Stat(); return err }, false},
		{"Dir.ReadFile", func() error { _, _, err := d.ReadFile("f", 10); return err }, false},
		{"Dir.ReadDir", func() error { _, err := d.ReadDir(); return err }, false},
		{"Exists", func() error { m.Exists("/d/f"); return nil }, false},
		{"failed CreateExcl", func() error { m.CreateExcl("/d/f", nil, 0o644); return nil }, false},
		{"CreateExcl", func() error { _, err := m.CreateExcl("/d/g", nil, 0o644); return err }, true},
		{"Link", func() error { return m.Link("/d/g", "/d/h") }, true},
		{"Rename", func() error { return m.Rename("/d/h", "/d/i") }, true},
		{"Chtimes", func() error { return m.Chtimes("/d/i", at, at) }, true},
		{"WriteFile over a file", func() error { return m.WriteFile("/d/i", []byte("y"), 0o644) }, true},
		{"Remove", func() error { return m.Remove("/d/i") }, true},
		{"Mkdir", func() error { return m.Mkdir("/d/e", 0o755) }, true},
		{"Rmdir", func() error { return m.Rmdir("/d/e") }, true},
		{"Symlink", func() error { return m.Symlink("f", "/d/s") }, true},
		{"Mkfifo", func() error { return m.Mkfifo("/d/p") }, true},
		{"Dir.CreateExcl", func() error { return d.CreateExcl("j", nil, 0o644) }, true},
		{"Dir.Chtimes", func() error { return d.Chtimes("j", at, at) }, true},
		{"Dir.Remove", func() error { return d.Remove("j") }, true},
	} {
		before, _ := oracle.Changes(m)
		if err := tc.do(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		after, _ := oracle.Changes(m)
		if changed := after != before; changed != tc.change {
			t.Errorf("%s: counted a change: %v, want %v", tc.name, changed, tc.change)
		}
	}
	if _, ok := oracle.Changes(m); !ok {
		t.Error("Changes of a Mem: not ok")
	}
	if _, ok := oracle.Changes(&Faulty{FS: m}); ok {
		t.Error("Changes of a Faulty: ok, want false")
	}
}

// TestMemLookupAfterDirMoves: a lookup in the directory the last one
// walked to starts there, so every way a path can come to name another
// directory must be seen. The moves are of top-level directories, whose
// own lookups walk from the root and leave the last directory as it was.
func TestMemLookupAfterDirMoves(t *testing.T) {
	m := NewMem(newTestClock())
	mustDo(t, m.MkdirAll("/a/d", 0o755), m.MkdirAll("/x/d", 0o755), m.Mkdir("/t", 0o755),
		m.WriteFile("/a/d/f", []byte("a"), 0o644), m.WriteFile("/x/d/f", []byte("x"), 0o644))
	read := func(name string) string {
		t.Helper()
		data, _, err := m.ReadFile(name, 10)
		if err != nil {
			return err.(*fs.PathError).Err.Error()
		}
		return string(data)
	}
	for i, step := range []struct {
		do         []func() error
		name, want string
	}{
		{nil, "/a/d/f", "a"},
		{[]func() error{func() error { return m.Rename("/a", "/c") }}, "/a/d/f", syscall.ENOENT.Error()},
		{nil, "/c/d/f", "a"},
		{[]func() error{func() error { return m.Rename("/c", "/e") }, func() error { return m.Rename("/x", "/c") }}, "/c/d/f", "x"},
		{[]func() error{func() error { return m.Rename("/c", "/y") }, func() error { return m.Symlink("e", "/c") }}, "/c/d/f", "a"},
		{nil, "/t/f", syscall.ENOENT.Error()},
		{[]func() error{func() error { return m.Rmdir("/t") }, func() error { return m.Mkdir("/t", 0o755) }, func() error { return m.WriteFile("/t/f", []byte("t"), 0o644) }}, "/t/f", "t"},
	} {
		for _, do := range step.do {
			mustDo(t, do())
		}
		if got := read(step.name); got != step.want {
			t.Errorf("step %d: %s = %q, want %q", i, step.name, got, step.want)
		}
	}
	if names, err := m.ReadDir("/t"); err != nil || len(names) != 1 {
		t.Errorf("ReadDir(/t) = %q, %v; want the file written", names, err)
	}
}

func TestMemWithoutRenameNoReplace(t *testing.T) {
	m := NewMem(newTestClock(), WithoutRenameNoReplace())
	mustDo(t, m.WriteFile("/a", []byte("A"), 0o644))
	for _, to := range []string{"/b", "/a"} {
		err := m.RenameNoReplace("/a", to)
		if !errors.Is(err, errors.ErrUnsupported) || !errors.Is(err, syscall.EINVAL) {
			t.Errorf("RenameNoReplace(/a, %s) = %v, want an error wrapping errors.ErrUnsupported and EINVAL", to, err)
		}
	}
	if !m.Exists("/a") || m.Exists("/b") {
		t.Error("an unsupported RenameNoReplace changed the FS")
	}
}
