#!/usr/bin/env bash
# C++ throws: std::runtime_error and a type in a nested namespace, both named exactly;
# a probe filtered on one type does not report the other.
. "$(dirname "$0")/lib.sh"
need_bpf

write_policy "$WORK/p.json" '{"salve": 1, "name": "throws",
 "scope": {"binaries": ["'"$TARGETS/throw"'"]},
 "probes": [{"id": "throws", "kind": "exception"},
            {"id": "parse-errors", "kind": "exception", "types": ["app::detail::ParseError"]}]}'
start_salved "$WORK/p.json"

"$TARGETS/throw" 3 > "$WORK/out"
pid=$(field "$WORK/out" pid)
for _ in $(seq 100); do [ "$(count_events ".pid == $pid")" -ge 9 ] && break; sleep 0.05; done
drain
all=$(jq -r "select(.pid == $pid and .probe == \"throws\") | .type" "$EVENTS" | sort | uniq -c | tr -s ' ')
[ "$all" = " 3 app::detail::ParseError
 3 std::runtime_error" ] || fail "unfiltered probe saw: $all"
filtered=$(jq -r "select(.pid == $pid and .probe == \"parse-errors\") | .type" "$EVENTS" | sort | uniq -c | tr -s ' ')
[ "$filtered" = " 3 app::detail::ParseError" ] || fail "filtered probe saw: $filtered"
ev=$(wait_event ".pid == $pid and .probe == \"throws\"")
expect "$ev" .kind exception
expect "$ev" .exe "$TARGETS/throw"
expect "$ev" .site.symbol __cxa_throw
jq -e '.stack | map(.symbol) | index("__cxa_throw") != null' <<<"$ev" >/dev/null ||
	fail "__cxa_throw is not on the stack: $ev"
pass "thrown types named exactly; the type filter drops the other"
