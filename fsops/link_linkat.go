//go:build unix && !aix && !solaris

package fsops

import "golang.org/x/sys/unix"

// linkNoFollow is link(2) that links a symbolic link at oldname itself.
// Whether plain link(2) follows it is implementation-defined (POSIX);
// linkat without AT_SYMLINK_FOLLOW never does.
func linkNoFollow(oldname, newname string) error {
	return unix.Linkat(unix.AT_FDCWD, oldname, unix.AT_FDCWD, newname, 0)
}
