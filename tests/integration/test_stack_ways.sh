#!/usr/bin/env bash
# The two ways a probe takes a stack, on code built as distributions build it (-O2, no
# frame pointers): a return probe on a qsort comparator, whose caller is libc. "cfi": a
# snapshot unwound with the binaries' CFI reaches main through libc, every frame in a
# module and found by CFI; "fp": the cheap frame-pointer walk, each frame saying so;
# "stack_bytes": a smaller copy of the stack still unwinds what lies in it.
. "$(dirname "$0")/lib.sh"
need_bpf

t=$TARGETS/qsort_crash
probe() { # ID, then the probe's stack fields
	echo '{"id": "'"$1"'", "kind": "return", "binary": "'"$t"'", "symbol": "by_weight",
	       "when": "> -1000000", '"$2"'}'
}
write_policy "$WORK/p.json" '{"salve": 1, "name": "stack-ways",
 "scope": {"binaries": ["'"$t"'"]},
 "probes": ['"$(probe cfi '"stack": "cfi"'), $(probe fp '"stack": "fp"'), $(probe small '"stack": "cfi", "stack_bytes": 1024')"']}'
start_salved "$WORK/p.json"

( ulimit -c 0; cd "$WORK" && exec "$t" ) > "$WORK/out" 2>&1
pid=$(field "$WORK/out" pid)
[ -n "$pid" ] || fail "qsort_crash printed no pid: $(cat "$WORK/out")"

cfi=$(wait_event ".probe == \"cfi\" and .pid == $pid") || fail "no event of the cfi probe"
jq -e '.stack | length > 0 and all(.[]; .module != null and .how == "cfi")' <<<"$cfi" >/dev/null ||
	fail "cfi: a frame without a module or not found by CFI: $cfi"
for f in sort_items main; do
	jq -e --arg f "$f" '.stack | map(.symbol) | index($f) != null' <<<"$cfi" >/dev/null ||
		fail "cfi: $f is not on the stack: $cfi"
done
jq -e '.stack[0].module | test("/libc\\.so\\.6$")' <<<"$cfi" >/dev/null ||
	fail "cfi: the innermost frame is not the comparator's caller in libc: $cfi"

fp=$(wait_event ".probe == \"fp\" and .pid == $pid") || fail "no event of the fp probe"
jq -e '.stack | length > 0 and all(.[]; .how == "fp")' <<<"$fp" >/dev/null ||
	fail "fp: a frame not found by the frame-pointer walk: $fp"
expect "$fp" '.stack[0].ip' "$(jq -r '.stack[0].ip' <<<"$cfi")"

small=$(wait_event ".probe == \"small\" and .pid == $pid") || fail "no event of the small probe"
jq -e '.stack | length > 0 and all(.[]; .how == "cfi")' <<<"$small" >/dev/null ||
	fail "small: no stack unwound from a 1 KiB copy: $small"
[ "$(jq '.stack | length' <<<"$small")" -le "$(jq '.stack | length' <<<"$cfi")" ] ||
	fail "small: a 1 KiB copy unwound more frames than 16 KiB: $small"
pass "cfi reaches main through libc ($(jq '.stack | length' <<<"$cfi") frames), fp walks $(jq '.stack | length' <<<"$fp"), 1 KiB unwinds $(jq '.stack | length' <<<"$small")"
