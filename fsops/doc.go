// Package fsops is the narrow filesystem interface the lock protocols are
// written against.
//
// [FS] has exactly the primitives package algorithm needs: exclusive
// creation, link(2), rename(2), lstat, a bounded read, setting times,
// unlink(2), and listing a directory (to find leftover claim files).
// Keeping it this small lets the same protocol code run on the real
// filesystem, on an in-memory model and under injected faults, and makes
// every filesystem call of the protocols visible in one place. Optional
// interfaces add what only some filesystems have: [Typer] (the kind of
// filesystem), [NoReplaceRenamer] (renameat2's RENAME_NOREPLACE, which
// [OS] has on Linux and NFS and most FUSE filesystems answer
// unsupported), and [Watcher] (change notifications).
//
// # Errors
//
// Every error is an *fs.PathError, or an *os.LinkError for Link and the
// renames,
// naming the path(s) and wrapping the cause. The cause is a syscall.Errno
// wherever the operating system produced one, so errors.Is works both
// against the portable fs.ErrExist and fs.ErrNotExist and against a
// specific errno such as syscall.ELOOP. ReadFile's own conditions wrap
// [ErrNotRegular] and [ErrTooLarge] instead.
//
// # Guarantees
//
// The implementation returned by [OS] on Unix systems
//
//   - never follows a symbolic link in the last component of a name
//     (O_NOFOLLOW, lstat, linkat without AT_SYMLINK_FOLLOW,
//     AT_SYMLINK_NOFOLLOW); symbolic links in directory components are
//     followed as usual;
//   - opens every descriptor with O_CLOEXEC, so none leaks into a child
//     process started concurrently by another goroutine;
//   - keeps no descriptor open after a call returns, whether it succeeds or
//     fails;
//   - retries a call interrupted by a signal (EINTR), except close(2),
//     which must not be retried because the descriptor is gone by then;
//   - never blocks opening a FIFO (ReadFile opens with O_NONBLOCK and
//     rejects anything that is not a regular file).
//
// # Non-guarantees
//
// On a network filesystem (NFS, SMB, sshfs, GlusterFS) the result of a call
// is a claim of the client, not a fact about the server: a call can be
// applied although an error is reported (a lost reply), applied twice (a
// retransmission), or reported as some other error (sshfs answers EPERM
// where the server said EEXIST). Link counts and, on some filesystems,
// inode numbers are not meaningful. Callers must establish outcomes by
// reading the namespace back.
//
// Attributes returned by Lstat may come from the client's attribute cache
// and so be stale by the cache lifetime. Only the attributes ReadFile
// returns are fresh on NFS: they are taken with fstat on the descriptor
// just opened, and the open revalidates them (close-to-open consistency),
// and those CreateExcl returns, taken from the file it created.
//
// Timestamp precision is the filesystem's: some store whole seconds (sshfs)
// or two seconds (FAT).
//
// # Implementations
//
//   - [OS] returns the real filesystem: system calls through
//     golang.org/x/sys/unix on Unix systems, and package os elsewhere
//     (Windows, WebAssembly), where there is no O_NOFOLLOW, so ReadFile,
//     Chtimes and Remove check the name with lstat first and the check is
//     subject to a race with a concurrent change of the name, and Dev, Ino,
//     Ctime and Uid are zero.
//   - Package fsops/fsopstest provides Mem, an in-memory filesystem with
//     Linux semantics and optional quirks of network filesystems; Faulty,
//     a wrapper that injects errors before or after a call is applied; and
//     TestFS, the conformance suite every implementation must pass.
package fsops
