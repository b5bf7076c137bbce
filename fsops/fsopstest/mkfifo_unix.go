//go:build unix

package fsopstest

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

func mkfifo(name string) error {
	if err := unix.Mkfifo(name, 0o644); err != nil {
		return &fs.PathError{Op: "mkfifo", Path: name, Err: err}
	}
	return nil
}
