#!/usr/bin/env bash
# Repairs made inside the running process by its own threads. A fix library: the first
# caught fault of parse() fires a redirect of parse() to the parse() of libfix.so, which
# salved loads into the service with the service's own dlopen: the next bad request is
# refused by the library's parse (-ENOTSUP), good ones served; rolled back, the library
# is unloaded and the fault is back. A wrong build id is refused, nothing loaded. An
# override with "when": a trampoline page mapped into the service, gone on rollback. A
# service without a guard that crashed: its next instance gets the library at its entry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/service.sh"
need_bpf

LIB=$TARGETS/libfix.so
BUILD_ID=$(readelf -n "$LIB" | awk '/Build ID/ {print $3}')
[ -n "$BUILD_ID" ] || fail "$LIB has no build id"

policy() { # policy FILE ACTION: the rule that fires on the first caught fault
	write_policy "$1" '{"salve": 1, "name": "repair",
 "scope": {"binaries": ["'"$SVC"'"]},
 "probes": [{"id": "faults", "kind": "signal"}],
 "rules": [{"id": "guarded-faults", "by": "process",
            "when": {"probe": "faults", "count": 1, "within": "1m"},
            "verify": "30s", "budget": 10, "cooldown": "1s", "actions": ['"$2"']}]}'
}
redirect() { echo '{"do": "redirect", "binary": "'"$SVC"'", "symbol": "parse", "to": "parse",
 "library": "'"$LIB"'", "build_id": "'"$1"'"}'; }
maps_has() { grep -q "$1" "/proc/$pid/maps"; }

policy "$WORK/p.json" "$(redirect 00ff00ff)"
start_salved "$WORK/p.json" --no-register-writes # the hot patch, on any kernel
service_start

# A build id that is not the library's: refused, named, nothing loaded.
ask "a=12" "ok 2"
ask "bad" "fault"
ref=$(wait_event ".kind == \"repair\" and .state == \"refused\" and .pid == $pid") ||
	fail "no refusal: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
jq -e --arg w "build id is $BUILD_ID, not the policy's 00ff00ff" '.reason | contains($w)' \
	<<<"$ref" >/dev/null ||
	fail "refusal does not name both build ids: $ref"
maps_has "$LIB" && fail "$LIB was loaded for a wrong build id"

# The right one: loaded, and parse() runs the library's.
policy "$WORK/p.json" "$(redirect "$BUILD_ID")"
"$BUILD/salvectl" reload --socket "$SOCKET" >/dev/null || fail "reload failed"
sleep 1.1 # the cooldown
ask "bad" "fault"
rep=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $pid") ||
	fail "no repair applied: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
expect "$rep" .do redirect
expect "$rep" .library "$LIB"
expect "$rep" .to_binary "$LIB"
expect "$rep" .library_build_id "$BUILD_ID"
[ "$(jq -r '.library_handle // "0"' <<<"$rep")" != 0 ] || fail "no library handle: $rep"
maps_has "$LIB" || fail "$LIB is not mapped in the service"
id=$(jq .id <<<"$rep")
ask "bad" "error -95"
ask "b=1" "ok 1"
"$BUILD/salvectl" repairs -j --socket "$SOCKET" |
	jq -e ".repairs[] | select(.id == $id and .library == \"$LIB\")" >/dev/null ||
	fail "salvectl repairs does not list the library: $("$BUILD/salvectl" repairs -j --socket "$SOCKET")"

# Rolled back: the file's bytes back, the library unloaded, the fault back.
"$BUILD/salvectl" rollback "$id" --socket "$SOCKET" >/dev/null || fail "salvectl rollback $id failed"
wait_event ".kind == \"repair\" and .state == \"rolled_back\" and .id == $id" >/dev/null ||
	fail "no rolled_back line for $id"
mem "$(jq -r .original <<<"$rep")" "$(jq -r .address <<<"$rep")"
maps_has "$LIB" && fail "$LIB is still mapped after the rollback"
ask "c=123" "ok 3"

# An override of the calls whose first argument is not NULL (all of them): through a
# trampoline page, which the rollback unmaps.
policy "$WORK/p.json" '{"do": "override", "binary": "'"$SVC"'", "symbol": "parse", "return": -7,
 "when": "arg0 != 0"}'
"$BUILD/salvectl" reload --socket "$SOCKET" >/dev/null || fail "reload failed"
sleep 1.1
ask "bad" "fault"
rep=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .do == \"override\"") ||
	fail "no override applied: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
expect "$rep" .when.op "!="
page=$(jq -r .page <<<"$rep")
maps_has "^${page#0x}-" || fail "no trampoline page at $page: $(cat "/proc/$pid/maps")"
mem "$(jq -r .trampoline <<<"$rep")" "$page"
ask "bad" "error -7"
ask "d=1" "error -7"
id=$(jq .id <<<"$rep")
"$BUILD/salvectl" rollback "$id" --socket "$SOCKET" >/dev/null || fail "salvectl rollback $id failed"
wait_event ".kind == \"repair\" and .state == \"rolled_back\" and .id == $id" >/dev/null ||
	fail "no rolled_back line for $id"
maps_has "^${page#0x}-" && fail "the trampoline page at $page is still mapped"
ask "e=12" "ok 2"

# Repairs outlive the process, a fix library's too: a service without a crash guard dies
# of a bad request; the next instance is stopped at its entry point, gets the library
# loaded and parse() redirected to it before it serves, and survives.
policy "$WORK/p.json" "$(redirect "$BUILD_ID")"
"$BUILD/salvectl" reload --socket "$SOCKET" >/dev/null || fail "reload failed"
sleep 1.1
printf 'bad\n' | ( ulimit -c 0; cd "$WORK" && exec "$SVC" unguarded ) > "$WORK/first" 2>&1
st=$(wait_event '.kind == "repair" and .state == "standing"') ||
	fail "no standing repair: $(jq -c 'select(.kind == "action" or .kind == "repair")' "$EVENTS")"
expect "$st" .library "$LIB"
printf 'bad\nf=1\n' | ( cd "$WORK" && exec "$SVC" unguarded ) > "$WORK/second" 2>&1 ||
	fail "the repaired instance died: $(cat "$WORK/second")"
[ "$(sed -n 2,3p "$WORK/second" | tr '\n' ' ')" = "error -95 ok 1 " ] ||
	fail "the second instance answered: $(cat "$WORK/second")"
pid2=$(field "$WORK/second" pid)
ap=$(wait_event ".kind == \"repair\" and .state == \"applied\" and .pid == $pid2") ||
	fail "no applied line for the second instance $pid2"
expect "$ap" .library "$LIB"
pass "a fix library loaded into a running service and unloaded on rollback, a wrong build id refused, an override with \"when\" through a trampoline page, a fix library standing for the next instance"
