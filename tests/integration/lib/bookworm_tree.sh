#!/usr/bin/env bash
# bookworm_tree.sh BUILD_DIR: a Debian 12 (bookworm) tree to install salve's package into,
# made once and cached as BUILD_DIR/bookworm-tree/root.
#
# The tree is `debootstrap --variant=minbase bookworm` with systemd added: dpkg then
# enables the package's unit as on a real host (deb-systemd-helper), and the tree's own
# systemd-analyze verifies the unit where the package put it. Tests never change the
# cached tree: they work in an overlay or a copy of it, so every run starts clean
# (tests/integration/test_install.sh).
#
# Idempotent: BUILD_DIR/bookworm-tree/done marks a finished tree, which is reused; a tree
# without it (an interrupted run) is removed and made again. Concurrent runs take turns
# on BUILD_DIR/bookworm-tree/lock. debootstrap runs in a private mount namespace, so the
# /proc it mounts inside the tree never appears on the host, even if it is killed.
#
# Exit 0 with the tree ready; exit 77 with one line saying why it cannot be made here
# (not root, no debootstrap, no network, debootstrap failing); 1 on misuse.
# DEBIAN_MIRROR overrides the mirror (default http://deb.debian.org/debian).
set -u
[ $# -eq 1 ] || { echo "usage: $0 BUILD_DIR" >&2; exit 1; }
mkdir -p "$1" || exit 1
DIR=$(realpath "$1")/bookworm-tree
ROOT=$DIR/root
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

cannot() { echo "bookworm_tree: cannot make the bookworm tree: $*"; exit 77; }

[ "$(id -u)" = 0 ] || cannot "needs root (debootstrap)"
command -v debootstrap >/dev/null || cannot "no debootstrap (make deps installs it)"
mkdir -p "$DIR" || exit 1
exec 9> "$DIR/lock"
flock 9 || exit 1

if [ -e "$DIR/done" ] && [ -x "$ROOT/usr/bin/apt-get" ] && [ -x "$ROOT/usr/bin/systemd-analyze" ]; then
	exit 0
fi

rm -f "$DIR/done"
if [ -e "$ROOT" ]; then
	# A half-made tree: nothing of it is mounted (debootstrap ran in its own namespace),
	# and --one-file-system keeps rm inside it if something were.
	rm -rf --one-file-system "$ROOT" || cannot "could not remove the unfinished $ROOT"
fi
start=$(date +%s)
if ! unshare -m --propagation private \
	debootstrap --variant=minbase --include=systemd bookworm "$ROOT" "$MIRROR" \
	> "$DIR/debootstrap.log" 2>&1; then
	why=$(grep -E '^E: ' "$DIR/debootstrap.log" | tail -n1)
	[ -n "$why" ] || why=$(tail -n1 "$DIR/debootstrap.log")
	cannot "debootstrap bookworm from $MIRROR failed: ${why:-no output} (log: $DIR/debootstrap.log)"
fi
[ -x "$ROOT/usr/bin/apt-get" ] || cannot "the tree has no apt-get (log: $DIR/debootstrap.log)"
[ -x "$ROOT/usr/bin/systemd-analyze" ] || cannot "the tree has no systemd-analyze (log: $DIR/debootstrap.log)"
# apt inside the tree resolves the package's dependencies from the same mirror; the
# packages debootstrap installed from need not stay in its cache.
echo "deb $MIRROR bookworm main" > "$ROOT/etc/apt/sources.list"
rm -f "$ROOT"/var/cache/apt/archives/*.deb
sed -n 's/^VERSION_ID=//p' "$ROOT/etc/os-release" | tr -d '"' > "$DIR/done"
echo "bookworm_tree: $ROOT (Debian $(cat "$DIR/done")) made in $(( $(date +%s) - start ))s"
