package fsops

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

var _ NoReplaceRenamer = osFS{}

// RenameNoReplace implements NoReplaceRenamer with renameat2(2) and
// RENAME_NOREPLACE. EINVAL and ENOSYS, the answers of a filesystem or a
// kernel without the flag, are reported as errors.ErrUnsupported (they
// also wrap the errno). The names the protocols pass are siblings, so no
// other cause of EINVAL (a directory renamed into itself) reaches here.
func (osFS) RenameNoReplace(oldname, newname string) error {
	err := ignoringEINTR(func() error {
		return unix.Renameat2(unix.AT_FDCWD, oldname, unix.AT_FDCWD, newname, unix.RENAME_NOREPLACE)
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		err = fmt.Errorf("%w (%w)", errors.ErrUnsupported, err)
	}
	return &os.LinkError{Op: "renameat2", Old: oldname, New: newname, Err: err}
}
