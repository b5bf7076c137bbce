package algorithm_test

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nfslease/nfslease/algorithm"
	"github.com/nfslease/nfslease/internal/proto"
)

// pythonLocks are lock contents written by Python flufl.lock 5.0.1
// (python3-flufl.lock 5.0.1-4), made by Lock(path).lock() and read back:
// absolute and relative lock paths, as they were, and rewritten to this
// test's lock path.
var pythonLocks = []string{
	"/tmp/pyseed/a.lock|localhost|6582|3354519402004308612",
	"a.lock|localhost|6582|727296076109044716",
	"/tmp/pyseed/a.lock|localhost|6582|7464320706553074762",
	path + "|localhost|6582|3354519402004308612",
	path + "|localhost|6582|7464320706553074762",
	// flufl.lock on this host for the probe in docs (research notes).
	"/tmp/flufl-probe-orbq2hxc/test.lck|localhost|9208|2008258791743860990",
}

// looksLikeClaimOf reports whether content could be judged a claim of the
// lock named base: the only content for which the lock may be broken.
// It is deliberately written apart from the parser it checks.
func looksLikeClaimOf(content, base string) bool {
	if content == "" || len(content) > 4096 || strings.ContainsAny(content, "\x00\n") {
		return false
	}
	f := strings.Split(content, "|")
	if len(f) != 4 || f[0] == "" || filepath.Base(f[0]) != base {
		return false
	}
	pid, err := strconv.Atoi(f[2])
	return err == nil && pid >= 0
}

// validName reports whether s can be a file name in Mem.
func validName(s string) bool {
	return s != "" && s != "." && s != ".." && len(s) <= 255 && !strings.ContainsAny(s, "/\x00")
}

// memFiles maps every name in the given directories of e's Mem to its
// content (or "<dir>" / "<other>").
func memFiles(t *testing.T, e *env, dirs ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, d := range dirs {
		names, err := e.mem.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			p := d + "/" + n
			data, fi, err := e.mem.ReadFile(p, 1<<20)
			switch {
			case err == nil:
				m[p] = string(data) + "@" + fi.ModTime.String()
			default:
				m[p] = "<" + err.Error() + ">"
			}
		}
	}
	return m
}

// FuzzLockContent puts arbitrary bytes at the lock path, with an
// arbitrary age, and optionally a claim file named by them, beside
// decoys, and makes one acquisition (two if it broke a lock). It checks
// that nothing panics, that a lock whose content is not a claim of this
// lock is never removed and gives ErrNotLock, that decoys are never
// touched, and that nothing of ours remains after Close or Release.
func FuzzLockContent(f *testing.F) {
	for _, s := range pythonLocks {
		f.Add([]byte(s), int32(3600), true)
		f.Add([]byte(s), int32(-5), false)
	}
	for _, s := range []string{
		"", "\x00", "/etc/passwd", "../x", "/other/secret", "/other/a.lock|h|1|2",
		path + "|h|1|nfslease1.l15000.r0123456789abcdef",
		path + "|h|1|nfslease1.l0.r01", path + "|h|-1|2", path + "|h|1|2\n",
		dir + "/b.lock|h|1|2", path + "|h|1|2|3", strings.Repeat("x", 5000),
	} {
		f.Add([]byte(s), int32(3600), true)
	}
	f.Fuzz(func(t *testing.T, content []byte, ageSec int32, withClaim bool) {
		e := newEnv(t)
		if err := e.mem.MkdirAll("/other", 0o755); err != nil {
			t.Fatal(err)
		}
		for p, c := range map[string]string{"/other/secret": "s", dir + "/b.lock": "b", "/other/a.lock|h|1|2": "/other/a.lock|h|1|2"} {
			if err := e.mem.WriteFile(p, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.mem.WriteFile(path, content, 0o644); err != nil {
			t.Fatal(err)
		}
		mt := e.clk.Now().Add(-time.Duration(ageSec) * time.Second)
		if err := e.mem.Chtimes(path, mt, mt); err != nil {
			t.Fatal(err)
		}
		named := ""
		if base := filepath.Base(string(content)); withClaim && validName(base) && base != "a.lock" && base != "b.lock" {
			named = dir + "/" + base
			if err := e.mem.WriteFile(named, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		before := memFiles(t, e, dir, "/other")

		lk := e.lock("me", 10*time.Second)
		att, err := lk.Acquire(e.now())
		if err == nil && att.Broke {
			att, err = lk.Acquire(e.now())
		}
		claim := looksLikeClaimOf(string(content), "a.lock")
		if !claim && len(content) > 0 {
			if !errors.Is(err, algorithm.ErrNotLock) {
				t.Errorf("content %q: Acquire = %+v, %v; want ErrNotLock", content, att, err)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the path", err)
			}
		}
		if att.Acquired {
			if err := lk.Release(inTime); err != nil {
				t.Errorf("Release = %v", err)
			}
		} else if err := lk.Close(e.now()); err != nil {
			t.Errorf("Close = %v", err)
		}

		after := memFiles(t, e, dir, "/other")
		for p, was := range before {
			now, ok := after[p]
			mayGo := claim && (p == path || p == named)
			switch {
			case ok && now != was:
				t.Errorf("%s changed from %q to %q", p, was, now)
			case !ok && !mayGo:
				t.Errorf("%s removed (content %q)", p, content)
			}
		}
		for p := range after {
			if _, ok := before[p]; !ok {
				t.Errorf("%s left behind", p)
			}
		}
	})
}

// FuzzLeftoverClaim puts a file with an arbitrary name and content, old,
// in the lock directory, and checks that the sweep of leftover claims
// removes it only if it is a claim of this lock, of this package, made on
// this host, whose content is its own path, and never panics.
func FuzzLeftoverClaim(f *testing.F) {
	for _, s := range pythonLocks {
		f.Add(filepath.Base(s), true, false)
	}
	f.Add("a.lock|h|7|nfslease1.l10000.r0123456789abcdef", true, false)
	f.Add("a.lock|h|7|nfslease1.l10000.r0123456789abcdef", false, true)
	f.Add("a.lock|h|7|nfslease1.l10000.r0123456789abcdef.break", true, false)
	f.Add("a.lock|other|7|nfslease1.l10000.r01", true, false)
	f.Add("b.lock|h|7|nfslease1.l10000.r01", true, false)
	f.Add("a.lock|h|0|nfslease1.l86400000.r01", true, true)
	f.Add("a.lock|h|99999999999|nfslease1.l1.r01", true, false)
	f.Add("a.lock|break", true, false)
	f.Fuzz(func(t *testing.T, name string, selfContent, alive bool) {
		if !validName(name) || name == "a.lock" {
			return
		}
		e := newEnv(t)
		p := dir + "/" + name
		content := "not a claim"
		if selfContent {
			content = p
		}
		if err := e.mem.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		old := e.clk.Now().Add(-48 * time.Hour)
		if err := e.mem.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
		lk, err := algorithm.Flufl.New(e.fs, path, proto.Config{
			Lifetime: 10 * time.Second, Hostname: "h", Pid: 1,
			PidAlive: func(int) bool { return alive },
		})
		if err != nil {
			t.Fatal(err)
		}
		att, err := lk.Acquire(e.now())
		if err != nil || !att.Acquired {
			t.Fatalf("Acquire = %+v, %v", att, err)
		}
		if err := lk.Release(inTime); err != nil {
			t.Fatal(err)
		}
		f := strings.Split(name, "|")
		mayGo := selfContent && len(f) == 4 && f[0] == "a.lock" && f[1] == "h" && strings.HasPrefix(f[3], "nfslease1.")
		if !e.mem.Exists(p) && !mayGo {
			t.Errorf("removed %q (content %q)", name, content)
		}
		if names := e.files(); len(names) > 1 {
			t.Errorf("files = %q, want at most the planted one", names)
		}
	})
}
