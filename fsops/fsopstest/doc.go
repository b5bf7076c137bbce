// Package fsopstest provides fakes of fsops.FS for tests, and the
// conformance suite every implementation must pass.
//
//   - Mem is an in-memory filesystem with Linux's error semantics and
//     optional quirks of real network filesystems (sshfs's whole-second
//     timestamps, path-derived inode numbers and link count of 1, EPERM for
//     EEXIST).
//   - Faulty wraps any FS and injects one fault per call: an error before
//     the call is applied (a lost request) or after (a lost reply, as NFS
//     produces when the server applied a call whose reply never arrived).
//   - TestFS is the conformance suite; fsops.OS() and Mem both pass it.
//
// The NFS simulator, with caches, replays and many clients, is a separate
// package.
package fsopstest
