//go:build aix || solaris

package fsops

import "syscall"

// linkNoFollow is plain link(2), from package syscall because
// golang.org/x/sys/unix has no linkat for AIX and Solaris (illumos), nor
// link for AIX. There a symbolic link at oldname may be followed, which
// breaks the promise of FS.Link on those systems only.
func linkNoFollow(oldname, newname string) error {
	return syscall.Link(oldname, newname)
}
