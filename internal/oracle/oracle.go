// Package oracle gives the simulator's oracle what only it may see of an
// fsopstest.Mem: the true identity of a file, ignoring the quirks the Mem
// simulates (WithPathInodes). Package fsopstest sets the functions when it
// is linked in; no user of fsopstest sees them.
package oracle

import "github.com/nfslease/nfslease/fsops"

var (
	// Ino returns the inode number of the file at name on fsys, an
	// *fsopstest.Mem, without following a symbolic link in its last
	// component; false if there is none or fsys is not a Mem.
	Ino func(fsys fsops.FS, name string) (uint64, bool)

	// DirIno is Ino for the entry name of d, a Dir opened on a Mem; false
	// if d's directory was removed or d is not a Mem's.
	DirIno func(d fsops.Dir, name string) (uint64, bool)

	// Changes counts the changes made to fsys, an *fsopstest.Mem, so
	// far: anything a look at its names and files returns (a name, a
	// file's content, times or link count) stays the same while the count
	// does. False if fsys is not a Mem.
	Changes func(fsys fsops.FS) (uint64, bool)
)
