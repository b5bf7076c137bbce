package fsops

import "errors"

var (
	// ErrTooLarge is wrapped by ReadFile when the file is larger than the
	// limit given.
	ErrTooLarge = errors.New("file larger than the read limit")

	// ErrNotRegular is wrapped by ReadFile when the name is not a regular
	// file (a directory, FIFO, device or socket).
	ErrNotRegular = errors.New("not a regular file")
)
