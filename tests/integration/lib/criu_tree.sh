#!/usr/bin/env bash
# criu_tree.sh BUILD_DIR: Debian sid's criu (4.2+, the first with --allow-uprobes and a
# vDSO parser that knows kernels 6.13+), for a host whose own criu is older or absent.
#
# Makes BUILD_DIR/criu-sid/root, a `debootstrap --variant=minbase sid` tree with the criu
# package, and BUILD_DIR/criu-sid/criu, a wrapper that runs that tree's criu on this host:
# `BUILD_DIR/criu-sid/criu dump -t PID -D DIR ...` takes the same arguments as any criu
# binary, and every path in them means what it means on the host.
#
# Why the tree's own loader and not a chroot: criu records each file the target maps or
# holds open (its binary, libc, cwd, regular files) by path, checks it on dump by device
# and inode, and reopens it by path on restore. In a chroot /usr/lib/.../libc.so.6 would
# be sid's libc, not the one the target maps, so dump would refuse and restore would map
# the wrong file; binding every such path into the chroot means binding the whole host.
# Run with the tree's ld.so and --library-path, criu stays in the host's mount namespace
# (its /proc, /sys, /dev, /tmp, the images directory and salved's state directory are the
# host's own) and only criu's code and its libraries come from the tree. criu's restorer
# is built into the binary, and with `--network-lock nftables` it locks the network
# through libnftables (from the tree), so it execs no helper from the host.
#
# Idempotent: BUILD_DIR/criu-sid/done marks a finished tree, which is reused; a tree
# without it (an interrupted run) is removed and made again. Concurrent runs take turns
# on BUILD_DIR/criu-sid/lock. debootstrap runs in a private mount namespace, so the
# /proc it mounts inside the tree never appears on the host, even if it is killed.
#
# Exit 0 with the wrapper ready; exit 77 with one line saying why the tree cannot be
# made here (not root, no debootstrap, no network, debootstrap failing); 1 on misuse.
# DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 1; }
mkdir -p "$1" || exit 1
DIR=$(realpath "$1")/criu-sid
ROOT=$DIR/root
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

cannot() { echo "criu_tree: cannot make the sid tree: $*"; exit 77; }

# The wrapper, written from the tree: the loader is criu's own PT_INTERP resolved inside
# the tree (its symlinks there are relative), the libraries are beside it.
write_wrapper() {
	local interp ld libdir
	interp=$(readelf -l "$ROOT/usr/sbin/criu" 2>/dev/null |
		sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
	[ -n "$interp" ] || return 1
	ld=$(cd "$ROOT" && realpath --relative-base=. -e ".$interp" 2>/dev/null) || return 1
	case $ld in /*) return 1 ;; esac # a link out of the tree
	libdir=$(dirname "$ld")
	cat > "$DIR/criu.tmp" <<-EOF
	#!/bin/sh
	# Debian sid's criu, run with its own loader and libraries from $ROOT
	# (made by tests/integration/lib/criu_tree.sh, which says why not a chroot).
	root=\$(dirname "\$(readlink -f "\$0")")/root
	exec "\$root/$ld" --library-path "\$root/$libdir:\$root/usr/lib" --argv0 criu \\
		"\$root/usr/sbin/criu" "\$@"
	EOF
	chmod 755 "$DIR/criu.tmp" && mv "$DIR/criu.tmp" "$DIR/criu"
}

[ "$(id -u)" = 0 ] || cannot "needs root (debootstrap)"
command -v debootstrap >/dev/null || cannot "no debootstrap (make deps installs it)"
mkdir -p "$DIR" || exit 1
exec 9> "$DIR/lock"
flock 9 || exit 1

if [ -e "$DIR/done" ] && [ -x "$DIR/criu" ] && "$DIR/criu" --version >/dev/null 2>&1; then
	exit 0
fi

rm -f "$DIR/done" "$DIR/criu"
if [ -e "$ROOT" ]; then
	# A half-made tree: nothing of it is mounted (debootstrap ran in its own namespace),
	# and --one-file-system keeps rm inside it if something were.
	rm -rf --one-file-system "$ROOT" || cannot "could not remove the unfinished $ROOT"
fi
start=$(date +%s)
if ! unshare -m --propagation private \
	debootstrap --variant=minbase --include=criu sid "$ROOT" "$MIRROR" \
	> "$DIR/debootstrap.log" 2>&1; then
	why=$(grep -E '^E: ' "$DIR/debootstrap.log" | tail -n1)
	[ -n "$why" ] || why=$(tail -n1 "$DIR/debootstrap.log")
	cannot "debootstrap sid from $MIRROR failed: ${why:-no output} (log: $DIR/debootstrap.log)"
fi
[ -x "$ROOT/usr/sbin/criu" ] || cannot "the sid tree has no /usr/sbin/criu (log: $DIR/debootstrap.log)"
write_wrapper || cannot "cannot find criu's loader inside $ROOT"
version=$("$DIR/criu" --version 2>&1) || cannot "the tree's criu does not run: $version"
echo "$version" | sed -n 's/^Version: //p' > "$DIR/done"
echo "criu_tree: $DIR/criu ($(head -n1 "$DIR/done")) made in $(( $(date +%s) - start ))s"
