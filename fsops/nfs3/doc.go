// Package nfs3 is an NFSv3 client (RFC 1813, with MOUNT v3, over ONC RPC
// on TCP, RFC 5531) that implements fsops.FS without a kernel mount, so
// that the lock protocols can run against a real NFS server, with real
// retransmissions and a real duplicate request cache, where no kernel NFS
// client is available (tests, chaos runs, benchmarks).
//
// It behaves like the Linux kernel client, to give the protocols what a
// real mount gives them:
//
//   - hard by default (a call is sent again until answered); Soft gives up
//     with ETIMEDOUT after the retransmissions of WithTimeout (timeo, retrans;
//     each retransmission waits timeo longer);
//   - a retransmission carries the XID of the original call, on the same
//     connection or, after a reset, on a new one made from the same local
//     port, so that the server's duplicate request cache can recognise it;
//   - an attribute cache (acregmin/acregmax/acdirmin/acdirmax) and a name
//     cache, positive and negative, trusted while the directory's
//     attributes show no change by another client; ReadFile and OpenDir
//     fetch fresh attributes (close-to-open), which NoCloseToOpen turns
//     off and WithoutCache makes moot;
//   - CreateExcl is CREATE EXCLUSIVE with a verifier, so that a replayed
//     create succeeds rather than fails, then SETATTR of the mode and of
//     the times to the server's clock; GUARDED where EXCLUSIVE is not
//     supported;
//   - unlink and link refuse a directory before asking the server;
//   - a call by path that fails with ESTALE is made once more with the
//     caches dropped (the VFS's retry_estale); calls through a Dir never
//     are.
//
// Guarantees: every error is an *fs.PathError or *os.LinkError naming the
// paths, wrapping a syscall.Errno mapped from the NFS status as Linux maps
// it (NFS3ERR_STALE is ESTALE). A Dir holds an NFS file handle, bound to
// its directory whatever its name later. Stats counts calls per procedure,
// retransmissions, timeouts and reconnections. Close stops every goroutine.
//
// Non-guarantees: those of NFSv3 itself. A call can be executed although
// an error is reported (soft timeout), or twice (a retransmission the
// server's duplicate request cache misses: see docs/nfs.md for what
// nfs-ganesha does); Lstat and cached names may be stale by the cache
// times; another client's new name may be invisible until the directory's
// attributes expire. No umask is applied to the modes sent. Symbolic links
// in directory components are followed, absolute targets from the
// export's root. Chtimes reports ENOTSUP when the server answers success
// but returns times other than those asked (ganesha does so for symbolic
// links). Only AUTH_SYS; no locking (NLM), no UDP, no NFSv4.
package nfs3
