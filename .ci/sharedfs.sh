#!/usr/bin/env bash
# Real shared filesystems on this machine, for .ci/chaos: one export mounted
# several times, each mount an independent client with its own caches.
#
#   .ci/sharedfs.sh up sshfs N [coherent|default]
#   .ci/sharedfs.sh up gluster N
#   .ci/sharedfs.sh up nfs      # last line: export NFSLEASE_NFS=<target>
#   .ci/sharedfs.sh down sshfs|gluster|nfs|all
#   .ci/sharedfs.sh pids sshfs [coherent|default]   # pid of the FUSE daemon serving each mount
#   .ci/sharedfs.sh pids gluster
#
# "up" prints the mount points, comma-separated, on stdout (log lines go to
# stderr). It is idempotent: what is already up is kept.
#
# sshfs: a private sshd on 127.0.0.1:$NFSLEASE_SSHD_PORT (default 2222),
# throwaway keys, key login only; N sshfs mounts of one export directory.
# "coherent" mounts turn sshfs's and the kernel's caches off
# (dir_cache=no, attr/entry/negative timeouts 0); "default" keeps sshfs's
# own caching (names and attributes up to ~20 s stale between mounts).
#
# gluster: glusterd and a one-brick volume in a private network and mount
# namespace (GlusterFS refuses loopback brick addresses, so a veth link
# 10.214.0.1 <-> 10.214.0.2 reaches it); N FUSE mounts with client caches and
# performance translators off.
#
# nfs: nfs-ganesha and rpcbind in a private network and mount namespace,
# reached over a veth link 10.215.0.1 <-> 10.215.0.2; nothing is mounted
# (this kernel has no NFS client): the last line of "up nfs" is
# "export NFSLEASE_NFS=10.215.0.2:/export", a target for fsops/nfs3.Dial.
#
# Needs root, and /dev/fuse for sshfs and gluster. Installs its Debian packages with apt-get when
# they are missing. Everything lives under $NFSLEASE_SHAREDFS_DIR (default
# /tmp/nfslease-sharedfs); "down" unmounts and ends only the processes it
# started, by pid.
set -euo pipefail

ROOT="${NFSLEASE_SHAREDFS_DIR:-/tmp/nfslease-sharedfs}"
PORT="${NFSLEASE_SSHD_PORT:-2222}"
GNET=10.214.0
GVETH=nfslg0
GVOL=chaosvol

log() { echo "sharedfs: $*" >&2; }
die() {
	echo "sharedfs: ERROR: $*" >&2
	exit 1
}

# alive PID COMM: PID runs (not a zombie) and its command name is COMM.
alive() {
	local st
	st="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

fuse_mounted() { awk -v m="$1" '$2 == m && $3 ~ /^fuse/ { f = 1 } END { exit !f }' /proc/self/mounts; }

# apt_install PKG...: install missing packages without starting their services.
apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "apt-get install ${missing[*]}"
	local made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		# Keep the packages from starting system-wide daemons.
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	export DEBIAN_FRONTEND=noninteractive
	local rc=0
	if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
	fi
	[ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
	return $rc
}

check_root() {
	[ "$(id -u)" = 0 ] || die "must run as root"
	[ -e /dev/fuse ] || die "/dev/fuse is missing"
}

# ---------------------------------------------------------------- sshfs

S="$ROOT/sshfs"

sshd_alive() { [ -f "$S/sshd.pid" ] && alive "$(cat "$S/sshd.pid")" sshd; }

# sshfs_pid MOUNT: the pid of the sshfs process serving MOUNT.
sshfs_pid() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = sshfs ] || continue
		if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF "$1"; then
			echo "${p#/proc/}"
			return 0
		fi
	done
	return 1
}

sshfs_up() {
	local n="$1" cache="${2:-coherent}" i m opts
	check_root
	apt_install openssh-server sshfs
	mkdir -p "$S/export"
	chmod 700 "$S"
	[ -f "$S/host_key" ] || ssh-keygen -q -t ed25519 -N '' -C nfslease-chaos-host -f "$S/host_key"
	[ -f "$S/client_key" ] || ssh-keygen -q -t ed25519 -N '' -C nfslease-chaos-client -f "$S/client_key"
	cp "$S/client_key.pub" "$S/authorized_keys"
	cat >"$S/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $S/host_key
PidFile $S/sshd.pid
AuthorizedKeysFile $S/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers root
UsePAM no
StrictModes no
PrintMotd no
MaxStartups 100:30:200
MaxSessions 100
Subsystem sftp internal-sftp
EOF
	if ! sshd_alive; then
		if ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q .; then
			die "127.0.0.1:$PORT is in use; set NFSLEASE_SSHD_PORT"
		fi
		mkdir -p /run/sshd # sshd's privilege separation directory
		/usr/sbin/sshd -t -f "$S/sshd_config"
		/usr/sbin/sshd -f "$S/sshd_config" -E "$S/sshd.log"
		for _ in $(seq 100); do
			sshd_alive && ss -Hltn "sport = :$PORT" | grep -q . && break
			sleep 0.05
		done
		sshd_alive || die "sshd did not start: $(tail -n 5 "$S/sshd.log")"
		log "sshd pid $(cat "$S/sshd.pid") on 127.0.0.1:$PORT"
	fi
	opts="IdentityFile=$S/client_key,IdentitiesOnly=yes,BatchMode=yes,StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,LogLevel=ERROR"
	case "$cache" in
	coherent) opts="$opts,dir_cache=no,attr_timeout=0,entry_timeout=0,negative_timeout=0" ;;
	default) ;;
	*) die "sshfs cache mode must be coherent or default, not $cache" ;;
	esac
	local mounts=()
	for i in $(seq "$n"); do
		m="$S/mnt-$cache/c$i"
		mkdir -p "$m"
		if fuse_mounted "$m" && ! timeout 5 stat -t "$m" >/dev/null 2>&1; then
			log "$m: dead mount, unmounting"
			fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"
		fi
		if ! fuse_mounted "$m"; then
			sshfs -p "$PORT" -o "$opts" "root@127.0.0.1:$S/export" "$m"
		fi
		mounts+=("$m")
	done
	smoke "${mounts[@]}"
	log "sshfs ($cache): ${mounts[*]}"
	(
		IFS=,
		echo "${mounts[*]}"
	)
}

sshfs_down() {
	local m pid kids k
	[ -d "$S" ] || return 0
	for m in "$S"/mnt-*/c*; do
		[ -d "$m" ] || continue
		if fuse_mounted "$m"; then
			# A stopped sshfs (a chaos partition cut short) would hang the unmount.
			if pid="$(sshfs_pid "$m")"; then kill -CONT "$pid" 2>/dev/null || true; fi
			fusermount3 -u "$m" 2>/dev/null || fusermount3 -uz "$m" 2>/dev/null || umount -l "$m"
			log "unmounted $m"
		fi
	done
	if [ -f "$S/sshd.pid" ]; then
		pid="$(cat "$S/sshd.pid")"
		if alive "$pid" sshd; then
			kids="$(cat /proc/"$pid"/task/*/children 2>/dev/null || true)"
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do
				alive "$pid" sshd || break
				sleep 0.1
			done
			alive "$pid" sshd && kill -9 "$pid" 2>/dev/null
			for k in $kids; do
				alive "$k" sshd && kill "$k" 2>/dev/null
			done
			log "stopped sshd pid $pid"
		fi
		rm -f "$S/sshd.pid"
	fi
	if awk -v d="$S/" 'index($2, d) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
		die "still mounted under $S"
	fi
	rm -rf "$S"
}

sshfs_pids() {
	local cache="${1:-coherent}" m pids=()
	for m in "$S/mnt-$cache"/c*; do
		fuse_mounted "$m" || continue
		pids+=("$(sshfs_pid "$m")") || die "no sshfs process for $m"
	done
	(
		IFS=,
		echo "${pids[*]}"
	)
}

# ---------------------------------------------------------------- gluster

G="$ROOT/gluster"
NS="$G/ns"

ns_bound() { awk -v m="$1" '$2 == m && $3 == "nsfs" { f = 1 } END { exit !f }' /proc/self/mounts; }
in_srv() { nsenter --net="$NS/net" --mount="$NS/mnt" -- "$@"; }
gcli() { in_srv gluster --mode=script "$@"; }

# srv_pids: live processes in the server's network namespace (glusterd, the brick).
srv_pids() {
	local want p
	want="net:[$(stat -L -c %i "$NS/net")]"
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$want" ] || continue
		alive "${p#/proc/}" "$(cat "$p/comm" 2>/dev/null)" && echo "${p#/proc/}"
	done
	true
}

gluster_up() {
	local n="$1" i m o
	check_root
	command -v ip >/dev/null || apt_install iproute2
	apt_install glusterfs-server glusterfs-client
	mkdir -p "$NS" "$G/lib" "$G/log" "$G/brick" "$G/mnt" /var/lib/glusterd /var/log/glusterfs
	chmod 700 "$G"
	if ! ns_bound "$NS/mnt"; then
		# The namespace files must live on a private mount to be bound.
		awk -v m="$NS" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts || {
			mount --bind "$NS" "$NS"
			mount --make-private "$NS"
		}
		touch "$NS/net" "$NS/mnt"
		unshare --net="$NS/net" --mount="$NS/mnt" --propagation private sh -c "
			mount -t tmpfs -o mode=755 nfslease-gluster-run /run && mkdir -p /run/gluster &&
			mount --bind '$G/lib' /var/lib/glusterd && mount --bind '$G/log' /var/log/glusterfs &&
			ip link set lo up && umount -l '$NS'"
		ip link add "$GVETH" type veth peer name nfslgs0
		ip link set nfslgs0 netns "$NS/net"
		ip addr add "$GNET.1/24" dev "$GVETH"
		ip link set "$GVETH" up
		in_srv ip addr add "$GNET.2/24" dev nfslgs0
		in_srv ip link set nfslgs0 up
	fi
	if [ -z "$(srv_pids)" ]; then
		in_srv glusterd -p /run/glusterd.pid
		for _ in $(seq 200); do
			gcli volume list >/dev/null 2>&1 && break
			sleep 0.05
		done
		gcli volume list >/dev/null 2>&1 || die "glusterd did not come up; logs in $G/log"
		log "glusterd up"
	fi
	if ! gcli volume info "$GVOL" >/dev/null 2>&1; then
		gcli volume create "$GVOL" "$GNET.2:$G/brick" force >/dev/null
		gcli volume set "$GVOL" network.ping-timeout 5 >/dev/null
		for o in stat-prefetch quick-read io-cache read-ahead write-behind open-behind readdir-ahead; do
			gcli volume set "$GVOL" "performance.$o" off >/dev/null
		done
	fi
	gcli volume info "$GVOL" | grep -q '^Status: Started' || gcli volume start "$GVOL" >/dev/null
	local mounts=()
	for i in $(seq "$n"); do
		m="$G/mnt/c$i"
		mkdir -p "$m"
		if fuse_mounted "$m" && ! timeout 5 stat -t "$m" >/dev/null 2>&1; then umount -l "$m"; fi
		if ! fuse_mounted "$m"; then
			glusterfs --volfile-server="$GNET.2" --volfile-id="$GVOL" \
				--attribute-timeout=0 --entry-timeout=0 --negative-timeout=0 --direct-io-mode=enable \
				--log-file="$G/log/client-c$i.log" --pid-file="$G/client-c$i.pid" "$m"
			for _ in $(seq 200); do
				fuse_mounted "$m" && stat -t "$m" >/dev/null 2>&1 && break
				sleep 0.05
			done
			fuse_mounted "$m" || die "$m: mount failed; see $G/log/client-c$i.log"
		fi
		mounts+=("$m")
	done
	smoke "${mounts[@]}"
	log "gluster: ${mounts[*]}"
	(
		IFS=,
		echo "${mounts[*]}"
	)
}

gluster_down() {
	local m f p pids t
	[ -d "$G" ] || return 0
	for m in "$G"/mnt/c*; do
		[ -d "$m" ] || continue
		if fuse_mounted "$m"; then
			# A stopped client (a chaos partition cut short) would hang the unmount.
			p="$(cat "$G/client-${m##*/}.pid" 2>/dev/null)" || p=
			if [ -n "$p" ] && alive "$p" glusterfs; then kill -CONT "$p" 2>/dev/null || true; fi
			umount "$m" 2>/dev/null || umount -l "$m"
			log "unmounted $m"
		fi
	done
	for f in "$G"/client-*.pid; do
		[ -f "$f" ] || continue
		p="$(cat "$f")"
		if [ -n "$p" ] && alive "$p" glusterfs; then kill "$p" 2>/dev/null || true; fi
		rm -f "$f"
	done
	if ns_bound "$NS/net"; then
		pids="$(srv_pids)"
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086 # a list of pids
			kill $pids 2>/dev/null || true
			for _ in $(seq 50); do
				pids="$(srv_pids)"
				[ -z "$pids" ] && break
				sleep 0.1
			done
			# shellcheck disable=SC2086
			[ -n "$pids" ] && kill -9 $pids 2>/dev/null
			log "stopped glusterd and the brick"
		fi
	fi
	for t in net mnt; do
		if ns_bound "$NS/$t"; then umount "$NS/$t"; fi
		rm -f "$NS/$t"
	done
	if awk -v m="$NS" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; then umount "$NS"; fi
	ip link del "$GVETH" 2>/dev/null || true
	if awk -v d="$G/" 'index($2, d) == 1 { f = 1 } END { exit !f }' /proc/self/mounts; then
		die "still mounted under $G"
	fi
	rm -rf "$G"
}

gluster_pids() {
	local m i p pids=()
	for m in "$G"/mnt/c*; do
		fuse_mounted "$m" || continue
		i="${m##*/}"
		p="$(cat "$G/client-$i.pid" 2>/dev/null)" || die "no pid file for $m"
		alive "$p" glusterfs || die "no glusterfs process for $m"
		pids+=("$p")
	done
	(
		IFS=,
		echo "${pids[*]}"
	)
}

# ---------------------------------------------------------------- nfs

# nfs: nfs-ganesha 4.3 (VFS FSAL, NFSv3 over TCP) and the rpcbind it needs in
# a private network and mount namespace, with a tmpfs over its /run so that
# neither port 111 nor /run of the machine is touched; a veth link
# $NNET.1 <-> $NNET.2 reaches it from the root namespace. There is no kernel
# NFS client here: clients speak NFSv3 themselves (package fsops/nfs3).
N="$ROOT/nfs"
NNS="$N/ns"
NNET=10.215.0
NVETH=nfsln0

in_nfs() { nsenter --net="$NNS/net" --mount="$NNS/mnt" -- "$@"; }

# nfs_pids: live processes in the NFS server's network namespace (ganesha,
# rpcbind): only what nfs_up started runs there.
nfs_pids() {
	local want p
	ns_bound "$NNS/net" || return 0
	want="net:[$(stat -L -c %i "$NNS/net")]"
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/net" 2>/dev/null)" = "$want" ] || continue
		alive "${p#/proc/}" "$(cat "$p/comm" 2>/dev/null)" && echo "${p#/proc/}"
	done
	true
}

ganesha_alive() { [ -f "$N/ganesha.pid" ] && alive "$(cat "$N/ganesha.pid")" ganesha.nfsd; }

nfs_up() {
	local p have reg
	[ "$(id -u)" = 0 ] || die "must run as root"
	command -v ip >/dev/null || apt_install iproute2
	apt_install nfs-ganesha nfs-ganesha-vfs rpcbind
	mkdir -p "$N/export" "$N/recov" "$NNS"
	chmod 755 "$N" "$N/export"
	if ! ns_bound "$NNS/mnt"; then
		awk -v m="$NNS" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts || {
			mount --bind "$NNS" "$NNS"
			mount --make-private "$NNS"
		}
		touch "$NNS/net" "$NNS/mnt"
		unshare --net="$NNS/net" --mount="$NNS/mnt" --propagation private sh -c "
			mount -t tmpfs -o mode=755 nfslease-nfs-run /run && mkdir -p /run/rpcbind /run/ganesha &&
			ip link set lo up && umount -l '$NNS'"
		ip link add "$NVETH" type veth peer name nfslns0
		ip link set nfslns0 netns "$NNS/net"
		ip addr add "$NNET.1/24" dev "$NVETH"
		ip link set "$NVETH" up
		in_nfs ip addr add "$NNET.2/24" dev nfslns0
		in_nfs ip link set nfslns0 up
	fi
	# No Bind_Addr: ganesha fails to resolve one of 127.0.0.1 in a
	# namespace (getaddrinfo AI_ADDRCONFIG); it listens on all of the
	# namespace's addresses. Graceless and RecoveryRoot keep NFSv4 state
	# out of /var/lib/nfs. mount_path_pseudo: MOUNT takes /export, the
	# pseudo path, rather than the directory's real path.
	cat >"$N/ganesha.conf" <<-CONF
		NFS_CORE_PARAM {
			NFS_Port = 2049;
			MNT_Port = 20048;
			Enable_NLM = false;
			Enable_RQUOTA = false;
			Enable_UDP = false;
			Protocols = 3;
			mount_path_pseudo = true;
		}
		NFSV4 {
			Graceless = true;
			RecoveryRoot = $N/recov;
		}
		EXPORT {
			Export_Id = 1;
			Path = $N/export;
			Pseudo = /export;
			Access_Type = RW;
			Squash = No_Root_Squash;
			SecType = sys;
			Protocols = 3;
			Transports = TCP;
			FSAL { Name = VFS; }
		}
		LOG { Default_Log_Level = EVENT; }
	CONF
	if ! ganesha_alive; then
		# ganesha exits if it cannot register with a portmapper.
		have=
		for p in $(nfs_pids); do alive "$p" rpcbind && have=1; done
		[ -n "$have" ] || in_nfs rpcbind -w
		: >"$N/ganesha.log"
		in_nfs ganesha.nfsd -f "$N/ganesha.conf" -L "$N/ganesha.log" -p "$N/ganesha.pid" -N NIV_EVENT
		for _ in $(seq 150); do
			grep -q "NFS SERVER INITIALIZED" "$N/ganesha.log" && break
			grep -q FATAL "$N/ganesha.log" && break
			sleep 0.1
		done
		grep -q "NFS SERVER INITIALIZED" "$N/ganesha.log" || {
			grep -E "CRIT|MAJ|FATAL" "$N/ganesha.log" >&2
			die "ganesha did not start; see $N/ganesha.log"
		}
		log "ganesha pid $(cat "$N/ganesha.pid") on $NNET.2 (nfs 2049, mount 20048)"
	fi
	# Reachable from here: the portmapper lists NFS v3 and MOUNT v3 over TCP.
	reg="$(rpcinfo -p "$NNET.2" 2>&1)" || die "rpcinfo -p $NNET.2: $reg"
	{ grep -Eq '100003 +3 +tcp' <<<"$reg" && grep -Eq '100005 +3 +tcp' <<<"$reg"; } ||
		die "NFS v3 or MOUNT v3 over TCP not registered: $reg"
	echo "export NFSLEASE_NFS=$NNET.2:/export"
}

nfs_down() {
	local g pids t
	[ -d "$N" ] || return 0
	if ganesha_alive; then
		g="$(cat "$N/ganesha.pid")"
		kill -CONT "$g" 2>/dev/null || true
		kill "$g" 2>/dev/null || true
		for _ in $(seq 100); do
			alive "$g" ganesha.nfsd || break
			sleep 0.1
		done
	fi
	pids="$(nfs_pids)" # rpcbind, and ganesha if it did not stop
	if [ -n "$pids" ]; then
		# shellcheck disable=SC2086 # a list of pids
		kill $pids 2>/dev/null || true
		for _ in $(seq 30); do
			pids="$(nfs_pids)"
			[ -z "$pids" ] && break
			sleep 0.1
		done
		# shellcheck disable=SC2086
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
	fi
	log "stopped ganesha and rpcbind"
	for t in net mnt; do
		if ns_bound "$NNS/$t"; then umount "$NNS/$t"; fi
		rm -f "$NNS/$t"
	done
	if awk -v m="$NNS" '$2 == m { f = 1 } END { exit !f }' /proc/self/mounts; then umount "$NNS"; fi
	ip link del "$NVETH" 2>/dev/null || true
	rm -rf "$N"
}

# ---------------------------------------------------------------- common

# smoke MOUNT...: a file written through the first mount reads back through the last.
smoke() {
	local f=".sharedfs-smoke.$$" last="${*: -1}"
	echo ok >"$1/$f"
	[ "$(cat "$last/$f")" = ok ] || die "smoke test: wrote through $1, did not read it back through $last"
	rm -f "$1/$f"
}

usage() {
	sed -n '2,11p' "$0" >&2
	exit 2
}

cmd="${1:-}"
fs="${2:-}"
case "$cmd $fs" in
"up sshfs")
	[[ "${3:-}" =~ ^[1-9][0-9]*$ ]] || usage
	sshfs_up "$3" "${4:-coherent}"
	;;
"up gluster")
	[[ "${3:-}" =~ ^[1-9][0-9]*$ ]] || usage
	gluster_up "$3"
	;;
"down sshfs") sshfs_down ;;
"down gluster") gluster_down ;;
"up nfs") nfs_up ;;
"down nfs") nfs_down ;;
"down all")
	rc=0
	sshfs_down || rc=1
	gluster_down || rc=1
	nfs_down || rc=1
	rmdir "$ROOT" 2>/dev/null || true
	exit $rc
	;;
"pids sshfs") sshfs_pids "${3:-coherent}" ;;
"pids gluster") gluster_pids ;;
*) usage ;;
esac
