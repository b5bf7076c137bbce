package fsopstest

import (
	"io/fs"
	"os"
)

// Setup makes the fixtures TestFS needs, by other means than the FS under
// test: directories, symbolic links, files with given content and FIFOs.
// The methods behave like their namesakes in package os; a symbolic link
// target is used as given.
type Setup interface {
	MkdirAll(dir string, perm fs.FileMode) error
	WriteFile(name string, data []byte, perm fs.FileMode) error
	Symlink(target, link string) error
	// Mkfifo creates a named pipe. It fails with an error wrapping
	// errors.ErrUnsupported where there are none, and the tests that
	// need one are skipped.
	Mkfifo(name string) error
}

// OSSetup returns the Setup for the host's real filesystem, made with
// package os.
func OSSetup() Setup { return osSetup{} }

type osSetup struct{}

func (osSetup) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

func (osSetup) WriteFile(name string, data []byte, perm fs.FileMode) error {
	return os.WriteFile(name, data, perm)
}

func (osSetup) Symlink(target, link string) error { return os.Symlink(target, link) }

func (osSetup) Mkfifo(name string) error { return mkfifo(name) }
