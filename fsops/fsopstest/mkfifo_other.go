//go:build !unix

package fsopstest

import (
	"errors"
	"io/fs"
)

func mkfifo(name string) error {
	return &fs.PathError{Op: "mkfifo", Path: name, Err: errors.ErrUnsupported}
}
