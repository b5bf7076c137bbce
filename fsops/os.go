package fsops

// OS returns the FS of the host's real filesystem. It is stateless and safe
// for concurrent use; see the package documentation for what it does and
// does not guarantee on each platform.
func OS() FS { return osFS{} }

// osFS is the real filesystem. Its methods live in os_unix.go and
// os_other.go.
type osFS struct{}

var _ FS = osFS{}
