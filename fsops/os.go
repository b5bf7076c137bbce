package fsops

import (
	"os"
	"slices"
)

// OS returns the FS of the host's real filesystem. It is stateless and safe
// for concurrent use; see the package documentation for what it does and
// does not guarantee on each platform.
func OS() FS { return osFS{} }

// osFS is the real filesystem. Its methods live in os_unix.go and
// os_other.go.
type osFS struct{}

var _ FS = osFS{}

// ReadDir implements FS.ReadDir with package os, which opens the directory
// with O_CLOEXEC, retries EINTR and closes it before returning.
func (osFS) ReadDir(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	return names, nil
}
