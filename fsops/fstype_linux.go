package fsops

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

var _ Typer = osFS{}

// FSType implements Typer: the type of the mount that holds dir, from
// /proc/self/mountinfo (the longest mount point that contains dir, after
// resolving symbolic links). FUSE mounts are named "fuse.<subtype>".
func (osFS) FSType(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	defer f.Close()
	best, typ := -1, ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		mnt, fstype, ok := parseMountinfo(sc.Text())
		if ok && within(abs, mnt) && len(mnt) > best {
			best, typ = len(mnt), fstype
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	if best < 0 {
		return "", fmt.Errorf("fsops: no mount holds %s in /proc/self/mountinfo", abs)
	}
	return typ, nil
}

// parseMountinfo returns the mount point and filesystem type of one line
// of /proc/self/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// The mount point is the fifth field (octal escapes for space, tab,
// newline and backslash); the type follows the " - " separator.
func parseMountinfo(line string) (mnt, fstype string, ok bool) {
	pre, post, found := strings.Cut(line, " - ")
	if !found {
		return "", "", false
	}
	f := strings.Fields(pre)
	g := strings.Fields(post)
	if len(f) < 5 || len(g) < 1 {
		return "", "", false
	}
	return unescapeMountinfo(f[4]), g[0], true
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && isOctal(s[i+1]) && isOctal(s[i+2]) && isOctal(s[i+3]) {
			b.WriteByte((s[i+1]-'0')<<6 | (s[i+2]-'0')<<3 | (s[i+3] - '0'))
			i += 3
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// within reports whether path is mnt or below it.
func within(path, mnt string) bool {
	return mnt == "/" || path == mnt || strings.HasPrefix(path, mnt+"/")
}
