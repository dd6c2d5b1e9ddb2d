#!/usr/bin/env bash
# make install, make uninstall and make deb, as an operator meets them:
# - README's Install section lists exactly what `make install-manifest` prints, and
#   `make install DESTDIR=... PREFIX=/usr` installs exactly those files;
# - a policy the operator changed survives a second install and the uninstall, which
#   removes everything else (and a policy left as shipped);
# - the man pages render without a warning and name every option of `salved --help`,
#   every verb of `salvectl help` and every field of the policy schema;
# - salvectl's bash completion offers the verbs `salvectl help` lists, new ones too;
# - `systemd-analyze verify` passes on the unit as installed (ExecStart at the installed
#   salved);
# - `make deb` builds a package lintian finds no error in, which installs into a
#   debootstrapped Debian 12 with dpkg -i and apt-get -f install, enables its unit, and
#   whose salved prints its usage there.
# Needs root (debootstrap, chroot) and network for the Debian tree; no BPF.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap and chroot for the Debian 12 tree)"
for t in systemd-analyze man groff dpkg-buildpackage dh lintian debootstrap unshare; do
	command -v "$t" >/dev/null || fail "no $t: run 'sudo make deps'"
done
[ -r /usr/share/bash-completion/bash_completion ] || fail "no bash-completion: run 'sudo make deps'"
[ -x "$BUILD/salved" ] && [ -x "$BUILD/salvectl" ] || fail "no $BUILD/salved or salvectl: run make"

# m ARGS...: make in the tree, quiet, on the build the suite runs.
m() { make -s --no-print-directory -C "$ROOT" BUILD="$BUILD" "$@"; }
# files DIR: every file under DIR, as the path it has once installed.
files() { (cd "$1" && find . -type f -o -type l) | sed 's|^\.||' | sort; }

echo "check: README's Install list is make install-manifest's"
readme=$(awk '/^<!-- install-manifest/ { on = 1; next } on && /^```/ { if (++fence == 2) exit; next } on && fence == 1' "$ROOT/README.md")
manifest=$(m install-manifest PREFIX=/usr/local SYSCONFDIR=/etc) || fail "make install-manifest failed"
[ -n "$manifest" ] || fail "make install-manifest printed nothing"
[ "$readme" = "$manifest" ] ||
	fail "README.md's Install list and make install-manifest differ:$(diff <(echo "$readme") <(echo "$manifest"))"

echo "check: make install DESTDIR PREFIX=/usr installs exactly the manifest"
DEST=$WORK/dest
m install DESTDIR="$DEST" PREFIX=/usr > "$WORK/install.out" || fail "make install failed: $(cat "$WORK/install.out")"
want=$(m install-manifest PREFIX=/usr | sort)
got=$(files "$DEST")
[ "$got" = "$want" ] || fail "installed files differ from the manifest:$(diff <(echo "$want") <(echo "$got"))"
for f in /usr/sbin/salved /usr/bin/salvectl; do
	[ "$(stat -c %a "$DEST$f")" = 755 ] || fail "$f: mode $(stat -c %a "$DEST$f"), expected 755"
done
for f in $(grep -v -e /usr/sbin/salved -e /usr/bin/salvectl <<<"$want"); do
	[ "$(stat -c %a "$DEST$f")" = 644 ] || fail "$f: mode $(stat -c %a "$DEST$f"), expected 644"
done
UNIT=$(grep '/salved\.service$' <<<"$want")
grep -qx 'ExecStart=/usr/sbin/salved .*' "$DEST$UNIT" || fail "$UNIT: ExecStart is not /usr/sbin/salved: $(grep ExecStart "$DEST$UNIT")"

echo "check: a second install keeps a changed policy, and says so"
POLICY=/etc/salve/policies.d/host.json
POLICY2=/etc/salve/policies.d/services.json
printf '{"salve": 1, "name": "mine", "probes": [{"id": "c", "kind": "signal"}]}\n' > "$DEST$POLICY"
cp "$DEST$POLICY" "$WORK/mine.json"
m install DESTDIR="$DEST" PREFIX=/usr > "$WORK/install2.out" || fail "second make install failed"
cmp -s "$DEST$POLICY" "$WORK/mine.json" || fail "the second install replaced the changed $POLICY"
grep -q "KEEP.*$POLICY" "$WORK/install2.out" || fail "the second install did not say it kept $POLICY: $(cat "$WORK/install2.out")"

echo "check: uninstall removes every file but the changed policy, and says so"
m uninstall DESTDIR="$DEST" PREFIX=/usr > "$WORK/uninstall.out" || fail "make uninstall failed"
[ "$(files "$DEST")" = "$POLICY" ] || fail "after uninstall, left: $(files "$DEST" | tr '\n' ' ')"
cmp -s "$DEST$POLICY" "$WORK/mine.json" || fail "uninstall changed the operator's $POLICY"
grep -q "KEEP.*$POLICY" "$WORK/uninstall.out" || fail "uninstall did not say it kept $POLICY"
for d in /usr/share/doc/salve /usr/share/salve; do
	[ ! -e "$DEST$d" ] || fail "uninstall left $d"
done

echo "check: install then uninstall, policy as shipped: nothing of salve left"
m install DESTDIR="$WORK/dest2" PREFIX=/usr > /dev/null || fail "make install (2) failed"
m uninstall DESTDIR="$WORK/dest2" PREFIX=/usr > /dev/null || fail "make uninstall (2) failed"
[ -z "$(files "$WORK/dest2")" ] || fail "after uninstall, left: $(files "$WORK/dest2" | tr '\n' ' ')"
[ ! -e "$WORK/dest2/etc/salve" ] || fail "uninstall left /etc/salve"

echo "check: the man pages render without warnings and cover salved, salvectl and the schema"
for page in man/salved.8 man/salvectl.8 man/salve-policy.5; do
	w=$(MANWIDTH=80 man -l --warnings -E UTF-8 "$ROOT/$page" 2>&1 >/dev/null)
	[ -z "$w" ] || fail "man -l $page warns: $w"
	w=$(groff -man -ww -z "$ROOT/$page" 2>&1)
	[ -z "$w" ] || fail "groff -man -ww $page warns: $w"
done
# Rendered text, with hyphenation and adjustment off, so a name is never split.
render() { sed '1a .nh\n.ad l' "$ROOT/$1" | MANWIDTH=200 man -l -E UTF-8 - 2>/dev/null | sed 's/‐/-/g'; }
page=$(render man/salved.8)
for opt in $("$BUILD/salved" --help | awk '/^ +-/ { print $1; if ($2 ~ /^--/) print $2 }' | tr -d ,); do
	grep -q -- "$opt" <<<"$page" || fail "salved(8) does not name $opt of salved --help"
done
page=$(render man/salvectl.8)
for verb in $("$BUILD/salvectl" help | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p'); do
	grep -qE -- "^ {7}$verb( |$)" <<<"$page" || fail "salvectl(8) has no entry for the verb $verb of salvectl help"
done
page=$(render man/salve-policy.5)
for field in $(jq -r '[.. | objects | .properties? // empty | keys[]] | unique[]' "$ROOT/policies/salve-policy.schema.json"); do
	grep -qw -- "$field" <<<"$page" || fail "salve-policy(5) does not name the field $field of the schema"
done

echo "check: bash completion offers salvectl help's verbs (a new one too) and options"
mkdir -p "$WORK/bin"
{ echo '#!/bin/sh'
  echo "\"$BUILD/salvectl\" \"\$@\" || exit"
  echo '[ "$1" = help ] && echo "  zap        [--json] [--zap-hard]: a verb this file never heard of"'; } > "$WORK/bin/salvectl"
chmod +x "$WORK/bin/salvectl"
complete_out=$(cd "$WORK" && bash -c '
	. /usr/share/bash-completion/bash_completion
	. "$1/completion/salvectl.bash"
	c() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE="$*"
	      COMP_POINT=${#COMP_LINE}; COMPREPLY=(); _salvectl; echo "$*|${COMPREPLY[*]}"; }
	c bin/salvectl ""
	c bin/salvectl re
	c bin/salvectl reload --
	c bin/salvectl zap --
	c bin/salvectl checkpoint '"$$"'
	' _ "$ROOT")
line() { grep -F "$1|" <<<"$complete_out" | head -n1 | cut -d'|' -f2; }
for verb in $("$BUILD/salvectl" help | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p') zap; do
	grep -qw -- "$verb" <<<"$(line 'bin/salvectl ')" || fail "completion of 'salvectl ' lacks $verb: $(line 'bin/salvectl ')"
done
# The verbs starting with "re", and reload's options, as salvectl help has them now.
want_re=$("$BUILD/salvectl" help | sed -n 's/^  \(re[a-z-]*\).*/\1/p' | sort | xargs)
[ "$(line 'bin/salvectl re' | tr ' ' '\n' | sort | xargs)" = "$want_re" ] ||
	fail "completion of 'salvectl re': '$(line 'bin/salvectl re')', expected '$want_re'"
for opt in --check --json --socket; do
	grep -qw -- "$opt" <<<"$(line 'bin/salvectl reload --')" ||
		fail "completion of 'salvectl reload --' lacks $opt: $(line 'bin/salvectl reload --')"
done
[ "$(line 'bin/salvectl zap --')" = "--json --zap-hard" ] || fail "completion of 'salvectl zap --': $(line 'bin/salvectl zap --')"
grep -qw "$$" <<<"$(line "bin/salvectl checkpoint $$")" || fail "completion of 'salvectl checkpoint $$' lacks the pid"

echo "check: systemd-analyze verify passes on the unit as installed"
# Installed for real under a scratch prefix, so ExecStart names a salved that exists
# on this host; the unit's man: documentation is looked up where it was installed.
m install PREFIX="$WORK/prefix" SYSCONFDIR="$WORK/prefix/etc" > /dev/null || fail "make install PREFIX=$WORK/prefix failed"
unit=$WORK/prefix/lib/systemd/system/salved.service
grep -qx "ExecStart=$WORK/prefix/sbin/salved .*" "$unit" || fail "ExecStart not set for the prefix: $(grep ExecStart "$unit")"
out=$(MANPATH=$WORK/prefix/share/man systemd-analyze verify "$unit" 2>&1) || fail "systemd-analyze verify $unit: $out"
[ -z "$out" ] || fail "systemd-analyze verify $unit says: $out"

echo "check: make deb builds a package lintian finds no error in"
m deb > "$WORK/deb.out" 2>&1 || fail "make deb failed: $(tail -n 30 "$WORK/deb.out")"
DEB=$(ls "$BUILD"/deb/salve_*_amd64.deb 2>/dev/null | head -n1)
[ -n "$DEB" ] || fail "make deb made no package in $BUILD/deb"
lintian --no-tag-display-limit "$DEB" > "$WORK/lintian.out" 2>&1
grep -q '^E: ' "$WORK/lintian.out" && fail "lintian errors: $(grep '^E: ' "$WORK/lintian.out")"
echo "  lintian: $(grep -c '^W: ' "$WORK/lintian.out") warnings, no errors ($DEB)"
want=$(m install-manifest PREFIX=/usr | sed -e 's|^\(/usr/share/man/.*\)$|\1.gz|' | sort)
got=$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print substr($6, 2)}' | grep -v -e '^/usr/share/doc/salve/changelog' -e '^/usr/share/doc/salve/copyright$' | sort)
[ "$got" = "$want" ] || fail "the package's files differ from the manifest:$(diff <(echo "$want") <(echo "$got"))"
conffiles=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles | sort)
[ "$conffiles" = "$(printf '%s\n' "$POLICY" "$POLICY2" | sort)" ] ||
	fail "the package's conffiles are '$conffiles', expected $POLICY and $POLICY2"

echo "check: the package installs into a debootstrapped Debian 12, and its salved runs there"
out=$(bash "$ROOT/tests/integration/lib/bookworm_tree.sh" "$BUILD"); rc=$?
[ -n "$out" ] && echo "  $out"
[ $rc -eq 77 ] && skip "${out#bookworm_tree: }"
[ $rc -eq 0 ] || fail "bookworm_tree.sh failed ($rc)"
TREE=$(realpath "$BUILD")/bookworm-tree/root
cp "$DEB" "$WORK/salve.deb"
# A private mount namespace: an overlay of the cached tree (which stays clean) with this
# run's changes in $WORK, and its /proc, vanish with it.
unshare -m --propagation private bash -s "$TREE" "$WORK" > "$WORK/chroot.out" 2>&1 <<-'EOF'
	set -u
	tree=$1 work=$2 t=$work/tree
	die() { echo "FAILED: $*"; exit 1; }
	mkdir -p "$work/upper" "$work/ovl" "$t"
	if ! mount -t overlay overlay -o "lowerdir=$tree,upperdir=$work/upper,workdir=$work/ovl" "$t" 2>/dev/null; then
		echo "(no overlayfs here: copying the tree)"
		cp -a "$tree/." "$t/" || die "could not copy $tree"
	fi
	mount -t proc proc "$t/proc" || die "could not mount /proc in the tree"
	cp "$work/salve.deb" "$t/tmp/salve.deb"
	cp /etc/resolv.conf "$t/etc/resolv.conf" 2>/dev/null
	inside() { chroot "$t" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
	echo "dpkg -i:"
	inside dpkg -i /tmp/salve.deb
	echo "apt-get -f install:"
	# The packages apt fetched last time are kept beside the tree, so a run needs the
	# network only when the dependencies change.
	cache=$(dirname "$tree")/apt-archives
	mkdir -p "$cache" && cp "$cache"/*.deb "$t/var/cache/apt/archives/" 2>/dev/null
	if ! inside apt-get -f install -y -q; then
		inside apt-get update -q && inside apt-get -f install -y -q || die "apt-get -f install"
	fi
	for f in "$t"/var/cache/apt/archives/*.deb; do
		[ -e "$tree/var/cache/apt/archives/${f##*/}" ] || cp -u "$f" "$cache/"
	done
	status=$(inside dpkg-query -W -f='${Status} ${Version}' salve) || die "dpkg-query"
	echo "STATUS=$status"
	echo "HELP:"
	inside salved --help; echo "HELP_RC=$?"
	echo "VERIFY:"
	inside systemd-analyze verify --man=no salved.service; echo "VERIFY_RC=$?"
	[ -L "$t/etc/systemd/system/multi-user.target.wants/salved.service" ] && echo "ENABLED=yes"
	echo "POLICY: $(inside salvectl validate /etc/salve/policies.d)"
	exit 0
EOF
rc=$?
[ $rc -eq 0 ] || fail "installing the package in the Debian 12 tree failed: $(cat "$WORK/chroot.out")"
grep -E '^(dpkg -i:|apt-get -f|Setting up |STATUS=|Usage: |HELP_RC=|VERIFY_RC=|ENABLED=|POLICY:)' \
	"$WORK/chroot.out" | sed 's/^/    /'
grep -qx "STATUS=install ok installed $(dpkg-deb -f "$DEB" Version)" "$WORK/chroot.out" ||
	fail "the package is not installed in the tree: $(grep STATUS= "$WORK/chroot.out")"
grep -qx 'HELP_RC=0' "$WORK/chroot.out" || fail "salved --help in the tree did not exit 0"
grep -q '^Usage: salved ' "$WORK/chroot.out" || fail "salved --help in the tree printed no usage"
grep -qx 'VERIFY_RC=0' "$WORK/chroot.out" ||
	fail "systemd-analyze verify in the tree failed: $(sed -n '/^VERIFY:$/,/^VERIFY_RC=/p' "$WORK/chroot.out")"
[ -z "$(sed -n '/^VERIFY:$/,/^VERIFY_RC=/p' "$WORK/chroot.out" | sed '1d;$d')" ] ||
	fail "systemd-analyze verify in the tree says: $(sed -n '/^VERIFY:$/,/^VERIFY_RC=/p' "$WORK/chroot.out")"
grep -qx 'ENABLED=yes' "$WORK/chroot.out" || fail "the package did not enable salved.service (no multi-user.target.wants link)"
grep -q "^POLICY: .*ok" "$WORK/chroot.out" || fail "the installed policy does not validate in the tree"

pass "make install/uninstall install exactly the manifest and keep an operator's policy; man pages, completion and unit check out; the .deb is lintian-clean and its salved runs in Debian 12"
